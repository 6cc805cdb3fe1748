"""Zeus's pruning exploration: which batch sizes survive to the Thompson sampling stage."""

from __future__ import annotations

import math


class PruningExplorer:
    """Rounds of exploration from a start batch size, downwards then upwards.

    A direction stops at its first batch size that misses the target; the ones that reach it are
    the next round's candidates, and the cheapest of them is the next round's start. Results are
    reported one at a time, for the batch size handed out last.
    """

    def __init__(self, batch_sizes: list[int], start: int, rounds: int = 2) -> None:
        if start not in batch_sizes:
            raise ValueError(f"start batch size {start} is not among {batch_sizes}")
        self.candidates = sorted(batch_sizes)
        self.start = start
        self.rounds_left = rounds
        self.expecting: int | None = None  # handed out, result not reported yet
        self.done = False
        self._begin_round()

    def _begin_round(self) -> None:
        self.rounds_left -= 1
        split = self.candidates.index(self.start) + 1
        # Two queues, downwards from the start (inclusive) then upwards.
        self._directions = [self.candidates[:split][::-1], self.candidates[split:]]
        self._reached: list[int] = []
        self._best_cost = math.inf

    def next_batch_size(self) -> int | None:
        """The batch size to explore next, or None once exploration is over."""
        if self.expecting is not None:
            raise RuntimeError(f"pruning: the result of batch size {self.expecting} has not been reported")
        if self.done:
            return None
        self.expecting = self._directions[0][0] if self._directions[0] else self._directions[1][0]
        return self.expecting

    def report(self, batch_size: int, cost: float, reached: bool) -> None:
        """The outcome of the batch size handed out last."""
        if batch_size != self.expecting:
            raise RuntimeError(f"pruning: expected the result of batch size {self.expecting}, got {batch_size}")
        self.expecting = None
        direction = self._directions[0] if self._directions[0] else self._directions[1]
        direction.pop(0)
        if reached:
            self._reached.append(batch_size)
            if self._best_cost > cost:  # strict: the earlier batch size wins ties
                self._best_cost, self.start = cost, batch_size
        else:
            direction.clear()  # the first miss ends the direction
        if not any(self._directions):
            self._end_round()

    def _end_round(self) -> None:
        # A round where nothing reached the target prunes nothing (the reference fails there).
        if self._reached:
            self.candidates = sorted(self._reached)
        if self.rounds_left > 0:
            self._begin_round()
        else:
            self.done = True
