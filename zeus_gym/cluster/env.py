"""`ZeusGym/ClusterTrace-v0`: a recurring job in a shared cluster, whose submissions overlap."""

from __future__ import annotations

import heapq
import os
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from zeus_gym.cluster.groups import Group, GroupSource, GroupTable, load_groups
from zeus_gym.core import Params
from zeus_gym.core.draws import ScalarDraw
from zeus_gym.core.params import is_integer
from zeus_gym.core.sim import SCALARS, simulate_run
from zeus_gym.envs.setup import check_options, describe_invalid, job_info, load_params
from zeus_gym.envs.spaces import ConfigurationSpace
from zeus_gym.workloads import WORKLOADS, JobSpec, resolve_workload

CLOCK_CAP = 10.0  # the observed clock (elapsed / span of the group's trace) is clipped here
TRIES_CAP = 10.0  # per-configuration finished runs / submissions are clipped here


class Decision(NamedTuple):
    """A submission waiting for the agent's configuration: a trace row, or the retry of a run."""

    time: float  # s: when it starts
    end: float  # s: when it leaves the cluster (from the trace; a retry repeats its run's duration)
    runtime_ratio: float
    submission: int  # 1-based row of the group's trace it belongs to
    attempt: int  # 1 for the row's own run, k for its (k - 1)-th retry
    retry: bool


@dataclass(frozen=True, slots=True)
class InFlight:
    """A submitted run. Its outcome is simulated when it starts (as the reference does) but is
    revealed only when the run ends."""

    submission: int
    attempt: int
    start: float
    end: float
    runtime_ratio: float
    batch_index: int
    power_index: int
    batch_size: int
    power_limit: int
    profiled: bool
    ran: bool
    reached: bool
    epochs: int
    energy: float  # J, simulated, not scaled
    time: float  # s, simulated, not scaled
    cost: float  # not scaled: the early-stopping bookkeeping and what Zeus's optimizer observes
    threshold: float


def observation_space(params: Params) -> spaces.Dict:
    """Per-group observation space for the (padded) shapes of `params` (finite, 1-D float32 boxes;
    1 % headroom on costs because they are computed in float64 and rounded to float32)."""
    num_b, num_p = params.max_batch_sizes, params.max_power_limits
    run_cost = 1.01 * float(params.max_run_cost.max())
    threshold = params.beta * run_cost if np.isfinite(params.beta) else 1.0

    def box(shape: int, high: float) -> spaces.Box:
        return spaces.Box(0.0, high, (shape,), dtype=np.float32)

    return spaces.Dict(
        {
            "progress": box(1, 1.0),
            "clock": box(1, CLOCK_CAP),
            "in_flight": box(1, 1.0),
            "retry": box(1, 1.0),
            "threshold": box(2, max(threshold, 1.0)),
            "finished": box(3, max(run_cost, 1.0)),
            "tries": box(num_b * num_p, TRIES_CAP),
            "mean_cost": box(num_b * num_p, run_cost),
            "reach_rate": box(num_b * num_p, 1.0),
            "profiled": box(num_b, 1.0),
            "batch_sizes": box(num_b, 1.0),
            "power_limits": box(num_p, 1.0),
        }
    )


class ClusterTraceEnv(gym.Env[dict, np.ndarray]):
    """
    ## Description

    A recurring training job in a shared GPU cluster: its next submission often starts before the
    previous one has finished, so configurations must be chosen without knowing the latest
    results. One episode is one group of a cluster trace (one recurring job: its submissions with
    their start and end times, its dataset, and each submission's runtime ratio); this is the
    scenario of the Zeus artifact's `run_alibaba.py` (zeus==0.16.0
    `Simulator.simulate_one_alibaba_group`), and with `ZeusAgent(concurrency=True)` and
    `reference_seeding=True` the runs equal the reference's exactly.

    Semantics (those of the reference):

    - Wall-clock occupancy comes from the trace: a submission occupies [start_time, end_time]
      whatever its simulated run does. The run itself is simulated as in `RecurringJob-v0`
      (same core, `zeus_gym.core.sim.simulate_run`), early-stopped at `beta * min_cost`.
    - Its energy and time are the simulated ones times the submission's `runtime_ratio`; its
      `cost` (what early stopping and Zeus's optimizer use) is the simulated run's, not scaled.
    - Runs finish in order of end time (ties: in order of submission). A finished run that missed
      the target is retried at its end time for the same duration and runtime ratio, before any
      later submission; that retry is one more decision.
    - `min_cost` is the lowest cost of one run that reached the target (not a sum over retries).
    - A run that cannot afford one epoch does not start: it still holds its slot in the trace,
      costs 0 and is retried when it ends.
    - The agent learns a run's outcome only when it ends; it may act while runs are in flight.

    ## Action Space

    As `RecurringJob-v0`: `MultiDiscrete([B, P + 1])` (batch size index, power limit index; `P` =
    profile just in time). The profile's result (the chosen limit, `info["submitted"]`) is known
    right away, as in the reference; the run's outcome is not.

    ## Observation Space

    A `Dict` of 1-D float32 boxes (N = submissions of the group):

    | key | shape | meaning |
    |---|---|---|
    | `progress` | (1,) | trace submissions decided so far / N |
    | `clock` | (1,) | (time - first start) / (last end - first start) of the group's trace, clipped at 10 |
    | `in_flight` | (1,) | runs still running / N |
    | `retry` | (1,) | 1 if this decision is the retry of a run that missed the target |
    | `threshold` | (2,) | early stopping active (0/1), `beta * min_cost / default_cost` |
    | `finished` | (3,) | runs that finished since the last decision / N, the fraction of them that reached the target, their mean cost / `default_cost` |
    | `tries` | (B*P,) | finished runs that ran, per configuration / N (clipped at 10) |
    | `mean_cost` | (B*P,) | their mean cost / `default_cost` |
    | `reach_rate` | (B*P,) | the fraction of them that reached the target |
    | `profiled` | (B,) | batch sizes whose power limits have been profiled |
    | `batch_sizes`, `power_limits` | (B,), (P,) | the action slots, as in `RecurringJob-v0` |

    Only finished runs count: a decision made while a run is in flight does not see its outcome.

    ## Rewards

    `-sum(scaled_cost) / default_cost` over the runs that finished since the previous decision
    (so a reward is attributed when the cost is known, to the step during which the run ended);
    `scaled_cost = eta * energy + (1 - eta) * MAXPOWER * time` with the scaled energy and time.

    ## Info

    Reset and step infos describe the coming decision: `time` (s), `in_flight`, `retry`,
    `submission` (1-based trace row), `attempt`, `min_cost`, `threshold`, and `finished`: the
    runs that ended since the last decision, in the order they ended, each a dict with
    `submission`, `attempt`, `start_time`, `end_time`, `runtime_ratio`, `batch_size`,
    `power_limit`, `batch_index`, `power_index`, `profiled`, `ran`, `reached`, `epochs`,
    `energy` and `time` (scaled), `cost` (not scaled), `scaled_cost`, `threshold`, `abandoned`
    (missed, and no retry follows because of `max_retries`). Step infos also
    have `submitted` (the configuration the action started: batch size, power limit, profile
    epoch costs, threshold) and `step_cost`. The reset info is the job's `job_info` (as in
    `RecurringJob-v0`, with `num_recurrences` = N) plus `group`, `dataset`, `submissions`,
    `group_seed` (adler32 of the id) and `concurrent_submissions` (True).

    ## Episode End

    Terminated when the group's last submission and every retry it triggered have finished: the
    last step settles every run still in flight. Never truncated.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `groups` | `"synthetic"` | a group file, `"alibaba"` (upstream's file, verified), `"synthetic"`, a DataFrame or a `GroupTable` |
    | `gpu` | `"v100"` | the GPU of the power trace |
    | `eta_knob`, `beta_knob` | 0.5, 2.0 | as in `RecurringJob-v0` |
    | `group` | `None` | a group id (str) or index (int); None: drawn uniformly at each reset (or `options={"group": ...}`) |
    | `reference_seeding` | `False` | runs draw from `default_rng(zlib.adler32(group id))`, as the artifact does, instead of the reset seed |
    | `trace_dir` | `None` | folder of the Zeus traces |
    | `synthetic_groups`, `synthetic_seed` | 1000, 0 | size and seed of `groups="synthetic"` |
    | `workloads` | `None` | replace the job of some datasets: `{dataset: name, JobSpec or dict}` (default: `zeus_gym.WORKLOADS`, the artifact's jobs) |
    | `max_retries` | `None` | None: a run that missed the target is retried until one reaches it (the reference; an agent that never reaches it never ends the episode); k: after k retries the submission is given up (`abandoned` in its last run's record) |

    ## Version History

    - v0: initial release; semantics of zeus==0.16.0 `simulate_one_alibaba_group`.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        groups: GroupSource | GroupTable = "synthetic",
        gpu: str = "v100",
        eta_knob: float = 0.5,
        beta_knob: float = 2.0,
        group: str | int | None = None,
        reference_seeding: bool = False,
        trace_dir: str | os.PathLike | None = None,
        synthetic_groups: int = 1000,
        synthetic_seed: int = 0,
        workloads: Mapping[str, str | JobSpec | dict] | None = None,
        max_retries: int | None = None,
    ) -> None:
        if isinstance(groups, GroupTable):
            self.groups = groups
        else:
            self.groups = load_groups(groups, trace_dir=trace_dir, synthetic_groups=synthetic_groups, synthetic_seed=synthetic_seed)
        if not isinstance(gpu, str) or gpu == "all":
            raise ValueError(f"gpu must be one GPU name, got {gpu!r}")
        if max_retries is not None and (not is_integer(max_retries) or max_retries < 0):
            raise ValueError(f"max_retries must be None (retry until the target is reached) or an integer >= 0, got {max_retries!r}")
        max_retries = None if max_retries is None else int(max_retries)
        mapping = {**WORKLOADS, **(workloads or {})}
        unknown = sorted(set(workloads or {}) - set(WORKLOADS))
        if unknown:
            raise ValueError(f"workloads: {unknown} are not datasets of the groups' schema ({', '.join(WORKLOADS)})")
        datasets = self.groups.datasets
        self.params = load_params([resolve_workload(mapping[name]) for name in datasets], gpu, eta_knob=eta_knob,
                                  beta_knob=beta_knob, num_recurrences=None, max_retries=20, trace_dir=trace_dir)
        self._job_of = {name: i for i, name in enumerate(datasets)}
        self.group = None if group is None else self.groups.index_of(group)
        self.reference_seeding = bool(reference_seeding)
        self.max_retries = max_retries
        self.job_info = job_info(self.params)
        self.action_space = ConfigurationSpace(self.params.playable[0])
        self.observation_space = observation_space(self.params)
        grid = self.params.max_batch_sizes * self.params.max_power_limits
        self._tries = np.zeros(grid)
        self._cost_sum = np.zeros(grid)
        self._reached = np.zeros(grid)
        self._profiled = np.zeros(self.params.max_batch_sizes)
        self._started = False

    # -- episode -------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict[str, Any]]:
        check_options(options, ("group",))
        super().reset(seed=seed)
        if options and "group" in options:
            index = self.groups.index_of(options["group"])
        elif self.group is not None:
            index = self.group
        else:
            index = int(self.np_random.integers(len(self.groups)))
        self._group: Group = self.groups.group(index)
        self._job = self._job_of[self._group.dataset]
        generator = np.random.default_rng(self._group.seed) if self.reference_seeding else self.np_random
        self._draw = ScalarDraw(generator)
        first, last = float(self._group.start[0]), float(np.max(self._group.end))
        self._origin, self._span = first, max(last - first, 1.0)
        self._queue: list[tuple[float, int, InFlight]] = []
        self._sequence = 0
        self._next_row = 0
        self._min_cost = np.inf
        self._time = first
        for array in (self._tries, self._cost_sum, self._reached, self._profiled):
            array[:] = 0.0
        self._pending: Decision | None = None
        self._finished = self._advance()
        self._started = True
        info = job_info(self.params, self._job)
        info.update(
            num_recurrences=self._group.size, group=self._group.id, dataset=self._group.dataset,
            submissions=self._group.size, group_seed=self._group.seed, concurrent_submissions=True,
        )
        self.job_info = info
        self.action_space.set_playable(self.params.playable[self._job])
        return self._observation(), {**info, **self._decision_info(), "submitted": None}

    def step(self, action: np.ndarray) -> tuple[dict, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        if self._pending is None:
            raise gym.error.ResetNeeded("the episode has terminated: call reset() before step()")
        batch = np.asarray(action)
        if batch.shape != (2,) or batch.dtype.kind not in "iu":
            raise ValueError(f"action must be 2 integers [batch size index, power limit index], got {action!r}")
        b, p = int(batch[0]), int(batch[1])
        params, job, decision = self.params, self._job, self._pending
        if not (0 <= b < params.max_batch_sizes and 0 <= p <= params.max_power_limits and params.playable[job, b, p]):
            raise ValueError(describe_invalid(params, job, batch))

        threshold = params.beta * self._min_cost
        run = simulate_run(params, job, b, p, threshold, self._draw, SCALARS)
        ran = bool(run.ran)
        used = int(run.power_index)
        flight = InFlight(
            submission=decision.submission, attempt=decision.attempt, start=decision.time, end=decision.end,
            runtime_ratio=decision.runtime_ratio, batch_index=b, power_index=used,
            batch_size=int(params.batch_sizes[job, b]), power_limit=int(params.power_limits[job, used]),
            profiled=bool(run.profiled), ran=ran, reached=bool(run.reached), epochs=int(run.epochs) if ran else 0,
            energy=float(run.energy), time=float(run.time), cost=float(run.cost), threshold=float(threshold),
        )
        heapq.heappush(self._queue, (decision.end, self._sequence, flight))
        self._sequence += 1
        if flight.profiled:
            self._profiled[b] = 1.0
        profile = params.profile_epoch_cost[job, b]
        submitted = {
            "submission": decision.submission, "attempt": decision.attempt, "retry": decision.retry,
            "start_time": decision.time, "batch_index": b, "power_index": used, "batch_size": flight.batch_size,
            "power_limit": flight.power_limit, "profiled": flight.profiled,
            "profile_epoch_cost": profile.copy() if flight.profiled else np.full(profile.shape, np.inf),
            "threshold": flight.threshold,
        }
        self._finished = self._advance()
        step_cost = float(sum(run["scaled_cost"] for run in self._finished))
        reward = -step_cost / float(params.default_cost[job])
        info = {**self._decision_info(), "submitted": submitted, "step_cost": step_cost, "default_cost": float(params.default_cost[job])}
        return self._observation(), reward, self._pending is None, False, info

    # -- the event queue -------------------------------------------------------------------------

    def _advance(self) -> list[dict[str, Any]]:
        """End runs in order until the next decision (or the end of the group): the runs that
        ended on the way, in order. A run that missed the target makes the next decision its
        retry; otherwise the next trace row is, once every run ending by its start has ended."""
        group, finished = self._group, []
        while True:
            horizon = float(group.start[self._next_row]) if self._next_row < group.size else np.inf
            if self._queue and self._queue[0][0] <= horizon:
                end, _, run = heapq.heappop(self._queue)
                record = self._finish(run)
                finished.append(record)
                self._time = end
                if not run.reached and (self.max_retries is None or run.attempt <= self.max_retries):
                    self._pending = Decision(end, end + (end - run.start), run.runtime_ratio, run.submission, run.attempt + 1, True)
                    return finished
                record["abandoned"] = not run.reached  # max_retries: no retry follows
                continue
            if self._next_row < group.size:
                k = self._next_row
                self._next_row += 1
                self._time = float(group.start[k])
                self._pending = Decision(self._time, float(group.end[k]), float(group.runtime_ratio[k]), k + 1, 1, False)
                return finished
            self._pending = None
            return finished

    def _finish(self, run: InFlight) -> dict[str, Any]:
        """Reveal a run that ended: update min_cost and the statistics; its info record."""
        params, job = self.params, self._job
        if run.reached and self._min_cost > run.cost:
            self._min_cost = run.cost
        if run.ran:
            config = run.batch_index * params.max_power_limits + run.power_index
            self._tries[config] += 1.0
            self._cost_sum[config] += run.cost / params.default_cost[job]
            self._reached[config] += run.reached
        energy, time = run.energy * run.runtime_ratio, run.time * run.runtime_ratio
        eta = params.eta
        return {
            "submission": run.submission, "attempt": run.attempt, "start_time": run.start, "end_time": run.end,
            "runtime_ratio": run.runtime_ratio, "batch_size": run.batch_size, "power_limit": run.power_limit,
            "batch_index": run.batch_index, "power_index": run.power_index, "profiled": run.profiled,
            "ran": run.ran, "reached": run.reached, "epochs": run.epochs, "energy": energy, "time": time,
            "cost": run.cost, "scaled_cost": eta * energy + (1 - eta) * float(params.max_power[job]) * time,
            "threshold": run.threshold, "abandoned": False,
        }

    # -- what the agent sees ---------------------------------------------------------------------

    def _decision_info(self) -> dict[str, Any]:
        decision = self._pending
        return {
            "time": self._time,
            "in_flight": len(self._queue),
            "retry": bool(decision and decision.retry),
            "submission": decision.submission if decision else 0,
            "attempt": decision.attempt if decision else 0,
            "min_cost": self._min_cost,
            "threshold": self.params.beta * self._min_cost,
            "finished": self._finished,
        }

    def _observation(self) -> dict[str, np.ndarray]:
        params, job, n = self.params, self._job, self._group.size
        default = float(params.default_cost[job])
        threshold = params.beta * self._min_cost
        known = threshold != np.inf
        finished = self._finished
        count = len(finished)
        reached = sum(run["reached"] for run in finished)
        mean_cost = sum(run["cost"] for run in finished) / count / default if count else 0.0
        at_least_one = np.maximum(self._tries, 1.0)
        # Rows taken from the trace, less the one waiting for this decision (if it is one).
        decided = self._next_row - (self._pending is not None and not self._pending.retry)
        values = {
            "progress": [decided / n],
            "clock": [min((self._time - self._origin) / self._span, CLOCK_CAP)],
            "in_flight": [len(self._queue) / n],
            "retry": [float(bool(self._pending and self._pending.retry))],
            "threshold": [float(known), threshold / default if known else 0.0],
            "finished": [count / n, reached / count if count else 0.0, mean_cost],
            "tries": np.minimum(self._tries / n, TRIES_CAP),
            "mean_cost": self._cost_sum / at_least_one,
            "reach_rate": self._reached / at_least_one,
            "profiled": self._profiled,
            "batch_sizes": params.batch_feature[job],
            "power_limits": params.power_feature[job],
        }
        return {key: np.array(value, dtype=np.float32) for key, value in values.items()}
