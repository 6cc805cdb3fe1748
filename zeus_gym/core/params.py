"""Frozen simulation parameters: one or more jobs stacked on a leading axis, padded to one shape."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from zeus_gym.core.job import JobArrays


@dataclass(frozen=True, eq=False)
class Params:
    """Everything fixed during an episode. Arrays have a leading job axis J (padded with zeros/NaN)."""

    jobs: tuple[JobArrays, ...]
    eta: float
    beta: float
    max_retries: int
    num_recurrences: np.ndarray  # (J,) int64
    num_batch_sizes: np.ndarray  # (J,) int64
    num_power_limits: np.ndarray  # (J,) int64
    batch_sizes: np.ndarray  # (J, B) int64
    power_limits: np.ndarray  # (J, P) int64
    feasible: np.ndarray  # (J, B, P) bool
    playable: np.ndarray  # (J, B, P + 1) bool: measured configurations, and profiling (index P)
    time_per_epoch: np.ndarray  # (J, B, P)
    energy_per_epoch: np.ndarray  # (J, B, P)
    batch_max_limit: np.ndarray  # (J, B)
    profile_energy: np.ndarray  # (J, B)
    profile_time: np.ndarray  # (J, B)
    epoch_cost: np.ndarray  # (J, B, P)
    profile_epoch_cost: np.ndarray  # (J, B, P), inf where unmeasured
    best_limit: np.ndarray  # (J, B)
    target_epochs: np.ndarray  # (J, B, R)
    num_paths: np.ndarray  # (J, B)
    max_epochs: np.ndarray  # (J,) float64
    max_power: np.ndarray  # (J,)
    default_cost: np.ndarray  # (J,)
    max_run_cost: np.ndarray  # (J,) normalized by default_cost
    b0_index: np.ndarray  # (J,)
    b0_limit: np.ndarray  # (J,) index of b0's largest power limit
    batch_feature: np.ndarray  # (J, B) (log2 b + 1) / (log2 BATCH_SCALE + 1); 0 = padding
    power_feature: np.ndarray  # (J, P) limit / POWER_SCALE; 0 = padding
    default_feature: np.ndarray  # (J, B) one-hot of b0's slot
    # The v1 observation's fixed per-configuration facts, K = B * (P + 1) flat actions (b * (P + 1) + p):
    config_static: np.ndarray  # (J, K, 5) float32: batch feature, power feature, is-profile, b0, playable
    config_epoch_cost: np.ndarray  # (J, B, P + 1) cost of one epoch / default_cost (profile: at its limit)
    config_epoch_ratio: np.ndarray  # (J, B, P + 1) cost of one epoch / that of b0 at its top limit
    fallback_energy: np.ndarray  # (J, K)
    fallback_time: np.ndarray  # (J, K)
    num_fallback: np.ndarray  # (J,)

    @property
    def max_batch_sizes(self) -> int:
        """Padded number of batch sizes B."""
        return self.batch_sizes.shape[1]

    @property
    def max_power_limits(self) -> int:
        """Padded number of power limits P."""
        return self.power_limits.shape[1]


# Scales of the observation's slot features: fixed, so that a policy sees the same numbers for a
# batch size or a power limit whatever jobs it was trained and evaluated on.
BATCH_SCALE = 2**16
POWER_SCALE = 1000.0  # W


def _stack(arrays: list[np.ndarray], fill: float | int | bool, minimum: tuple[int, ...] = ()) -> np.ndarray:
    """Stack arrays of differing shapes on a new leading axis, padding at the end of each axis
    (the first axes to at least `minimum`)."""
    shape = tuple(max(sizes) for sizes in zip(*(a.shape for a in arrays)))
    shape = tuple(max(n, m) for n, m in zip(shape, minimum)) + shape[len(minimum):]
    out = np.full((len(arrays), *shape), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, n) for n in a.shape))] = a
    return out


def is_number(value: object) -> bool:
    """A real number, numpy scalars included (np.float32(0.5)); not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integer(value: object) -> bool:
    """An integer, numpy scalars included (np.int64(3)); not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_knobs(eta: float, beta: float, max_retries: int) -> tuple[float, float, int]:
    """Reject knob values the cost model does not define, naming the argument; returns them as
    Python float, float, int (a float32 eta must not turn the cost arithmetic into float32)."""
    if not is_number(eta) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta_knob must be a number in [0, 1], got {eta!r}")
    if not is_number(beta) or math.isnan(beta) or beta <= 0:
        raise ValueError(f"beta_knob must be a positive number or inf (no early stopping), got {beta!r}")
    if not is_integer(max_retries) or max_retries < 1:
        raise ValueError(f"max_retries must be a positive integer, got {max_retries!r}")
    return float(eta), float(beta), int(max_retries)


def check_slots(slots: object) -> tuple[int, int] | None:
    """`slots` as (batch sizes, power limits), two positive integers, or None."""
    if slots is None:
        return None
    try:
        pair = tuple(slots)  # type: ignore[call-overload]
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(is_integer(n) and n > 0 for n in pair):
        raise ValueError(f"slots must be two positive integers (batch sizes, power limits), e.g. (15, 9), got {slots!r}")
    return int(pair[0]), int(pair[1])


def make_params(
    jobs: list[JobArrays] | tuple[JobArrays, ...],
    *,
    eta: float,
    beta: float,
    max_retries: int = 20,
    num_recurrences: int | None = None,
    slots: tuple[int, int] | None = None,
) -> Params:
    """Stack `jobs` (built for the same `eta`) into `Params`, with at least `slots` = (batch
    sizes, power limits) action slots (to train a policy on some jobs and run it on others)."""
    eta, beta, max_retries = check_knobs(eta, beta, max_retries)
    slots = check_slots(slots)
    if not jobs:
        raise ValueError("at least one job is needed")
    if num_recurrences is not None and (not is_integer(num_recurrences) or num_recurrences < 1):
        raise ValueError(f"num_recurrences must be a positive integer or None (2|B||P|), got {num_recurrences!r}")
    num_recurrences = None if num_recurrences is None else int(num_recurrences)

    min_b, min_p = slots or (0, 0)
    largest = max(len(job.batch_sizes) for job in jobs), max(len(job.power_limits) for job in jobs)
    if slots is not None and (min_b < largest[0] or min_p < largest[1]):
        raise ValueError(f"slots={slots} is smaller than the jobs need: at least {largest} (batch sizes, power limits)")
    too_big = [(job.spec.describe(), job.gpu) for job in jobs if job.batch_sizes.max() > BATCH_SCALE or job.power_limits.max() > POWER_SCALE]
    if too_big:
        raise ValueError(f"jobs {too_big} have batch sizes above {BATCH_SCALE} or power limits above {POWER_SCALE} W, beyond the observation's feature scales")
    # Leading axes of each per-job array: B (batch sizes), P (power limits), or B x P.
    axes = {"batch_sizes": (min_b,), "power_limits": (min_p,), "feasible": (min_b, min_p), "time_per_epoch": (min_b, min_p),
            "energy_per_epoch": (min_b, min_p), "epoch_cost": (min_b, min_p), "profile_epoch_cost": (min_b, min_p),
            "batch_max_limit": (min_b,), "profile_energy": (min_b,), "profile_time": (min_b,), "best_limit": (min_b,),
            "target_epochs": (min_b,), "num_paths": (min_b,)}

    def stack(name: str, fill: float | int | bool = 0) -> np.ndarray:
        return _stack([np.asarray(getattr(job, name)) for job in jobs], fill, axes.get(name, ()))

    def per_job(values: list[float | int], dtype: type) -> np.ndarray:
        return np.array(values, dtype=dtype)

    feasible = stack("feasible", False)
    batch_sizes, power_limits = stack("batch_sizes"), stack("power_limits")
    real_batch = batch_sizes > 0
    # Job-independent descriptions of each action slot, so that one policy can act on any job.
    batch_feature = np.where(real_batch, (np.log2(np.where(real_batch, batch_sizes, 1)) + 1) / (np.log2(BATCH_SCALE) + 1), 0.0)
    power_feature = power_limits / POWER_SCALE
    playable = np.concatenate([feasible, real_batch[:, :, None]], axis=2)
    static, epoch_cost, epoch_ratio = _config_facts(jobs, eta, playable, batch_feature, power_feature, stack)
    return Params(
        jobs=tuple(jobs),
        eta=float(eta),
        beta=float(beta),
        max_retries=max_retries,
        num_recurrences=per_job([num_recurrences or job.num_recurrences for job in jobs], np.int64),
        num_batch_sizes=per_job([len(job.batch_sizes) for job in jobs], np.int64),
        num_power_limits=per_job([len(job.power_limits) for job in jobs], np.int64),
        batch_sizes=batch_sizes,
        power_limits=power_limits,
        feasible=feasible,
        playable=playable,
        time_per_epoch=stack("time_per_epoch"),
        energy_per_epoch=stack("energy_per_epoch"),
        batch_max_limit=stack("batch_max_limit"),
        profile_energy=stack("profile_energy"),
        profile_time=stack("profile_time"),
        epoch_cost=stack("epoch_cost"),
        profile_epoch_cost=stack("profile_epoch_cost", np.inf),
        best_limit=stack("best_limit"),
        target_epochs=stack("target_epochs", np.nan),
        num_paths=stack("num_paths"),
        max_epochs=per_job([job.max_epochs for job in jobs], np.float64),
        max_power=per_job([job.max_power for job in jobs], np.float64),
        default_cost=per_job([job.default_cost for job in jobs], np.float64),
        max_run_cost=per_job([job.max_run_cost for job in jobs], np.float64),
        b0_index=per_job([job.b0_index for job in jobs], np.int64),
        b0_limit=per_job([int(np.searchsorted(job.power_limits, job.batch_max_limit[job.b0_index])) for job in jobs], np.int64),
        batch_feature=batch_feature.astype(np.float32),
        power_feature=power_feature.astype(np.float32),
        default_feature=(np.arange(batch_sizes.shape[1]) == np.array([job.b0_index for job in jobs])[:, None]).astype(np.float32),
        config_static=static,
        config_epoch_cost=epoch_cost,
        config_epoch_ratio=epoch_ratio,
        fallback_energy=stack("fallback_energy"),
        fallback_time=stack("fallback_time"),
        num_fallback=per_job([len(job.fallback_energy) for job in jobs], np.int64),
    )


def _config_facts(
    jobs: Sequence[JobArrays],
    eta: float,
    playable: np.ndarray,
    batch_feature: np.ndarray,
    power_feature: np.ndarray,
    stack: Callable[[str], np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fixed per-configuration columns of the v1 observation and each configuration's cost of
    one epoch (what a run of it costs per epoch: the reward's cost, at MAXPOWER), padded with 0."""
    num_j, num_b, num_k = playable.shape
    num_p = num_k - 1
    static = np.zeros((num_j, num_b, num_k, 5), dtype=np.float32)
    static[..., 0] = batch_feature[:, :, None]
    static[..., :num_p, 1] = power_feature[:, None, :]
    static[..., num_p, 2] = 1.0
    b0 = np.array([job.b0_index for job in jobs])
    static[np.arange(num_j), b0, :, 3] = 1.0
    static[..., 4] = playable
    max_power = np.array([job.max_power for job in jobs])[:, None, None]
    per_epoch = eta * stack("energy_per_epoch") + (1 - eta) * max_power * stack("time_per_epoch")
    best = np.take_along_axis(per_epoch, stack("best_limit")[:, :, None], axis=2)
    epoch_cost = np.where(playable, np.concatenate([per_epoch, best], axis=2), 0.0)
    top = np.array([int(np.searchsorted(job.power_limits, job.batch_max_limit[job.b0_index])) for job in jobs])
    reference = epoch_cost[np.arange(num_j), b0, top]
    default_cost = np.array([job.default_cost for job in jobs])
    return (
        static.reshape(num_j, num_b * num_k, 5),
        epoch_cost / default_cost[:, None, None],
        epoch_cost / reference[:, None, None],
    )
