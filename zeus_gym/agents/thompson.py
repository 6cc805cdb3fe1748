"""Gaussian Thompson sampling over batch sizes, with the arithmetic of Zeus's `GaussianTS`."""

from __future__ import annotations

import math

import numpy as np

from zeus_gym.agents.permutation import PermutationDraws
from zeus_gym.core.sums import pairwise_sum


def precision_of(variance: float) -> float:
    """1 / variance; inf for a variance of 0."""
    return np.inf if variance == 0.0 else 1.0 / variance


def sum_and_variance(rewards: np.ndarray) -> tuple[float, float]:
    """`np.add.reduce(rewards)` and `np.var(rewards)` of a 1-D float64 array, the variance by the
    same ufunc calls as numpy's (sum, divide, subtract, square, sum, divide) without its
    Python-level wrapping, which costs more than the arithmetic on an arm's few rewards (tested
    equal); the sum is the one the mean needs, so that the bandit's fit need not sum again."""
    n = len(rewards)
    total = np.add.reduce(rewards)
    deviations = rewards - total / n
    np.multiply(deviations, deviations, out=deviations)
    return total.item(), np.add.reduce(deviations).item() / n


def short_sum_and_variance(rewards: list[float]) -> tuple[float, float]:
    """`sum_and_variance` of a few rewards as Python floats: the same operations in the same order
    (numpy's pairwise summation included), without numpy's per-call cost, which exceeds the
    arithmetic up to about 30 rewards (tested equal)."""
    n = len(rewards)
    total = pairwise_sum(rewards)
    mean = total / n
    return total, pairwise_sum([(reward - mean) * (reward - mean) for reward in rewards]) / n


class GaussianThompson:
    """A Gaussian belief about each arm's mean reward, learned with a known reward precision.

    Exact parity with the reference needs the same random draws in the same order and the same
    float operations: one permutation per prediction, then one normal draw per arm in arm order
    (a vector draw consumes the stream exactly as the reference's draws one by one). A normal
    draw is `loc + scale * standard_normal` in numpy, so the scales are kept per arm and the
    standard normals drawn at once.
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
        self._permutation = PermutationDraws(self.rng)
        # Per arm, as Python numbers (a numpy write costs more than the fit's arithmetic): rewards
        # seen, posterior mean and precision, and the normal draws' standard deviation sqrt(1 / precision).
        self._counts = [0] * len(self.arms)
        self._means = [float(prior_mean)] * len(self.arms)
        self._precisions = [float(prior_precision)] * len(self.arms)
        self._scales = [_scale(p) for p in self._precisions]

    @property
    def mean(self) -> np.ndarray:
        """Each arm's posterior mean reward (a new array)."""
        return np.array(self._means)

    @property
    def precision(self) -> np.ndarray:
        """Each arm's posterior precision of its mean (a new array)."""
        return np.array(self._precisions)

    @property
    def count(self) -> np.ndarray:
        """How many rewards each arm's belief was fitted to (a new array)."""
        return np.array(self._counts, dtype=np.int64)

    def fit(self, arm: int, rewards: np.ndarray | list[float], precision: float, total: float | None = None) -> None:
        """Replace the arm's belief by the posterior of the prior given `rewards` (`total`: their
        `np.add.reduce`, if the caller has it)."""
        i, n = self.index[arm], len(rewards)
        self._counts[i] = n
        if n == 0:
            mean, posterior = self.prior_mean, self.prior_precision
        else:
            total = np.add.reduce(rewards).item() if total is None else total
            if precision == np.inf:
                mean, posterior = total / n, np.inf  # rewards.mean()
            else:
                posterior = self.prior_precision + n * precision
                mean = (self.prior_precision * self.prior_mean + precision * total) / posterior
        mean, posterior = float(mean), float(posterior)
        self._means[i], self._precisions[i], self._scales[i] = mean, posterior, _scale(posterior)

    def predict(self) -> int:
        """An under-explored arm if any (in a random order), else the best sampled mean reward."""
        # The permutation is drawn even when no arm needs exploring: it advances the stream.
        # choice(arms, n) draws the permutation choice(n, n) draws (the draws depend only on the
        # two sizes) and indexes the arms with it; here it comes from the raw draws, a third of
        # the time of choice(n, n), and when no arm needs exploring it is not even made.
        counts, n = self._counts, len(self.arms)
        if n and min(counts) < self.num_exploration:
            for i in self._permutation(n):
                if counts[i] < self.num_exploration:
                    return self.arms[i]
        else:  # no arm can be picked for exploring: only the stream's advance matters
            self._permutation.skip(n)
        draws = self.rng.standard_normal(len(self.arms)).tolist()
        # numpy's normal(loc, scale) is loc + scale * z: the same on Python floats, arm by arm.
        samples = [mean + scale * z for mean, scale, z in zip(self._means, self._scales, draws)]
        total = sum(samples)
        if total != total:  # a NaN (inf * 0), which numpy's argmax picks, or inf - inf: numpy decides
            return self.arms[int(np.argmax(samples))]
        return self.arms[samples.index(max(samples))]  # the first of equal samples, as argmax


def _scale(precision: float) -> float:
    """sqrt(1 / precision) as numpy computes it (1 / 0 = inf)."""
    return math.sqrt(1.0 / precision) if precision != 0.0 else math.inf
