"""One job's step on Python scalars: the single env's fast path of `zeus_gym.core.sim.step`.

numpy's per-call overhead (about 1 µs) dominates a step of one job, so this path reads per-job
lookup tables of Python numbers (built once per job and `Params`) and updates the state's arrays
element by element through memoryviews (`Rows`), including only the `configs` rows a step changes. The arithmetic is
`simulate_run` and `step`'s, operation for operation on IEEE doubles (Python's floats), so the
state and the outcome are those of `step(..., backend=SCALARS)` bit for bit (tested equal), and
the random draws are the same calls on the same generator in the same order.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES, NUM_STATIC
from zeus_gym.core.params import Params
from zeus_gym.core.sim import State
from zeus_gym.core.sums import pairwise_sum

_F = len(CONFIG_FEATURES)
# Columns of a `configs` row, offsets from the row's start.
_TRIES, _MEAN_COST, _REACH, _PROFILED, _KNOWN, _RATIO, _EPOCHS, _TARGET, _ESTIMATE = range(NUM_STATIC, _F)
# The `State` arrays a step reads or writes element by element (see `Rows`).
_ROW_FIELDS = (
    "recurrence", "attempt", "recurrence_cost", "min_cost", "tries", "cost_sum", "reached", "tries_feature",
    "mean_cost_feature", "reach_rate_feature", "profiled", "epochs_sum", "reached_epochs", "config_features", "last_run",
)


class JobTables:
    """One job of `Params` as nested lists of Python numbers, for `step_one`."""

    def __init__(self, params: Params, job: int) -> None:
        self.num_b, self.num_p = params.max_batch_sizes, params.max_power_limits
        self.eta, self.beta, self.max_retries = params.eta, params.beta, params.max_retries
        self.num_recurrences = int(params.num_recurrences[job])
        self.max_epochs = float(params.max_epochs[job])
        self.max_power = float(params.max_power[job])
        self.default_cost = float(params.default_cost[job])
        self.playable = params.playable[job].tolist()
        self.time_per_epoch = params.time_per_epoch[job].tolist()
        self.energy_per_epoch = params.energy_per_epoch[job].tolist()
        self.epoch_cost = params.epoch_cost[job].tolist()
        self.best_limit = params.best_limit[job].tolist()
        self.profile_energy = params.profile_energy[job].tolist()
        self.profile_time = params.profile_time[job].tolist()
        self.num_paths = params.num_paths[job].tolist()
        self.target_epochs = params.target_epochs[job].tolist()
        self.batch_sizes = params.batch_sizes[job].tolist()
        self.power_limits = params.power_limits[job].tolist()
        self.num_fallback = int(params.num_fallback[job])
        self.fallback_energy = params.fallback_energy[job].tolist()
        self.fallback_time = params.fallback_time[job].tolist()
        self.fallback_batch_size = int(params.batch_sizes[job, params.b0_index[job]])
        self.fallback_power_limit = int(params.power_limits[job, params.b0_limit[job]])
        self.epoch_ratio = params.config_epoch_ratio[job].tolist()
        self.config_epoch_cost = params.config_epoch_cost[job]  # (B, P + 1) float64, for a column at once
        self.config_epoch_cost_list = self.config_epoch_cost.tolist()
        self.profile_epoch_cost = list(params.profile_epoch_cost[job])  # one (P,) row per batch size
        self.unprofiled = np.full(self.num_p, np.inf)
        self.mask = params.playable[job].reshape(-1).astype(np.float32)
        self.num_globals = len(GLOBAL_FEATURES)
        self.inverse_beta = 0.0 if self.beta == np.inf else 1.0 / self.beta
        self.inverse_recurrences = 1.0 / self.num_recurrences


_TABLES: weakref.WeakKeyDictionary[Params, dict[int, JobTables]] = weakref.WeakKeyDictionary()


def job_tables(params: Params, job: int) -> JobTables:
    """The tables of job `job` of `params`, built on first use."""
    per_params = _TABLES.setdefault(params, {})
    tables = per_params.get(job)
    if tables is None:
        tables = per_params[job] = JobTables(params, job)
    return tables


class Rows:
    """Flat memoryviews of the single job's arrays of a `State` (its row 0), and its `configs`
    row as a numpy array: a step reads and writes some forty elements, and one through a
    memoryview costs half of numpy's scalar indexing (the same C casts, so the same values).
    Memoryviews cannot be pickled: an env keeps one per state and rebuilds it after a copy."""

    __slots__ = ("state", "features_array", *_ROW_FIELDS)

    def __init__(self, state: State) -> None:
        if state.job.shape != (1,):
            raise ValueError(f"Rows needs the state of a single job, got {state.job.shape[0]} jobs")
        self.state = state
        self.features_array = state.config_features[0]
        for name in _ROW_FIELDS:
            array = getattr(state, name)
            setattr(self, name, memoryview(array if array.ndim == 1 else array[0]))


def _batch_total(row: np.ndarray, start: int, count: int) -> float:
    """`row[start:start + count].sum()` of float64 as numpy computes it (`pairwise_sum`)."""
    if count < 8:  # the common case, inline: in order from 0.0
        total = 0.0
        for value in row[start : start + count].tolist():
            total += value
        return total
    return pairwise_sum(row[start : start + count].tolist())


def step_one(params: Params, rows: Rows, tables: JobTables, b: int, power_index: int, generator: np.random.Generator) -> tuple:
    """Step the single job of `rows.state` in place at (`b`, `power_index`), a valid action.
    Returns the env's `info` (the `INFO_FIELDS` as Python scalars, the profile's epoch costs, the
    default cost), the reward, `terminated`, and the next observation's global features (see
    `observe_one`)."""
    t, num_p = tables, tables.num_p
    eta = t.eta
    # simulate_run
    profiled = power_index == num_p
    p = t.best_limit[b] if profiled else power_index
    bound = t.num_paths[b]
    target = t.target_epochs[b][int(generator.integers(0, bound)) if bound > 1 else 0]
    previous_min = rows.min_cost[0]
    threshold = t.beta * previous_min
    max_epochs = t.max_epochs
    if threshold != math.inf:
        epoch_cost = t.epoch_cost[b][p]
        affordable = threshold // epoch_cost if epoch_cost != 0.0 else float(np.floor_divide(threshold, epoch_cost))
        allowed = min(affordable, max_epochs)
    else:
        allowed = max_epochs
    ran = allowed > 0
    reached = ran and target <= allowed  # NaN (never reached) compares False
    epochs = target if reached else allowed
    if ran:
        if profiled:
            energy = t.profile_energy[b] + t.energy_per_epoch[b][p] * (epochs - 1)
            time = t.profile_time[b] + t.time_per_epoch[b][p] * (epochs - 1)
        else:
            energy = t.energy_per_epoch[b][p] * epochs
            time = t.time_per_epoch[b][p] * epochs
    else:
        energy = time = 0.0
    max_power = t.max_power
    cost = eta * energy + (1 - eta) * max_power * time

    # step
    attempt = rows.attempt[0] + 1
    recurrence_cost = rows.recurrence_cost[0]
    if ran:
        recurrence_cost = recurrence_cost + cost
    fallback = not reached and attempt >= t.max_retries
    if fallback:
        bound = t.num_fallback
        k = int(generator.integers(0, bound)) if bound > 1 else 0
        fallback_energy, fallback_time = t.fallback_energy[k], t.fallback_time[k]
    else:
        fallback_energy = fallback_time = 0.0
    fallback_cost = eta * fallback_energy + (1 - eta) * max_power * fallback_time
    if fallback:
        recurrence_cost = recurrence_cost + fallback_cost
    done = reached or fallback
    min_cost = recurrence_cost if done and previous_min > recurrence_cost else previous_min

    default_cost = t.default_cost
    normalized = cost / default_cost
    config = b * num_p + p
    was_profiled = rows.profiled[b]
    if ran:
        tries_row, cost_row, reached_row, epochs_row = rows.tries, rows.cost_sum, rows.reached, rows.epochs_sum
        tries = tries_row[config] + 1.0
        tries_row[config] = tries
        cost_sum = cost_row[config] + normalized
        cost_row[config] = cost_sum
        reached_count = reached_row[config] + reached
        reached_row[config] = reached_count
        epochs_sum = epochs_row[config] + epochs
        epochs_row[config] = epochs_sum
        num_recurrences = t.num_recurrences
        at_least_one = tries if tries > 1.0 else 1.0
        rows.tries_feature[config] = tries / num_recurrences
        rows.mean_cost_feature[config] = cost_sum / at_least_one
        rows.reach_rate_feature[config] = reached_count / at_least_one
        if reached:
            rows.reached_epochs[b] += epochs
    if profiled and not was_profiled:
        rows.profiled[b] = True
        _refresh_batch(rows.state, t, b)  # every row of the batch size changes
    elif ran:
        _update_rows(rows, t, b, p, tries, cost_sum, reached_count, epochs_sum, reached, was_profiled)
    last_run = rows.last_run
    last_run[0], last_run[1], last_run[2], last_run[3] = ran, reached, normalized, profiled
    recurrence = rows.recurrence[0]
    rows.recurrence[0] = recurrence + done
    rows.attempt[0] = 0 if done else attempt
    rows.recurrence_cost[0] = 0.0 if done else recurrence_cost
    rows.min_cost[0] = min_cost

    step_cost = cost + fallback_cost if fallback else cost
    next_threshold = t.beta * min_cost
    active = next_threshold != math.inf
    globals_ = (
        (recurrence + done) / t.num_recurrences, (0 if done else attempt) / t.max_retries, active,
        (next_threshold if active else 0.0) / default_cost, ran, reached, normalized, profiled, eta, t.inverse_beta,
        t.inverse_recurrences,
    )
    # The info dict as one display (key order: INFO_FIELDS, then the profile's epoch costs and default_cost).
    info = {
        "batch_index": b, "power_index": p, "batch_size": t.batch_sizes[b], "power_limit": t.power_limits[p],
        "profiled": profiled, "ran": ran, "reached": reached, "epochs": int(epochs) if ran else 0,
        "energy": energy, "time": time, "cost": cost, "threshold": threshold, "fallback": fallback,
        "fallback_batch_size": t.fallback_batch_size if fallback else 0,
        "fallback_power_limit": t.fallback_power_limit if fallback else 0,
        "fallback_energy": fallback_energy, "fallback_time": fallback_time, "fallback_cost": fallback_cost,
        "step_cost": step_cost, "recurrence": recurrence + 1, "attempt": attempt, "recurrence_done": done,
        "min_cost": min_cost,
        "profile_epoch_cost": (t.profile_epoch_cost[b] if profiled else t.unprofiled).copy(),
        "default_cost": default_cost,
    }
    return info, -step_cost / default_cost, recurrence + done >= t.num_recurrences, globals_


def _refresh_batch(state: State, t: JobTables, b: int) -> None:
    """`update_batch_features` for batch size `b` of the single job, all its P + 1 rows, on
    Python floats (the batch size was just profiled)."""
    num_p = t.num_p
    start = b * num_p
    tries = state.tries[0, start : start + num_p].tolist()
    costs = state.cost_sum[0, start : start + num_p].tolist()
    reached = state.reached[0, start : start + num_p].tolist()
    epochs = state.epochs_sum[0, start : start + num_p].tolist()
    tries.append(sum(tries))  # counters: exact in any order
    reached.append(sum(reached))
    costs.append(_batch_total(state.cost_sum[0], start, num_p))
    epochs.append(_batch_total(state.epochs_sum[0], start, num_p))
    batch_reached = reached[num_p]
    target = state.reached_epochs.item((0, b)) / (batch_reached if batch_reached > 1.0 else 1.0)
    num_recurrences, max_epochs = t.num_recurrences, t.max_epochs
    ratio, epoch_cost = t.epoch_ratio[b], t.config_epoch_cost_list[b]
    target_feature = target / max_epochs
    rows = []
    for k in range(num_p + 1):  # profiled: every configuration of b is known
        at_least_one = tries[k] if tries[k] > 1.0 else 1.0
        rows.append((
            tries[k] / num_recurrences, costs[k] / at_least_one, reached[k] / at_least_one, 1.0, 1.0, ratio[k],
            epochs[k] / at_least_one / max_epochs, target_feature, epoch_cost[k] * target if batch_reached > 0 else 0.0,
        ))
    first = b * (num_p + 1)
    state.config_features[0].reshape(-1, _F)[first : first + num_p + 1, NUM_STATIC:] = rows


def _update_rows(rows: Rows, t: JobTables, b: int, p: int, tries: float, cost_sum: float, reached_count: float,
                 epochs_sum: float, reached: bool, profiled: bool) -> None:
    """`update_batch_features` for a run of (b, p) that started, the batch size's profile flag
    unchanged: the rows of p and of the profile action (the batch size's totals) change, and with
    a reached target every row's epochs-to-target and estimate."""
    num_p = t.num_p
    features = rows.config_features
    first = b * (num_p + 1) * _F  # the batch size's first row
    row, total_row = first + p * _F, first + num_p * _F
    num_recurrences, max_epochs = t.num_recurrences, t.max_epochs
    at_least_one = tries if tries > 1.0 else 1.0
    features[row + _TRIES] = tries / num_recurrences
    features[row + _MEAN_COST] = cost_sum / at_least_one
    features[row + _REACH] = reached_count / at_least_one
    features[row + _EPOCHS] = epochs_sum / at_least_one / max_epochs
    start, stop = b * num_p, (b + 1) * num_p
    batch = rows.tries[start:stop].tolist()
    batch_tries = sum(batch)  # counters: exact in any order
    at_least_one = batch_tries if batch_tries > 1.0 else 1.0
    features[total_row + _TRIES] = batch_tries / num_recurrences
    features[total_row + _MEAN_COST] = _batch_total(rows.cost_sum, start, num_p) / at_least_one
    batch_reached = sum(rows.reached[start:stop].tolist())
    features[total_row + _REACH] = batch_reached / at_least_one
    features[total_row + _EPOCHS] = _batch_total(rows.epochs_sum, start, num_p) / at_least_one / max_epochs
    newly_known = tries == 1.0 and not profiled
    if newly_known:
        features[row + _KNOWN] = True
        features[row + _RATIO] = t.epoch_ratio[b][p]
    if reached:  # the batch size's mean epochs-to-target changed: every row's target and estimate
        target = rows.reached_epochs[b] / (batch_reached if batch_reached > 1.0 else 1.0)
        end = first + (num_p + 1) * _F
        rows.features_array[first + _TARGET : end : _F] = target / max_epochs  # one numpy call: the fastest broadcast
        costs, i = t.config_epoch_cost_list[b], first + _ESTIMATE
        if profiled:  # every configuration of b is known
            for cost in costs:
                features[i] = cost * target
                i += _F
        else:  # known: the limits that ran (their tries), not the profile row
            for cost, n in zip(costs, batch):
                features[i] = cost * target if n > 0.0 else 0.0
                i += _F
            features[i] = 0.0
    elif newly_known and batch_reached > 0:
        target = rows.reached_epochs[b] / (batch_reached if batch_reached > 1.0 else 1.0)
        features[row + _ESTIMATE] = t.config_epoch_cost_list[b][p] * target


def observe_one(state: State, tables: JobTables, globals_: tuple | None = None) -> dict[str, np.ndarray]:
    """`observe_configs(params, state, rows=0)` of the single job of `state`: one fresh float32
    buffer, filled with three copies, and a view of it per key (tested equal). `globals_`: the
    global features as `step_one` returns them (else computed from the state)."""
    kf, g = state.config_features.shape[1], tables.num_globals
    buffer = np.empty(kf + g + tables.mask.shape[0], dtype=np.float32)
    observe_into(buffer, state, tables, globals_)
    return {"configs": buffer[:kf], "globals": buffer[kf : kf + g], "action_mask": buffer[kf + g :]}


def observe_into(buffer: np.ndarray, state: State, tables: JobTables, globals_: tuple | None = None) -> None:
    """Write `observe_one`'s observation into `buffer`, a float32 row laid out as its buffer
    (configs, globals, action_mask): a row of a batch, for adapters stepping many single envs."""
    features = state.config_features[0]
    kf, g = features.shape[0], tables.num_globals
    buffer[:kf] = features
    if globals_ is None:
        threshold = tables.beta * state.min_cost.item(0)
        active = threshold != math.inf
        globals_ = (
            state.recurrence.item(0) / tables.num_recurrences, state.attempt.item(0) / tables.max_retries, active,
            (threshold if active else 0.0) / tables.default_cost, *state.last_run[0].tolist(), tables.eta, tables.inverse_beta,
            tables.inverse_recurrences,
        )
    buffer[kf : kf + g] = globals_
    buffer[kf + g :] = tables.mask
