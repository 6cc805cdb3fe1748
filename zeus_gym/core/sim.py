"""The simulation core: reset and step N recurring jobs at once with numpy.

Semantics are those of zeus==0.16.0's trace-driven `Simulator.simulate_one_job`, with the same
floating-point operations in the same order so that results match it bit for bit. Randomness is
passed in: `draw(bounds)` returns one uniform index in [0, bound) per job, drawing nothing where
the bound is 1 (as numpy's `Generator.integers(0, 1)` does).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
import operator
from typing import Any, Callable, NamedTuple

import numpy as np

from zeus_gym.core.features import initial_features, update_batch_features
from zeus_gym.core.params import Params
from zeus_gym.core.step_features import update_step_features

Draw = Callable[[Any], Any]  # bounds (array, or an int with the SCALARS backend) -> indices


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
    epochs_sum: np.ndarray  # (N, B*P) epochs run by the configuration's runs (the v1 observation)
    reached_epochs: np.ndarray  # (N, B) epochs-to-target summed over the batch size's reached runs
    config_features: np.ndarray  # (N, K * F) float32 rows of the v1 observation, kept up to date
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
        epochs_sum=np.zeros(grid),
        reached_epochs=np.zeros((n, params.max_batch_sizes)),
        config_features=initial_features(params, np.asarray(job, dtype=np.int64)),
        last_run=np.zeros((n, 4)),
    )


def replace_rows(state: State, rows: np.ndarray, fresh: State) -> None:
    """Overwrite jobs `rows` of `state` in place with the jobs of `fresh` (e.g. after a reset)."""
    for f in fields(state):
        getattr(state, f.name)[rows] = getattr(fresh, f.name)


@dataclass(frozen=True)
class Backend:
    """How `step` computes: on arrays of N jobs, or on one job's scalars.

    The single env steps one job; numpy's per-call overhead on one-element arrays would then
    dominate, so it runs the same code on scalars (Python's and numpy's scalar arithmetic are
    the same IEEE operations as numpy's on arrays, so both give identical numbers)."""

    where: Callable
    minimum: Callable
    floor_divide: Callable
    logical_not: Callable
    to_int: Callable
    copy: Callable
    rows: Callable[[int], Any]  # the jobs' rows of a state array, for scattering into 2-D arrays
    all_rows: Callable[[int], Any]  # the same as a basic index (a view, not a copy)


ARRAYS = Backend(np.where, np.minimum, np.floor_divide, np.logical_not, lambda x: x.astype(np.int64), np.copy, np.arange, lambda n: slice(None))
SCALARS = Backend(lambda c, a, b: a if c else b, min, operator.floordiv, operator.not_, int, lambda x: x, lambda n: 0, lambda n: 0)


def invalid_actions(params: Params, state: State, batch_index: Any, power_index: Any, backend: Backend = ARRAYS) -> Any:
    """Whether each action is out of range or names an unmeasured configuration."""
    b, p, where = batch_index, power_index, backend.where
    in_range = (b >= 0) & (b < params.max_batch_sizes) & (p >= 0) & (p <= params.max_power_limits)
    job = state.job[backend.all_rows(len(state.job))]
    return backend.logical_not(in_range & params.playable[job, where(in_range, b, 0), where(in_range, p, 0)])


class Run(NamedTuple):
    """One simulated run (arrays over jobs, or scalars)."""

    profiled: Any
    power_index: Any  # the limit actually used
    ran: Any
    reached: Any
    epochs: Any
    energy: Any
    time: Any
    cost: Any


def simulate_run(params: Params, job: Any, batch_index: Any, power_index: Any, threshold: Any, draw: Draw, backend: Backend = ARRAYS) -> Run:
    """One run of job `job` at (`batch_index`, `power_index`; index P = profile just in time),
    early-stopped before the epoch whose cost would pass `threshold` (inf: no early stopping).

    This is the reference's `_run_job`: draw a training path, afford floor(threshold / epoch
    cost) epochs at most, reach the target if the path gets there within them and max_epochs."""
    where, b = backend.where, batch_index
    profiled = power_index == params.max_power_limits
    p = where(profiled, params.best_limit[job, b], power_index)
    time_per_epoch = params.time_per_epoch[job, b, p]
    energy_per_epoch = params.energy_per_epoch[job, b, p]
    max_epochs = params.max_epochs[job]
    # The training path is drawn before anything else, even for a run that cannot start.
    target = params.target_epochs[job, b, draw(params.num_paths[job, b])]
    limited = threshold != np.inf
    affordable = backend.floor_divide(where(limited, threshold, 0.0), params.epoch_cost[job, b, p])
    allowed = where(limited, backend.minimum(affordable, max_epochs), max_epochs)
    ran = allowed > 0
    reached = ran & (target <= allowed)  # NaN (never reached) compares False
    epochs = where(reached, target, allowed)
    # A profiled run spends its first epoch cycling through all power limits of the batch size.
    energy = where(profiled, params.profile_energy[job, b] + energy_per_epoch * (epochs - 1), energy_per_epoch * epochs)
    time = where(profiled, params.profile_time[job, b] + time_per_epoch * (epochs - 1), time_per_epoch * epochs)
    energy, time = where(ran, energy, 0.0), where(ran, time, 0.0)
    cost = params.eta * energy + (1 - params.eta) * params.max_power[job] * time
    return Run(profiled, p, ran, reached, epochs, energy, time, cost)


def step(
    params: Params,
    state: State,
    batch_index: Any,
    power_index: Any,
    draw: Draw,
    *,
    backend: Backend = ARRAYS,
    inplace: bool = False,
) -> tuple[State, Outcome]:
    """Run one attempt of each job at batch size index `batch_index` and power limit index
    `power_index` (index P, one past the padded limits, means: profile just in time). Actions
    must be valid (see `invalid_actions`). Returns the next state and what happened; with the
    SCALARS backend the state holds one job and the outcome's fields are scalars."""
    if not inplace:
        state = state.copy()
    where, rows, each = backend.where, backend.rows(len(state.job)), backend.all_rows(len(state.job))
    job, b = state.job[each], batch_index
    threshold = params.beta * state.min_cost[each]
    profiled, p, ran, reached, epochs, energy, time, cost = simulate_run(params, job, b, power_index, threshold, draw, backend)
    eta, max_power = params.eta, params.max_power[job]

    attempt = state.attempt[each] + 1
    recurrence_cost = where(ran, state.recurrence_cost[each] + cost, state.recurrence_cost[each])
    fallback = backend.logical_not(reached) & (attempt >= params.max_retries)
    k = draw(where(fallback, params.num_fallback[job], 1))
    fallback_energy = where(fallback, params.fallback_energy[job, k], 0.0)
    fallback_time = where(fallback, params.fallback_time[job, k], 0.0)
    fallback_cost = eta * fallback_energy + (1 - eta) * max_power * fallback_time
    recurrence_cost = where(fallback, recurrence_cost + fallback_cost, recurrence_cost)
    done = reached | fallback
    previous_min = state.min_cost[each]
    min_cost = where(done & (previous_min > recurrence_cost), recurrence_cost, previous_min)

    default_cost = params.default_cost[job]
    normalized = cost / default_cost
    config = b * params.max_power_limits + p
    state.tries[rows, config] += ran
    state.cost_sum[rows, config] += where(ran, normalized, 0.0)
    state.reached[rows, config] += reached
    tries = state.tries[rows, config]
    state.tries_feature[rows, config] = tries / params.num_recurrences[job]
    at_least_one = where(tries > 1.0, tries, 1.0)
    state.mean_cost_feature[rows, config] = state.cost_sum[rows, config] / at_least_one
    state.reach_rate_feature[rows, config] = state.reached[rows, config] / at_least_one
    newly_profiled = profiled & backend.logical_not(state.profiled[rows, b])
    state.profiled[rows, b] |= profiled
    state.epochs_sum[rows, config] += where(ran, epochs, 0.0)
    state.reached_epochs[rows, b] += where(reached, epochs, 0.0)
    if backend is ARRAYS:  # only what the step changed
        update_step_features(params, state, rows, b, p, ran, newly_profiled)
    else:
        update_batch_features(params, state, rows, b)
    for column, value in enumerate((ran, reached, normalized, profiled)):
        state.last_run[each, column] = value
    recurrence = backend.copy(state.recurrence[each])
    state.recurrence[each] = recurrence + done
    state.attempt[each] = where(done, 0, attempt)
    state.recurrence_cost[each] = where(done, 0.0, recurrence_cost)
    state.min_cost[each] = min_cost

    step_cost = where(fallback, cost + fallback_cost, cost)
    return state, Outcome(
        batch_index=backend.copy(b),
        power_index=p,
        batch_size=params.batch_sizes[job, b],
        power_limit=params.power_limits[job, p],
        profiled=profiled,
        ran=ran,
        reached=reached,
        epochs=backend.to_int(epochs) * ran,
        energy=energy,
        time=time,
        cost=cost,
        threshold=threshold,
        fallback=fallback,
        fallback_batch_size=where(fallback, params.batch_sizes[job, params.b0_index[job]], 0),
        fallback_power_limit=where(fallback, params.power_limits[job, params.b0_limit[job]], 0),
        fallback_energy=fallback_energy,
        fallback_time=fallback_time,
        fallback_cost=fallback_cost,
        step_cost=step_cost,
        reward=-step_cost / default_cost,
        recurrence=recurrence + 1,
        attempt=attempt,
        recurrence_done=done,
        min_cost=min_cost,
        terminated=recurrence + done >= params.num_recurrences[job],
    )


def observe(params: Params, state: State, out: dict[str, np.ndarray] | None = None, rows: Any = slice(None)) -> dict[str, np.ndarray]:
    """The observation (float32) of jobs `rows` of the state: all of them with a leading axis N
    by default, or a single job without that axis for an integer `rows`. See RecurringJobEnv.

    With `out` (arrays of the right shapes) it is written there instead of into new arrays."""
    job = state.job[rows]
    threshold = params.beta * state.min_cost[rows]
    known = threshold != np.inf
    values = {
        "progress": np.divide(state.recurrence[rows], params.num_recurrences[job])[..., None],
        "attempt": np.divide(state.attempt[rows], params.max_retries)[..., None],
        "threshold": np.array([known, np.where(known, threshold, 0.0) / params.default_cost[job]]).T,
        "last_run": state.last_run[rows],
        "tries": state.tries_feature[rows],
        "mean_cost": state.mean_cost_feature[rows],
        "reach_rate": state.reach_rate_feature[rows],
        "profiled": state.profiled[rows],
        "batch_sizes": params.batch_feature[job],
        "power_limits": params.power_feature[job],
        "default": params.default_feature[job],
    }
    if out is None:
        return {key: np.array(value, dtype=np.float32, order="C") for key, value in values.items()}
    for key, value in values.items():
        out[key][...] = value
    return out
