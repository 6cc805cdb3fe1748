"""`step` of N jobs compiled with numba: the optional accelerator of the vector env.

The numpy `step` makes some eighty array operations per vector step, each a pass over N jobs
with its own call overhead; at N = 1024 they cost about 1.5 ms, several times the copy of the
observation that a `copy=True` step must make. This module runs the same per-job arithmetic in
one compiled loop over the jobs: `simulate_run`, `step`, the `configs` rows the step changes
(`update_step_features`, `update_batch_features` for a batch size profiled for the first time)
and the observation's global features and action mask. The kernel releases the GIL, so large
batches are split over threads (one per CPU, at most 8); each job touches only its own rows, so
the result does not depend on the split. With threads, the copy of the observation's `configs`
rows (a memcpy bound by memory bandwidth) runs while another thread steps (bound by memory
latency): the first part is stepped then copied, the others copied then stepped.

Exactness: every float operation is the numpy path's, in its order, on IEEE doubles (no
fastmath, no reassociation), with numpy's floor division, `np.minimum`/`np.maximum` and pairwise
summation written out; float32 features are stored by the same rounding. The random draws are
`BufferedDraw`'s Lemire draws on the same 32-bit words. `tests/test_compiled_step.py` checks the
state, the outcome (values and dtypes) and the draws equal to the numpy path step for step.

numba is optional (`pip install "zeus-gym[fast]"`); `available()` says whether it is installed,
and nothing here is compiled before the first `step_compiled` (a few seconds, then cached on disk).
"""

from __future__ import annotations

import importlib.util
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from zeus_gym.core.draws import BufferedDraw
from zeus_gym.core.params import Params
from zeus_gym.core.sim import Outcome, State

# Outcome fields by dtype, in the rows of the three matrices the kernel fills.
FLOAT_FIELDS = ("energy", "time", "cost", "threshold", "fallback_energy", "fallback_time", "fallback_cost", "step_cost", "reward", "min_cost")
INT_FIELDS = ("batch_index", "power_index", "batch_size", "power_limit", "epochs", "fallback_batch_size", "fallback_power_limit", "recurrence", "attempt")
BOOL_FIELDS = ("profiled", "ran", "reached", "fallback", "recurrence_done", "terminated")


def available() -> bool:
    """Whether numba is installed (without importing it)."""
    return importlib.util.find_spec("numba") is not None


ACCELERATORS = ("numpy", "numba")
_NO_OBSERVATION = np.zeros((0, 0), dtype=np.float32)


def check_accelerator(accelerator: object) -> str:
    """`accelerator` as the vector env takes it, or a ValueError that says what is allowed."""
    if accelerator not in ACCELERATORS:
        raise ValueError(f"accelerator must be one of {', '.join(map(repr, ACCELERATORS))}, got {accelerator!r}")
    if accelerator == "numba" and not available():
        raise ValueError('accelerator="numba" needs numba, which is not installed: pip install "zeus-gym[fast]"')
    return str(accelerator)


def step_compiled(params: Params, state: State, batch_index: np.ndarray, power_index: np.ndarray, draw: BufferedDraw,
                  idle: np.ndarray | None = None, observation: np.ndarray | None = None, reserve: int = 4) -> Outcome:
    """`step(params, state, batch_index, power_index, draw, inplace=True)` compiled: updates
    `state` in place and returns the outcome. `idle`: jobs whose bounds are forced to 1 (they
    draw nothing), as the vector env does for sub-environments about to autoreset.
    `observation`: an (N, K * F + G + K) float32 array (the buffer of `empty_observation`) that
    receives `observe_configs` of the new state. `reserve`: buffers with fewer words left are
    refilled before the kernel runs (a step takes two words per job but for Lemire's rare
    rejections; a job that runs out anyway is stopped before it changes, refilled and resumed)."""
    from zeus_gym.core.compiled_kernel import step_jobs  # imports numba (half a second) on first use

    n = len(state.job)
    b = np.ascontiguousarray(batch_index, dtype=np.int64)
    p = np.ascontiguousarray(power_index, dtype=np.int64)
    idle = np.zeros(n, dtype=bool) if idle is None else np.ascontiguousarray(idle, dtype=bool)
    floats = np.empty((len(FLOAT_FIELDS), n))
    ints = np.empty((len(INT_FIELDS), n), dtype=np.int64)
    bools = np.empty((len(BOOL_FIELDS), n), dtype=bool)
    for i in np.flatnonzero(draw.position > draw.block - reserve).tolist():
        draw.refill_keeping(i)
    obs = _NO_OBSERVATION if observation is None else observation
    playable = _float_masks(params)
    inverse_beta = 0.0 if params.beta == np.inf else 1.0 / params.beta  # as observe_configs
    arrays = (b, p, idle, draw.words, draw.position, *_param_arrays(params), *_state_arrays(state), floats, ints, bools, obs, playable, inverse_beta)
    stalled = np.zeros(n, dtype=bool)
    parts = np.array_split(np.arange(n), _threads()) if n >= _JOBS_PER_THREAD * 2 else [np.arange(n)]
    # Copying the configs rows is bound by memory bandwidth and the kernel by memory latency, so
    # with threads they overlap: this thread steps its part and then copies its rows, each helper
    # copies its part's rows and then steps it, writing into them the rows its steps change. No
    # two threads touch the same rows at once.
    overlap = observation is not None and len(parts) > 1
    if overlap:
        others = [_pool().submit(_copy_then_step, part, state.config_features, observation, stalled, arrays) for part in parts[1:]]
    else:
        others = [_pool().submit(step_jobs, part, stalled, False, *arrays) for part in parts[1:]]
    step_jobs(parts[0], stalled, False, *arrays)  # the kernel releases the GIL
    if overlap:
        _copy_rows(parts[0], state.config_features, observation)
    for future in others:
        future.result()
    jobs = np.flatnonzero(stalled)
    while jobs.size:
        # A job whose buffered words ran out did not step: refill it, keeping the words it had
        # not consumed (the stream stays the same), and step it again.
        for i in jobs.tolist():
            if draw.position[i] == 0:  # it had a whole block and needed more
                raise RuntimeError(f"job {i} needed more than {draw.block} random words in one step")
            draw.refill_keeping(i)
        stalled[jobs] = False
        step_jobs(jobs, stalled, overlap, *arrays)  # rare: on this thread
        jobs = np.flatnonzero(stalled)
    if observation is not None and not overlap:
        np.copyto(observation[:, : state.config_features.shape[1]], state.config_features)
    columns = {**dict(zip(FLOAT_FIELDS, floats)), **dict(zip(INT_FIELDS, ints)), **dict(zip(BOOL_FIELDS, bools))}
    return Outcome(**columns)


def _copy_rows(jobs: np.ndarray, features: np.ndarray, observation: np.ndarray) -> None:
    """The configs rows of the contiguous run of jobs `jobs` into their observation rows."""
    rows = slice(int(jobs[0]), int(jobs[-1]) + 1)
    np.copyto(observation[rows, : features.shape[1]], features[rows])


def _copy_then_step(jobs: np.ndarray, features: np.ndarray, observation: np.ndarray, stalled: np.ndarray, arrays: tuple) -> None:
    """A helper thread's part: copy the rows of `jobs`, then step them writing the rows they change."""
    from zeus_gym.core.compiled_kernel import step_jobs

    _copy_rows(jobs, features, observation)
    step_jobs(jobs, stalled, True, *arrays)


_MASKS: weakref.WeakKeyDictionary[Params, np.ndarray] = weakref.WeakKeyDictionary()


def _float_masks(params: Params) -> np.ndarray:
    """(J, K) float32 action masks of the jobs of `params`, made once: a row copy per job."""
    masks = _MASKS.get(params)
    if masks is None:
        masks = _MASKS[params] = params.playable.reshape(len(params.playable), -1).astype(np.float32)
    return masks


_JOBS_PER_THREAD = 256  # below this a thread's hand-off costs more than it saves


@lru_cache(maxsize=None)
def _threads() -> int:
    """Threads a step uses: the CPUs this process may run on, at most 8."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """This process's helper threads (a forked child gets its own: the parent's threads are not in it)."""
    pool = _POOLS.get(os.getpid())
    if pool is None:
        pool = _POOLS[os.getpid()] = ThreadPoolExecutor(max(1, _threads() - 1), thread_name_prefix="zeus-gym-step")
    return pool


def _param_arrays(params: Params) -> tuple:
    return (
        params.eta, params.beta, params.max_retries, params.max_power_limits, params.num_recurrences, params.batch_sizes,
        params.power_limits, params.time_per_epoch, params.energy_per_epoch, params.profile_energy, params.profile_time,
        params.epoch_cost, params.best_limit, params.target_epochs, params.num_paths, params.max_epochs, params.max_power,
        params.default_cost, params.b0_index, params.b0_limit, params.config_epoch_cost, params.config_epoch_ratio,
        params.fallback_energy, params.fallback_time, params.num_fallback,
    )


def _state_arrays(state: State) -> tuple:
    return (
        state.job, state.recurrence, state.attempt, state.recurrence_cost, state.min_cost, state.tries, state.cost_sum,
        state.reached, state.tries_feature, state.mean_cost_feature, state.reach_rate_feature, state.profiled,
        state.epochs_sum, state.reached_epochs, state.config_features, state.last_run,
    )
