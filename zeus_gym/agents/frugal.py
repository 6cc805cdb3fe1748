"""The Frugal agent: hill-climb the batch size from b0 on profile-based cost estimates, never
risking more than the episode can afford, and exploit with Thompson sampling."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zeus_gym.agents.base import BaseAgent, JobInfo, Observation, default_action, make_action


class FrugalAgent(BaseAgent):
    """Explores only where the cheap configurations can be, and only when it can afford to.

    - Estimates. The first run of a batch size profiles its power limits just in time; from then on
      its epoch cost at the best limit is known (`info["profile_epoch_cost"]`, then exactly
      `cost / epochs` of its first unprofiled run), so the only unknown in its cost is the number of
      epochs to reach the target. A batch size's cost estimate is epoch cost x mean epochs of its
      runs; the spread of epochs around each batch size's mean, relative to that mean, is pooled
      over all batch sizes (with a prior `cv_prior` worth `cv_prior_weight` observations).
    - Exploration is a hill climb from b0 (profiled first): while the cheapest batch size, by the
      estimates, is at the edge of the tried ones, its next untried neighbour outwards (the smaller
      one first) is tried. A frontier batch size that looks a little worse than the best still
      extends the climb if its optimistic estimate (mean epochs lowered by `optimism` standard
      errors) beats the best, so that one unlucky draw of epochs does not end it. A batch size
      whose run misses the target is dropped and the climb does not pass it.
    - Safety. A trial can cost at most the early-stopping threshold (`beta * min_cost`, then the
      recurrence is retried), or `max_epochs` at a pessimistic epoch cost without early stopping.
      A trial is refused when that worst case, the cost so far and the remaining recurrences at
      the best estimate would exceed `budget` times Default's expected episode cost.
    - Exploitation: Gaussian Thompson sampling over the tried batch sizes that always reached the
      target, each arm's mean cost believed within (pooled relative spread / sqrt(runs)); retries
      play the best estimate. Each run uses its batch size's best profiled limit.

    Options (tolerances): `optimism` (standard errors of optimism that keep a climb going),
    `budget` (worst-case projected episode cost a trial may reach, as a fraction of Default's),
    `cv_prior` and `cv_prior_weight` (prior relative spread of epochs to target, and its weight).
    """

    def __init__(
        self, *, optimism: float = 2.0, budget: float = 1.02, caution: float = 1.0, cv_prior: float = 0.1, cv_prior_weight: float = 4.0
    ) -> None:
        options = dict(optimism=optimism, budget=budget, caution=caution, cv_prior=cv_prior, cv_prior_weight=cv_prior_weight)
        for name, value in options.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"FrugalAgent option {name} must be a finite number >= 0, got {value!r}")
        self.optimism, self.budget, self.caution, self.cv_prior, self.cv_prior_weight = options.values()

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Forget the previous episode; Thompson sampling draws from `default_rng(seed)`."""
        super().reset(job_info, seed)
        self.rng = np.random.default_rng(seed)
        playable = np.asarray(job_info["playable"])
        self.profile = job_info["profile_action"]
        self.can_profile = playable[:, self.profile].copy()  # batch sizes the traces measured
        self.batch_sizes = list(job_info["batch_sizes"])
        self.max_power = float(job_info["max_power"])
        self.default_episode = job_info["default_cost"] * job_info["num_recurrences"]
        self.limit: dict[int, int] = {}  # batch index -> power index of its best profiled limit
        self.epoch_cost: dict[int, float] = {}  # batch index -> cost of one epoch at that limit
        self.exact: set[int] = set()  # batch indices whose epoch cost was measured unprofiled
        self.epochs: dict[int, list[int]] = {}  # batch index -> epochs of its runs that reached
        self.dropped: set[int] = set()  # batch indices with a run that missed the target
        self.spent = 0.0  # cost of profiled and failed runs and of fallbacks so far
        self.plain_runs: dict[int, int] = {}  # batch index -> its unprofiled runs that reached
        self.profiled_epochs: dict[int, int] = {}  # batch index -> epochs of its profiled run, if it reached
        self.b0_epochs = 0.0  # b0's expected epochs, from Default's expected cost (0: not known yet)
        self.done = 0  # recurrences completed
        self.retry = False  # the next step retries a failed attempt
        self.threshold = math.inf  # early-stopping threshold of the next run

    # -- estimates ---------------------------------------------------------------------------

    def viable(self) -> list[int]:
        """Tried batch sizes whose every run reached the target."""
        return [b for b in self.epochs if b not in self.dropped and self.epochs[b]]

    def mean_epochs(self, b: int) -> float:
        """Expected epochs to target of batch size `b`: known for b0, else the mean of its runs."""
        return self.b0_epochs if b == self.job_info["b0_index"] and self.b0_epochs else float(np.mean(self.epochs[b]))

    def mean_cost(self, b: int) -> float:
        """Estimated expected cost of a run of batch size `b`."""
        return self.epoch_cost[b] * self.mean_epochs(b)

    def runs_worth(self, b: int) -> float:
        """How many runs the estimate of `b` rests on (b0's is known: infinitely many)."""
        return math.inf if b == self.job_info["b0_index"] and self.b0_epochs else len(self.epochs[b])

    def spread(self) -> float:
        """Pooled relative standard deviation of epochs to target, with the prior; b0's runs
        deviate from its known mean, the others' from their own."""
        squares, dof = self.cv_prior_weight * self.cv_prior**2, self.cv_prior_weight
        for b, runs in self.epochs.items():
            known = math.isinf(self.runs_worth(b))
            if runs and (known or len(runs) > 1):
                relative = np.asarray(runs, dtype=float) / self.mean_epochs(b)
                squares += float(np.sum((relative - 1.0) ** 2))
                dof += len(runs) - (0 if known else 1)
        return math.sqrt(squares / dof) if dof > 0 else self.cv_prior

    def best(self) -> int | None:
        """The viable batch size with the lowest estimated cost (None before any)."""
        viable = self.viable()
        return min(viable, key=self.mean_cost) if viable else None

    # -- exploration -------------------------------------------------------------------------

    def next_trial(self) -> int | None:
        """The batch size the hill climb tries next, or None if the climb rests."""
        best = self.best()
        if best is None:  # nothing reached yet: the untried batch size nearest b0
            order = sorted(range(len(self.batch_sizes)), key=lambda b: (abs(b - self.job_info["b0_index"]), b))
            return next((b for b in order if b not in self.epochs and b not in self.dropped and self.can_profile[b]), None)
        tried = sorted(self.epochs)
        # The climb does not pass a batch size that missed the target; the cheaper edge goes first.
        edges = [(edge, step) for edge, step in ((tried[0], -1), (tried[-1], 1)) if edge not in self.dropped]
        for edge, step in sorted(edges, key=lambda pair: self.mean_cost(pair[0])):
            neighbour = next((b for b in range(edge + step, -1 if step < 0 else len(self.batch_sizes), step) if self.can_profile[b]), None)
            if neighbour is not None and self.hopeful(edge, best) and self.affordable(edge, neighbour, best):
                return neighbour
        return None

    def hopeful(self, edge: int, best: int) -> bool:
        """Whether the climb goes on past `edge`: it is the best, or not clearly worse than the
        best (by less than `optimism` standard errors of the difference of their estimates), so
        that one unlucky draw of epochs or a flat stretch of batch sizes does not end a climb."""
        if edge == best:
            return True
        spread = self.spread()
        edge_cost, best_cost = self.mean_cost(edge), self.mean_cost(best)
        error = spread * math.hypot(edge_cost / math.sqrt(self.runs_worth(edge)), best_cost / math.sqrt(self.runs_worth(best)))
        return edge_cost - best_cost < self.optimism * error

    def affordable(self, near: int, trial: int, best: int) -> bool:
        """Whether the worst case of a trial of `trial` keeps the projected episode within budget."""
        if math.isfinite(self.threshold):
            worst = self.threshold  # stopped before passing it; then the recurrence is retried
        else:  # no early stopping: max_epochs at a pessimistic epoch cost (a smaller batch size
            # is at most as many times slower per epoch as it is smaller)
            slowdown = max(1.0, self.batch_sizes[near] / self.batch_sizes[trial])
            worst = self.job_info["max_epochs"] * self.epoch_cost[near] * slowdown
        # Default's configuration, with its known expected cost, is always there to fall back on.
        # The rest at the best's pessimistic estimate, or at Default's configuration (whose
        # expected cost is known) if that is cheaper.
        pessimistic = self.mean_cost(best) * (1 + self.caution * self.spread() / math.sqrt(self.runs_worth(best)))
        remaining = self.job_info["num_recurrences"] - self.done
        # Plain runs count at their batch size's estimate: their luck says nothing about the future.
        spent = self.spent + sum(runs * self.mean_cost(b) for b, runs in self.plain_runs.items())
        spent += sum(self.epoch_cost[b] * (self.mean_epochs(b) - epochs) for b, epochs in self.profiled_epochs.items())
        return spent + worst + remaining * min(pessimistic, self.job_info["default_cost"]) <= self.budget * self.default_episode

    # -- acting ------------------------------------------------------------------------------

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """Profile a new batch size if the climb goes on; otherwise exploit."""
        if not self.epochs and not self.dropped:
            b0 = self.job_info["b0_index"]
            if self.can_profile[b0]:
                return make_action(b0, self.profile)
        if not self.retry:
            trial = self.next_trial()
            if trial is not None:
                return make_action(trial, self.profile)
        arm = self.best() if self.retry else self.sample()
        if arm is None:
            trial = self.next_trial()
            return default_action(self.job_info) if trial is None else make_action(trial, self.profile)
        return make_action(arm, self.limit[arm])

    def sample(self) -> int | None:
        """Thompson sampling over the viable batch sizes."""
        viable = self.viable()
        if len(viable) <= 1:
            return viable[0] if viable else None
        spread = self.spread()
        means = np.array([self.mean_cost(b) for b in viable])
        errors = means * spread / np.sqrt([self.runs_worth(b) for b in viable])
        return viable[int(np.argmin(self.rng.normal(means, errors)))]

    def learn(self, action: np.ndarray, info: dict[str, Any]) -> None:
        """Book the step: the profile, the epochs, a miss, the cost and the threshold."""
        b = int(action[0])
        if info["profiled"] or not info["reached"]:
            self.spent += info["step_cost"]
        else:
            self.plain_runs[b] = self.plain_runs.get(b, 0) + 1
        done = bool(info["reached"] or info["fallback"])
        self.done += done
        self.retry = not done
        self.threshold = self.job_info["beta"] * info["min_cost"] if math.isfinite(info["min_cost"]) else math.inf
        if not info["ran"]:
            return
        if info["profiled"]:
            limit = int(info["power_index"])  # the profile's choice, which later runs reuse
            self.limit[b], self.epoch_cost[b] = limit, float(info["profile_epoch_cost"][limit])
            self.epochs.setdefault(b, [])
            if b == self.job_info["b0_index"]:  # Default runs b0 at its top limit, its cost is known
                top = info["profile_epoch_cost"][default_action(self.job_info)[1]]
                self.b0_epochs = self.job_info["default_cost"] / float(top)
            if info["reached"]:
                self.profiled_epochs[b] = int(info["epochs"])
        elif b not in self.exact and b in self.epoch_cost and info["epochs"] > 0:
            self.epoch_cost[b] = info["cost"] / info["epochs"]  # the true cost of one epoch
            self.exact.add(b)
        if info["reached"]:
            self.epochs.setdefault(b, []).append(int(info["epochs"]))
        else:
            self.dropped.add(b)
