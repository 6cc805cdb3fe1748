"""The simulation core: reset and step N recurring jobs at once with numpy.

Semantics are those of zeus==0.16.0's trace-driven `Simulator.simulate_one_job`, with the same
floating-point operations in the same order so that results match it bit for bit. Randomness is
passed in: `draw(bounds)` returns one uniform index in [0, bound) per job, drawing nothing where
the bound is 1 (as numpy's `Generator.integers(0, 1)` does).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import numpy as np

from zeus_gym.core.params import Params

Draw = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, eq=False)
class State:
    """What changes within an episode, for N jobs (leading axis)."""

    job: np.ndarray  # (N,) index into Params.jobs
    recurrence: np.ndarray  # (N,) recurrences completed so far
    attempt: np.ndarray  # (N,) attempts made in the open recurrence
    recurrence_cost: np.ndarray  # (N,) cost accumulated by the open recurrence
    min_cost: np.ndarray  # (N,) cheapest completed recurrence so far (inf before the first)
    # Per configuration actually used, flattened row-major (b * P + p):
    tries: np.ndarray  # (N, B*P) runs that started
    cost_sum: np.ndarray  # (N, B*P) sum of their cost / default_cost
    reached: np.ndarray  # (N, B*P) how many of them reached the target
    # The observation's float32 per-configuration features, updated where a step changes them so
    # that observing a large batch is a copy rather than three divisions over every configuration.
    tries_feature: np.ndarray  # (N, B*P) tries / num_recurrences
    mean_cost_feature: np.ndarray  # (N, B*P) cost_sum / tries
    reach_rate_feature: np.ndarray  # (N, B*P) reached / tries
    profiled: np.ndarray  # (N, B) batch sizes whose power limits were profiled
    last_run: np.ndarray  # (N, 4) ran, reached, cost / default_cost, profiled of the last step

    def copy(self) -> State:
        """A deep copy (states are updated in place by `step(..., inplace=True)`)."""
        return State(**{f.name: getattr(self, f.name).copy() for f in fields(self)})


@dataclass(frozen=True, eq=False)
class Outcome:
    """What one step did, per job (N,)."""

    batch_index: np.ndarray
    power_index: np.ndarray  # the limit actually used (the profiled choice for a profile action)
    batch_size: np.ndarray
    power_limit: np.ndarray
    profiled: np.ndarray
    ran: np.ndarray
    reached: np.ndarray
    epochs: np.ndarray
    energy: np.ndarray
    time: np.ndarray
    cost: np.ndarray
    threshold: np.ndarray  # early-stop cost threshold used by this run (inf: none)
    fallback: np.ndarray  # the recurrence hit max_retries and was finished by b0 at its top limit
    fallback_batch_size: np.ndarray  # 0 without a fallback
    fallback_power_limit: np.ndarray
    fallback_energy: np.ndarray
    fallback_time: np.ndarray
    fallback_cost: np.ndarray
    step_cost: np.ndarray  # cost + fallback_cost
    reward: np.ndarray  # -step_cost / default_cost
    recurrence: np.ndarray  # 1-based recurrence this step belonged to
    attempt: np.ndarray  # 1-based attempt within it
    recurrence_done: np.ndarray
    min_cost: np.ndarray  # after this step
    terminated: np.ndarray


def reset(params: Params, job: np.ndarray) -> State:
    """A fresh state for jobs `job` (indices into `params.jobs`)."""
    n = len(job)
    grid = (n, params.max_batch_sizes * params.max_power_limits)
    return State(
        job=np.asarray(job, dtype=np.int64).copy(),
        recurrence=np.zeros(n, dtype=np.int64),
        attempt=np.zeros(n, dtype=np.int64),
        recurrence_cost=np.zeros(n),
        min_cost=np.full(n, np.inf),
        tries=np.zeros(grid),
        cost_sum=np.zeros(grid),
        reached=np.zeros(grid),
        tries_feature=np.zeros(grid, dtype=np.float32),
        mean_cost_feature=np.zeros(grid, dtype=np.float32),
        reach_rate_feature=np.zeros(grid, dtype=np.float32),
        profiled=np.zeros((n, params.max_batch_sizes), dtype=bool),
        last_run=np.zeros((n, 4)),
    )


def replace_rows(state: State, rows: np.ndarray, fresh: State) -> None:
    """Overwrite jobs `rows` of `state` in place with the jobs of `fresh` (e.g. after a reset)."""
    for f in fields(state):
        getattr(state, f.name)[rows] = getattr(fresh, f.name)


def invalid_actions(params: Params, state: State, action: np.ndarray) -> np.ndarray:
    """Mask (N,) of actions that are out of range or name an unmeasured configuration."""
    b, p = action[:, 0], action[:, 1]
    in_range = (b >= 0) & (b < params.max_batch_sizes) & (p >= 0) & (p <= params.max_power_limits)
    return ~in_range | ~params.playable[state.job, np.where(in_range, b, 0), np.where(in_range, p, 0)]


def step(params: Params, state: State, action: np.ndarray, draw: Draw, *, inplace: bool = False) -> tuple[State, Outcome]:
    """Run one attempt of each job with `action[:, 0]` = batch size index and `action[:, 1]` = power
    limit index (index P, one past the padded limits, means: profile just in time). Actions must
    be valid (see `invalid_actions`). Returns the next state and what happened."""
    if not inplace:
        state = state.copy()
    rows = np.arange(len(state.job))
    job, b = state.job, action[:, 0]
    profiled = action[:, 1] == params.max_power_limits
    p = np.where(profiled, params.best_limit[job, b], action[:, 1])
    time_per_epoch = params.time_per_epoch[job, b, p]
    energy_per_epoch = params.energy_per_epoch[job, b, p]
    eta, max_power = params.eta, params.max_power[job]

    # The training path is drawn before anything else, even for a run that cannot start.
    target = params.target_epochs[job, b, draw(params.num_paths[job, b])]

    threshold = params.beta * state.min_cost
    limited = threshold != np.inf
    affordable = np.floor_divide(np.where(limited, threshold, 0.0), params.epoch_cost[job, b, p])
    allowed = np.where(limited, np.minimum(affordable, params.max_epochs[job]), params.max_epochs[job])
    ran = allowed > 0
    reached = ran & (target <= allowed)  # NaN (never reached) compares False
    epochs = np.where(reached, target, allowed)
    # A profiled run spends its first epoch cycling through all power limits of the batch size.
    energy = np.where(profiled, params.profile_energy[job, b] + energy_per_epoch * (epochs - 1), energy_per_epoch * epochs)
    time = np.where(profiled, params.profile_time[job, b] + time_per_epoch * (epochs - 1), time_per_epoch * epochs)
    energy, time = np.where(ran, energy, 0.0), np.where(ran, time, 0.0)
    cost = eta * energy + (1 - eta) * max_power * time

    attempt = state.attempt + 1
    recurrence_cost = np.where(ran, state.recurrence_cost + cost, state.recurrence_cost)
    fallback = ~reached & (attempt >= params.max_retries)
    k = draw(np.where(fallback, params.num_fallback[job], 1))
    fallback_energy = np.where(fallback, params.fallback_energy[job, k], 0.0)
    fallback_time = np.where(fallback, params.fallback_time[job, k], 0.0)
    fallback_cost = eta * fallback_energy + (1 - eta) * max_power * fallback_time
    recurrence_cost = np.where(fallback, recurrence_cost + fallback_cost, recurrence_cost)
    done = reached | fallback
    min_cost = np.where(done & (state.min_cost > recurrence_cost), recurrence_cost, state.min_cost)

    default_cost = params.default_cost[job]
    normalized = cost / default_cost
    config = b * params.max_power_limits + p
    state.tries[rows, config] += ran
    state.cost_sum[rows, config] += np.where(ran, normalized, 0.0)
    state.reached[rows, config] += reached
    tries = state.tries[rows, config]
    state.tries_feature[rows, config] = tries / params.num_recurrences[job]
    state.mean_cost_feature[rows, config] = state.cost_sum[rows, config] / np.maximum(tries, 1.0)
    state.reach_rate_feature[rows, config] = state.reached[rows, config] / np.maximum(tries, 1.0)
    state.profiled[rows, b] |= profiled
    for column, value in enumerate((ran, reached, normalized, profiled)):
        state.last_run[:, column] = value
    outcome_recurrence = state.recurrence + 1
    state.recurrence[:] += done
    state.attempt[:] = np.where(done, 0, attempt)
    state.recurrence_cost[:] = np.where(done, 0.0, recurrence_cost)
    state.min_cost[:] = min_cost

    step_cost = np.where(fallback, cost + fallback_cost, cost)
    return state, Outcome(
        batch_index=b.copy(),
        power_index=p,
        batch_size=params.batch_sizes[job, b],
        power_limit=params.power_limits[job, p],
        profiled=profiled,
        ran=ran,
        reached=reached,
        epochs=epochs.astype(np.int64) * ran,
        energy=energy,
        time=time,
        cost=cost,
        threshold=threshold,
        fallback=fallback,
        fallback_batch_size=np.where(fallback, params.batch_sizes[job, params.b0_index[job]], 0),
        fallback_power_limit=np.where(fallback, params.power_limits[job, params.b0_limit[job]], 0),
        fallback_energy=fallback_energy,
        fallback_time=fallback_time,
        fallback_cost=fallback_cost,
        step_cost=step_cost,
        reward=-step_cost / default_cost,
        recurrence=outcome_recurrence,
        attempt=attempt,
        recurrence_done=done,
        min_cost=min_cost,
        terminated=state.recurrence >= params.num_recurrences[job],
    )


def observe(params: Params, state: State, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The observation of each job (float32, leading axis N); see RecurringJobEnv's docstring.

    With `out` (arrays of the right shapes) it is written there instead of into new arrays."""
    job = state.job
    threshold = params.beta * state.min_cost
    known = threshold != np.inf
    values = {
        "progress": (state.recurrence / params.num_recurrences[job])[:, None],
        "attempt": (state.attempt / params.max_retries)[:, None],
        "threshold": None,
        "last_run": state.last_run,
        "tries": state.tries_feature,
        "mean_cost": state.mean_cost_feature,
        "reach_rate": state.reach_rate_feature,
        "profiled": state.profiled,
        "batch_sizes": params.batch_feature[job],
        "power_limits": params.power_feature[job],
        "playable": params.playable[job].reshape(len(job), -1),
    }
    if out is None:
        out = {key: np.empty(value.shape if value is not None else (len(job), 2), dtype=np.float32) for key, value in values.items()}
    for key, value in values.items():
        if value is not None:
            out[key][...] = value
    out["threshold"][:, 0] = known
    out["threshold"][:, 1] = np.where(known, threshold, 0.0) / params.default_cost[job]
    return out
