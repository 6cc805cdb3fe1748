"""Gaussian Thompson sampling over batch sizes, with the arithmetic of Zeus's `GaussianTS`."""

from __future__ import annotations

import numpy as np


def reward_precision(rewards: np.ndarray) -> float:
    """1 / variance of an arm's rewards; inf when they are all equal (sampling returns the mean)."""
    variance = np.var(rewards)
    return np.inf if variance == 0.0 else np.reciprocal(variance)


class GaussianThompson:
    """A Gaussian belief about each arm's mean reward, learned with a known reward precision.

    Exact parity with the reference needs the same random draws in the same order and the same
    float operations: one permutation per prediction, then one normal draw per arm in arm order
    (a vector draw consumes the stream exactly as the reference's draws one by one).
    """

    def __init__(
        self,
        arms: list[int],
        *,
        prior_mean: float = 0.0,
        prior_precision: float = 0.0,
        num_exploration: int = 2,
        seed: int | None = None,
    ) -> None:
        self.arms = list(arms)
        self.index = {arm: i for i, arm in enumerate(self.arms)}
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.num_exploration = num_exploration
        self.rng = np.random.default_rng(seed)
        self.mean = np.full(len(self.arms), float(prior_mean))
        self.precision = np.full(len(self.arms), float(prior_precision))
        self.count = np.zeros(len(self.arms), dtype=np.int64)
        self._arm_array = np.array(self.arms)

    def fit(self, arm: int, rewards: np.ndarray, precision: float) -> None:
        """Replace the arm's belief by the posterior of the prior given `rewards`."""
        i = self.index[arm]
        self.mean[i], self.precision[i], self.count[i] = self.prior_mean, self.prior_precision, len(rewards)
        if len(rewards) == 0:
            return
        if precision == np.inf:
            self.precision[i], self.mean[i] = np.inf, rewards.mean()
        else:
            posterior = self.prior_precision + len(rewards) * precision
            self.precision[i] = posterior
            self.mean[i] = (self.prior_precision * self.prior_mean + precision * rewards.sum()) / posterior

    def predict(self) -> int:
        """An under-explored arm if any (in a random order), else the best sampled mean reward."""
        # The permutation is drawn even when no arm needs exploring: it advances the stream.
        for arm in self.rng.choice(self._arm_array, len(self.arms), replace=False):
            if self.count[self.index[arm]] < self.num_exploration:
                return int(arm)
        samples = self.rng.normal(self.mean, np.sqrt(np.reciprocal(self.precision)))
        return self.arms[int(np.argmax(samples))]  # the first of equal samples, as the reference
