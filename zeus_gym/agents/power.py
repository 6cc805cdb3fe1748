"""Zeus's just-in-time power limit optimizer: profile a batch size once, then reuse its best limit."""

from __future__ import annotations

from typing import Hashable


class JITPowerLimits:
    """Best power limit per batch size, from the epoch costs of its profile.

    Follows Zeus's legacy `PowerLimitOptimizer` interface (`predict(job, batch_size)`,
    `observe(job, batch_size, power_limit, cost)`); one instance serves one job, so `job` is unused.
    """

    def __init__(self) -> None:
        self.best_limit: dict[int, int] = {}
        self.best_cost: dict[int, float] = {}

    def predict(self, job: Hashable, batch_size: int) -> int | None:
        """The best known limit of `batch_size`, or None: it needs profiling."""
        return self.best_limit.get(batch_size)

    def observe(self, job: Hashable, batch_size: int, power_limit: int, cost: float) -> None:
        """One limit's epoch cost; profiles are observed from the highest limit down."""
        best = self.best_cost.get(batch_size)
        if best is None or best > cost:  # strict: ties keep the higher limit
            self.best_limit[batch_size], self.best_cost[batch_size] = power_limit, cost
