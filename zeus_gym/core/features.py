"""The v2 observation: one row of features per configuration (flat action), plus global features.

`configs` is the (K, F) matrix flattened row-major to (K * F,) (SB3's checker and policies expect
1-D boxes): `obs["configs"].reshape(K, len(CONFIG_FEATURES))` gives one row per configuration.

Configuration k is flat action `b * (P + 1) + p` (p = P: profile batch size b just in time), the
action index of `FlatActions` and of MaskablePPO's masks. Its row, all float32 in [0, high]:

| column | meaning |
|---|---|
| 0 `batch` | (log2 b + 1) / 17; 0 = no such slot |
| 1 `power` | power limit / 1000 W; 0 for the profile action |
| 2 `is_profile` | 1 for the profile action of the batch size |
| 3 `b0` | 1 for every action of b0 |
| 4 `playable` | 1 if the job has this configuration (also the `action_mask` key) |
| 5 `tries` | runs started / `num_recurrences` (profile action: all runs of the batch size) |
| 6 `mean_cost` | their mean cost / `default_cost` |
| 7 `reach_rate` | fraction of them that reached the target |
| 8 `profiled` | 1 if the batch size's power limits were profiled |
| 9 `epoch_cost_known` | 1 once a run of it, or a profile of its batch size, revealed its cost per epoch |
| 10 `epoch_cost` | that cost per epoch / b0's at its top limit (0 while unknown) |
| 11 `mean_epochs` | mean epochs of its runs / `max_epochs` (profile action: of the batch size) |
| 12 `target_epochs` | mean epochs-to-target of the batch size's reached runs / `max_epochs` |
| 13 `estimate` | cost per epoch x mean epochs-to-target / `default_cost`, where both are known |

Global features: progress, attempt, early stopping active, threshold / `default_cost`, the last
run (ran, reached, cost / `default_cost`, profiled), eta, 1 / beta (0 for no early stopping), and
1 / `num_recurrences` (new in v2: how much one run weighs in the episode, which decides whether a
trial is affordable; v1's rows gave it only while some batch size had run exactly once).
The core keeps the rows in `State.config_features`, recomputing after each step only the P + 1
rows of the batch size that ran (tested equal to the definition over all rows), so observing is
a copy. Only what an agent has seen is revealed: per-epoch costs are the traces' numbers, which a run or a
profile measures exactly (`info["profile_epoch_cost"]`), and epochs are counted from its runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from zeus_gym.core.params import Params

if TYPE_CHECKING:
    from zeus_gym.core.sim import State

CONFIG_FEATURES = (
    "batch", "power", "is_profile", "b0", "playable", "tries", "mean_cost", "reach_rate", "profiled",
    "epoch_cost_known", "epoch_cost", "mean_epochs", "target_epochs", "estimate",
)
GLOBAL_FEATURES = (
    "progress", "attempt", "threshold_active", "threshold", "last_ran", "last_reached", "last_cost",
    "last_profiled", "eta", "inverse_beta", "inverse_recurrences",
)
NUM_STATIC = 5  # the first columns come from Params.config_static


def num_configs(params: Params) -> int:
    """K: one configuration per flat action."""
    return params.max_batch_sizes * (params.max_power_limits + 1)


def observation_bounds(params: Params, caps: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Upper bounds of each key (lower bounds are 0); finite, with 1 % headroom for float32.
    `caps` = (max run cost, max epoch-cost ratio) replace those of `params`' jobs (procedural jobs)."""
    run_cost = 1.01 * float(params.max_run_cost.max() if caps is None else caps[0])
    threshold = params.beta * (params.max_retries + 1) * run_cost if np.isfinite(params.beta) else 1.0
    ratio = 1.01 * float(params.config_epoch_ratio.max() if caps is None else caps[1])
    column = np.ones(len(CONFIG_FEATURES), dtype=np.float32)
    column[CONFIG_FEATURES.index("tries")] = params.max_retries
    column[[CONFIG_FEATURES.index("mean_cost"), CONFIG_FEATURES.index("estimate")]] = max(run_cost, 1.0)
    column[CONFIG_FEATURES.index("epoch_cost")] = max(ratio, 1.0)
    globals_ = np.ones(len(GLOBAL_FEATURES), dtype=np.float32)
    globals_[GLOBAL_FEATURES.index("threshold")] = max(threshold, 1.0)
    globals_[GLOBAL_FEATURES.index("last_cost")] = max(run_cost, 1.0)
    globals_[GLOBAL_FEATURES.index("inverse_beta")] = max(1.0, 1.0 / params.beta)
    return {
        "configs": np.tile(column, num_configs(params)),
        "globals": globals_,
        "action_mask": np.ones(num_configs(params), dtype=np.float32),
    }


def empty_observation(params: Params, n: int | None, allocate: Callable = np.zeros) -> dict[str, np.ndarray]:
    """Views of ONE contiguous float32 buffer per key (`n` jobs, or one without a leading axis);
    `allocate=np.empty` for a buffer that is about to be overwritten whole."""
    return observation_views(params, observation_buffer(params, n, allocate))


def observation_buffer(params: Params, n: int | None, allocate: Callable = np.zeros) -> np.ndarray:
    """The float32 array (`n` rows, or one without a leading axis) of `empty_observation`."""
    k, f, g = num_configs(params), len(CONFIG_FEATURES), len(GLOBAL_FEATURES)
    lead = () if n is None else (n,)
    return allocate((*lead, k * f + g + k), dtype=np.float32)


def observation_views(params: Params, buffer: np.ndarray) -> dict[str, np.ndarray]:
    """The observation's keys as views of `buffer`, float32 rows (configs, globals, action_mask)."""
    k, f, g = num_configs(params), len(CONFIG_FEATURES), len(GLOBAL_FEATURES)
    return {
        "configs": buffer[..., : k * f],
        "globals": buffer[..., k * f : k * f + g],
        "action_mask": buffer[..., k * f + g :],
    }


def initial_features(params: Params, job: np.ndarray) -> np.ndarray:
    """(n, K * F) float32 rows of fresh episodes of jobs `job`: the static columns, zeros after."""
    features = np.zeros((len(job), num_configs(params), len(CONFIG_FEATURES)), dtype=np.float32)
    features[..., :NUM_STATIC] = params.config_static[job]
    return features.reshape(len(job), -1)


def update_batch_features(params: Params, state: State, rows: Any, batch_index: Any) -> None:
    """Recompute, in `state.config_features`, the rows of the P + 1 configurations of batch size
    `batch_index` of each job in `rows` (arrays, or scalars for one job): a step only changes the
    statistics of the batch size it ran, so observing is a copy rather than work over all K."""
    rows, b = np.atleast_1d(rows), np.atleast_1d(batch_index)
    num_p = params.max_power_limits
    used = b[:, None] * num_p + np.arange(num_p)  # the batch size's (b, p) entries of the counters
    job = state.job[rows]
    picked = rows[:, None]
    tries = _with_total(state.tries[picked, used])
    at_least_one = np.maximum(tries, 1.0)
    reached = state.reached[picked, used]
    batch_reached = reached.sum(axis=1)
    target = state.reached_epochs[rows, b] / np.maximum(batch_reached, 1.0)  # epochs
    profiled = state.profiled[rows, b]
    max_epochs = params.max_epochs[job][:, None]
    known = profiled[:, None] | (tries > 0)
    known[:, num_p] = profiled
    dynamic = (
        tries / params.num_recurrences[job][:, None],
        _with_total(state.cost_sum[picked, used]) / at_least_one,
        _with_total(reached) / at_least_one,
        np.broadcast_to(profiled[:, None], tries.shape),
        known,
        np.where(known, params.config_epoch_ratio[job, b], 0.0),
        _with_total(state.epochs_sum[picked, used]) / at_least_one / max_epochs,
        np.broadcast_to((target / max_epochs[:, 0])[:, None], tries.shape),
        np.where(known & (batch_reached > 0)[:, None], params.config_epoch_cost[job, b] * target[:, None], 0.0),
    )
    block = state.config_features.reshape(len(state.job), -1, len(CONFIG_FEATURES))
    configs = b[:, None] * (num_p + 1) + np.arange(num_p + 1)
    block[picked, configs, NUM_STATIC:] = np.stack(dynamic, axis=-1)


def _with_total(per_limit: np.ndarray) -> np.ndarray:
    """(m, P) -> (m, P + 1): the profile column holds the batch size's total."""
    return np.concatenate([per_limit, per_limit.sum(axis=1, keepdims=True)], axis=1)


def observe_configs(params: Params, state: State, out: dict[str, np.ndarray] | None = None, rows: Any = slice(None)) -> dict[str, np.ndarray]:
    """The v2 observation of jobs `rows` (a leading axis N, or one job for an integer `rows`),
    written into `out` (from `empty_observation`) or into a fresh buffer."""
    single = isinstance(rows, (int, np.integer))
    sel = slice(int(rows), int(rows) + 1) if single else rows
    job = state.job[sel]
    n = len(job)
    obs = empty_observation(params, n, np.empty) if out is None or single else out  # every entry is written below
    obs["configs"][...] = state.config_features[sel]
    obs["action_mask"][...] = params.playable[job].reshape(n, -1)
    threshold = params.beta * state.min_cost[sel]
    active = threshold != np.inf
    globals_ = obs["globals"]
    globals_[..., 0] = state.recurrence[sel] / params.num_recurrences[job]
    globals_[..., 1] = state.attempt[sel] / params.max_retries
    globals_[..., 2] = active
    globals_[..., 3] = np.where(active, threshold, 0.0) / params.default_cost[job]
    globals_[..., 4:8] = state.last_run[sel]
    globals_[..., 8] = params.eta
    globals_[..., 9] = 0.0 if params.beta == np.inf else 1.0 / params.beta
    globals_[..., 10] = 1.0 / params.num_recurrences[job]
    if not single:
        return obs
    one = {key: value[0] for key, value in obs.items()}
    if out is None:
        return one
    for key, value in one.items():
        out[key][...] = value
    return out
