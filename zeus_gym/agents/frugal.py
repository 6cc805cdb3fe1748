"""The Frugal agent: hill-climb the batch size from b0 on profile-based cost estimates, risking
no more than the episode can afford, and exploit with Thompson sampling."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zeus_gym.agents.base import BaseAgent, JobInfo, Observation, default_action, make_action


# The held-out aim: an episode may cost at most 2 % more than Default's expected one. Frugal's
# default budget, and the budget of the learned policy's `trial_margin` input (zeus_gym.policies).
EPISODE_BUDGET = 1.02


class FrugalAgent(BaseAgent):
    """Explores only where the cheap configurations can be, and only when it can afford to.

    It reads only what the env tells every agent: `job_info` and each step's `info`.

    - Estimates. A batch size's first run profiles its power limits just in time; from then on its
      epoch cost at the best limit is known (`info["profile_epoch_cost"]`, then exactly `cost /
      epochs` of its first unprofiled run), so the only unknown in its cost is the number of epochs
      to reach the target. Its cost estimate is epoch cost x epochs of all its runs / runs that
      reached (an early-stopped run costs its epochs and a retry). b0's expected epochs follow from
      Default's expected cost (`job_info["default_cost"]`) and its top limit's epoch cost. The spread
      of epochs around each batch size's mean, relative to that mean, is pooled over all batch
      sizes, with a prior `cv_prior` worth `cv_prior_weight` runs.
    - Exploration is a hill climb from b0 (profiled first): while an edge of the tried batch sizes
      is the cheapest, or the cheapest one's neighbour and not clearly dearer (by fewer than
      `optimism` standard errors of the difference), the climb tries the next batch size beyond
      it, the cheaper edge first; from b0 alone it climbs up first if b0 needs at most `grow_below`
      x max_epochs (room for larger batch sizes, which need more epochs), else down. A batch
      size that misses the target after `max_epochs`, or cannot afford one epoch, is dropped and
      the climb does not pass it.
    - Safety. A trial costs at most the early-stopping threshold (`beta * min_cost`; then the
      recurrence is retried), or without early stopping `max_epochs` at a pessimistic epoch cost.
      A trial is refused when that worst case, plus the episode so far (runs counted at their
      batch size's estimate, not their luck) and the remaining recurrences at the best estimate
      (`caution` standard errors pessimistic, at most Default's known expected cost), would exceed
      `budget` times Default's expected episode cost.
    - Exploitation: Gaussian Thompson sampling over the batch sizes that reached the target, each
      arm's mean cost believed within (pooled spread x cost / sqrt(runs)); a retry plays the best
      estimate. Every run uses its batch size's profiled best limit.

    Options (tolerances): `optimism`, `budget`, `caution`, `grow_below`, `cv_prior`, `cv_prior_weight`.
    """

    def __init__(
        self,
        *,
        optimism: float = 3.0,
        budget: float = EPISODE_BUDGET,
        caution: float = 1.0,
        grow_below: float = 0.5,
        cv_prior: float = 0.1,
        cv_prior_weight: float = 4.0,
    ) -> None:
        options = dict(optimism=optimism, budget=budget, caution=caution, grow_below=grow_below, cv_prior=cv_prior, cv_prior_weight=cv_prior_weight)
        for name, value in options.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"FrugalAgent option {name} must be a finite number >= 0, got {value!r}")
        self.options = options
        self.optimism, self.budget, self.caution, self.grow_below, self.cv_prior, self.cv_prior_weight = (float(v) for v in options.values())

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Forget the previous episode; Thompson sampling draws from `default_rng(seed)`."""
        if job_info.get("concurrent_submissions"):
            raise ValueError("FrugalAgent needs each run's result before the next decision, but runs overlap in this env")
        super().reset(job_info, seed)
        self.rng = np.random.default_rng(seed)
        self.profile = job_info["profile_action"]
        self.can_profile = np.asarray(job_info["playable"])[:, self.profile].tolist()
        self.b0 = job_info["b0_index"]
        self.b0_epochs = 0.0  # b0's expected epochs, known once b0 is profiled
        self.limit: dict[int, int] = {}  # batch index -> power index of its best profiled limit
        self.epoch_cost: dict[int, float] = {}  # batch index -> cost of one epoch at that limit
        self.exact: set[int] = set()  # batch indices whose epoch cost was measured unprofiled
        self.reached: dict[int, list[int]] = {}  # batch index (profiled) -> epochs of its runs that reached
        self.stopped: dict[int, int] = {}  # batch index -> epochs of its early-stopped runs, summed
        self.dropped: set[int] = set()  # never reached within max_epochs, or could not start
        self.run_cost: dict[int, float] = {}  # batch index -> cost of its runs so far
        self._spread: float | None = None  # spread(), until the next learn
        self.overhead = 0.0  # fallbacks and the profiling epochs' extra cost so far
        self.done = 0  # recurrences completed
        self.retry = False  # the next step retries a failed attempt
        self.threshold = math.inf  # early-stopping threshold of the next run

    # -- estimates ---------------------------------------------------------------------------

    def viable(self) -> list[int]:
        """Batch sizes to exploit: not dropped, with a run that reached the target."""
        return [b for b, runs in self.reached.items() if runs and b not in self.dropped]

    def mean_epochs(self, b: int) -> float:
        """Expected epochs per recurrence of batch size `b` (early-stopped runs included)."""
        if b == self.b0 and self.b0_epochs:
            return self.b0_epochs
        return (sum(self.reached[b]) + self.stopped.get(b, 0)) / len(self.reached[b])

    def mean_cost(self, b: int) -> float:
        """Estimated expected cost of a recurrence run at batch size `b`."""
        return self.epoch_cost[b] * self.mean_epochs(b)

    def runs_worth(self, b: int) -> float:
        """How many runs the estimate of `b` rests on (b0's is known: infinitely many)."""
        return math.inf if b == self.b0 and self.b0_epochs else len(self.reached[b])

    def spread(self) -> float:
        """Pooled relative standard deviation of epochs to target, with the prior; b0's runs
        deviate from its known mean, the others' from their own. Only `learn` changes it, so it
        is computed once per step (a decision asks for it several times)."""
        if self._spread is None:
            self._spread = self._pooled_spread()
        return self._spread

    def _pooled_spread(self) -> float:
        squares, dof = self.cv_prior_weight * self.cv_prior**2, self.cv_prior_weight
        for b, runs in self.reached.items():
            known = math.isinf(self.runs_worth(b))
            if runs and (known or len(runs) > 1):
                # Epochs are integers: their sum is exact, so this is np.mean's value.
                mean = self.b0_epochs if known else sum(runs) / len(runs)
                deviations = np.array(runs, dtype=float) / mean - 1.0
                squares += np.add.reduce(deviations * deviations).item()  # np.sum(deviations ** 2)
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
            order = sorted(range(len(self.can_profile)), key=lambda b: (abs(b - self.b0), b))
            return next((b for b in order if self.untried(b)), None)
        tried = sorted(set(self.reached) | self.dropped)
        edges = [(edge, step) for edge, step in ((tried[0], -1), (tried[-1], 1)) if edge in self.viable()]
        if len(edges) == 2 and edges[0][0] == edges[1][0] and self.grows(edges[0][0]):
            edges.reverse()
        for edge, step in sorted(edges, key=lambda pair: self.mean_cost(pair[0])):  # the cheaper edge first
            beyond = range(edge + step, -1 if step < 0 else len(self.can_profile), step)
            neighbour = next((b for b in beyond if self.can_profile[b]), None)
            if neighbour is not None and self.untried(neighbour) and self.hopeful(edge, step, best) and self.affordable(edge, neighbour, best):
                return neighbour
        return None

    def grows(self, b: int) -> bool:
        """Whether to climb upwards first from `b`, the only tried batch size: when it reaches the
        target in well under max_epochs there is room for larger batch sizes, which need more
        epochs, to reach it too; near max_epochs they risk never reaching it."""
        return self.mean_epochs(b) <= self.grow_below * self.job_info["max_epochs"]

    def untried(self, b: int) -> bool:
        """Whether batch size `b` can be profiled and has not been."""
        return bool(self.can_profile[b]) and b not in self.reached and b not in self.dropped

    def hopeful(self, edge: int, step: int, best: int) -> bool:
        """Whether the climb goes on past `edge` (the climb moves by `step`): it is the best, or
        the best's neighbour and not clearly dearer (by fewer than `optimism` standard errors of
        the difference), so that one unlucky draw of epochs, or one bump, does not end a climb."""
        if edge == best:
            return True
        inner = next((b for b in range(edge - step, best - step, -step) if b in self.viable()), None)
        if inner != best:
            return False
        edge_cost, best_cost = self.mean_cost(edge), self.mean_cost(best)
        error = self.spread() * math.hypot(edge_cost / math.sqrt(self.runs_worth(edge)), best_cost / math.sqrt(self.runs_worth(best)))
        return edge_cost - best_cost < self.optimism * error

    def affordable(self, near: int, trial: int, best: int) -> bool:
        """Whether the worst case of a trial of `trial` keeps the projected episode within budget."""
        if math.isfinite(self.threshold):
            worst = self.threshold  # stopped before passing it; then the recurrence is retried
        else:  # no early stopping: max_epochs, a smaller batch size being at most as many times
            # slower per epoch as it is smaller
            sizes = self.job_info["batch_sizes"]
            worst = self.job_info["max_epochs"] * self.epoch_cost[near] * max(1.0, sizes[near] / sizes[trial])
        # The rest at the best's pessimistic estimate, or at Default's (known) if that is cheaper.
        pessimistic = self.mean_cost(best) * (1 + self.caution * self.spread() / math.sqrt(self.runs_worth(best)))
        remaining = self.job_info["num_recurrences"] - self.done
        projected = self.expected_spent() + worst + remaining * min(pessimistic, self.job_info["default_cost"])
        return projected <= self.budget * self.job_info["default_cost"] * self.job_info["num_recurrences"]

    def expected_spent(self) -> float:
        """The episode's cost so far with each viable batch size's runs at its estimate: their
        luck says nothing about the rest of the episode."""
        viable = set(self.viable())
        expected = sum(len(self.reached[b]) * self.mean_cost(b) for b in viable)
        return self.overhead + expected + sum(cost for b, cost in self.run_cost.items() if b not in viable)

    # -- acting ------------------------------------------------------------------------------

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """Profile a new batch size if the climb goes on; otherwise exploit."""
        if not self.retry:
            trial = self.next_trial()
            if trial is not None:
                return make_action(trial, self.profile)
        arm = self.best() if self.retry else self.sample()
        if arm is None:  # nothing reached yet (a retry): keep looking, or run Default
            trial = self.next_trial()
            return default_action(self.job_info) if trial is None else make_action(trial, self.profile)
        return make_action(arm, self.limit[arm])

    def sample(self) -> int | None:
        """Thompson sampling over the viable batch sizes."""
        viable = self.viable()
        if len(viable) <= 1:
            return viable[0] if viable else None
        means = np.array([self.mean_cost(b) for b in viable])
        errors = means * self.spread() / np.sqrt([self.runs_worth(b) for b in viable])
        return viable[int(np.argmin(self.rng.normal(means, errors)))]

    def learn(self, action: np.ndarray, info: dict[str, Any]) -> None:
        """Book the step: the profile, the epochs, a miss, the cost and the threshold."""
        b = int(action[0])
        self._spread = None  # the runs change below
        self.overhead += info["fallback_cost"]
        done = bool(info["reached"] or info["fallback"])
        self.done += done
        self.retry = not done
        self.threshold = self.job_info["beta"] * info["min_cost"] if math.isfinite(info["min_cost"]) else math.inf
        if not info["ran"]:  # it cannot afford one epoch under the threshold: hopeless
            self.dropped.add(b)
            return
        if info["profiled"]:
            limit = int(info["power_index"])  # the profile's choice, which later runs reuse
            self.limit[b], self.epoch_cost[b] = limit, float(info["profile_epoch_cost"][limit])
            if b == self.b0:  # Default runs b0 at its top limit: its expected cost gives the epochs
                top = float(info["profile_epoch_cost"][default_action(self.job_info)[1]])
                self.b0_epochs = self.job_info["default_cost"] / top
        elif b not in self.exact:
            self.epoch_cost[b] = info["cost"] / info["epochs"]  # the true cost of one epoch
            self.limit.setdefault(b, int(info["power_index"]))  # Default's run, before any profile
            self.exact.add(b)
        self.reached.setdefault(b, [])
        epochs = int(info["epochs"])
        if info["reached"]:
            self.reached[b].append(epochs)
        elif epochs >= self.job_info["max_epochs"]:
            self.dropped.add(b)  # it never reaches the target
        else:
            self.stopped[b] = self.stopped.get(b, 0) + epochs
        plain = self.epoch_cost[b] * epochs  # the run's cost without its profiling epoch's extra
        self.overhead += info["cost"] - plain  # no estimate's business
        self.run_cost[b] = self.run_cost.get(b, 0.0) + plain
