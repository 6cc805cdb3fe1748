"""The Zeus agent: pruning exploration and Thompson sampling for the batch size, JIT power limits."""

from __future__ import annotations

from typing import Hashable

import numpy as np

from zeus_gym.agents.base import JobInfo
from zeus_gym.agents.legacy import LegacyJob, LegacyLoop
from zeus_gym.agents.power import JITPowerLimits
from zeus_gym.agents.pruning import PruningExplorer
from zeus_gym.agents.thompson import GaussianThompson, precision_of, short_sum_and_variance, sum_and_variance

# Up to this many rewards an arm's fit sums them on Python floats, beyond with numpy: the faster.
_SHORT = 24


class ZeusBatchSizeOptimizer:
    """Zeus's batch size optimizer for one job, with Zeus's legacy interface (`job` is unused
    but for its `default_bs`): two rounds of pruning, then Gaussian Thompson sampling over the
    survivors with each arm's reward precision learned from the variance of its rewards."""

    def __init__(
        self,
        *,
        prior_mean: float = 0.0,
        prior_precision: float = 0.0,
        window_size: int = 0,
        concurrency: bool = False,
        seed: int | None = None,
    ) -> None:
        self.prior_mean = prior_mean
        self.prior_precision = prior_precision
        self.window_size = window_size  # rewards per arm the bandit learns from (0: all)
        self.concurrency = concurrency  # results may arrive out of order: pruning skips strays
        self.seed = seed

    def register_job(self, job: LegacyJob, batch_sizes: list[int]) -> None:
        """Start pruning from the job's `default_bs` (any object with one will do)."""
        self.explorer = PruningExplorer(batch_sizes, job.default_bs)
        self.history: list[tuple[int, float]] = []  # (batch size, reward = -cost), in order
        self.rewards: dict[int, list[float]] = {}  # the same, per batch size
        # The same for the arms that outgrew the Python path: a float64 buffer grown by doubling
        # and how many of its entries are up to date (brought up to date when a fit reads it).
        self._reward_arrays: dict[int, tuple[np.ndarray, int]] = {}
        self.bandit: GaussianThompson | None = None

    def predict(self, job: Hashable) -> int:
        """The batch size of the next run."""
        if self.bandit is None:
            batch_size = self.explorer.next_batch_size()
            if batch_size is not None:
                return batch_size
            # The bandit (and its random stream) starts when pruning ends.
            self.bandit = GaussianThompson(
                self.explorer.candidates, prior_mean=self.prior_mean,
                prior_precision=self.prior_precision, num_exploration=2, seed=self.seed,
            )
            for arm in self.bandit.arms:
                self._fit(arm)
        return self.bandit.predict()

    def observe(self, job: Hashable, batch_size: int, cost: float, converged: bool | None = None) -> None:
        """The cost of a run of `batch_size` and whether it reached the target."""
        self.history.append((batch_size, -cost))
        seen = self.rewards.setdefault(batch_size, [])
        seen.append(-cost)
        if self.bandit is not None:
            if batch_size in self.bandit.index:
                self._fit(batch_size)
        elif not self.concurrency or self.explorer.expecting == batch_size:
            self.explorer.report(batch_size, cost, bool(converged))

    def _fit(self, arm: int) -> None:
        seen = self.rewards.get(arm, [])
        count = len(seen)
        start = max(0, count - self.window_size) if self.window_size else 0
        if count == 0:
            self.bandit.fit(arm, [], np.inf)  # type: ignore[union-attr]
            return
        if count - start <= _SHORT:
            rewards = seen[start:]
            total, variance = short_sum_and_variance(rewards)
        else:
            rewards = self._reward_array(arm, count)[start:]
            total, variance = sum_and_variance(rewards)
        self.bandit.fit(arm, rewards, precision_of(variance), total)  # type: ignore[union-attr]

    def _reward_array(self, arm: int, count: int) -> np.ndarray:
        """The arm's `count` rewards as a view of its float64 buffer: only the rewards since the
        last read are copied in, and the buffer is rebuilt only when it is full."""
        seen = self.rewards[arm]
        buffer, filled = self._reward_arrays.get(arm, (None, 0))
        if buffer is None or len(buffer) < count:
            buffer = np.resize(np.array(seen, dtype=float), 2 * count)
        elif filled < count:
            buffer[filled:count] = seen[filled:count]
        self._reward_arrays[arm] = (buffer, count)
        return buffer[:count]


class ZeusAgent(LegacyLoop):
    """Zeus as zeus==0.16.0 simulates it (`PruningGTSBatchSizeOptimizer` and
    `JITPowerLimitOptimizer`): same seed, job and knobs give the reference's run history.

    Options are the reference's: `window_size` (0: all rewards), the Gaussian prior, and
    `concurrency` (pruning ignores results that arrive out of the expected order).
    """

    def __init__(
        self, *, window_size: int = 0, prior_mean: float = 0.0, prior_precision: float = 0.0, concurrency: bool = False
    ) -> None:
        self.options = dict(window_size=window_size, prior_mean=prior_mean, prior_precision=prior_precision, concurrency=concurrency)

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Fresh optimizers; an env whose runs overlap needs `concurrency=True`."""
        if job_info.get("concurrent_submissions") and not self.options["concurrency"]:
            raise ValueError("runs overlap in this env (results arrive out of order): use ZeusAgent(concurrency=True)")
        super().reset(job_info, seed)

    def make_optimizers(self, job_info: JobInfo, seed: int | None) -> tuple[ZeusBatchSizeOptimizer, JITPowerLimits]:
        """Fresh optimizers; the bandit draws from `default_rng(seed)`."""
        return ZeusBatchSizeOptimizer(seed=seed, **self.options), JITPowerLimits()
