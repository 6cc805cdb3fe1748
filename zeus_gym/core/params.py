"""Frozen simulation parameters: one or more jobs stacked on a leading axis, padded to one shape."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    batch_feature: np.ndarray  # (J, B) (log2 b + 1) / (log2 max_b + 1) over all jobs; 0 = padding
    power_feature: np.ndarray  # (J, P) limit / largest limit over all jobs; 0 = padding
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


def _stack(arrays: list[np.ndarray], fill: float | int | bool) -> np.ndarray:
    """Stack arrays of differing shapes on a new leading axis, padding at the end of each axis."""
    shape = tuple(max(sizes) for sizes in zip(*(a.shape for a in arrays)))
    out = np.full((len(arrays), *shape), fill, dtype=arrays[0].dtype)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, n) for n in a.shape))] = a
    return out


def check_knobs(eta: float, beta: float, max_retries: int) -> None:
    """Reject knob values the cost model does not define, naming the argument."""
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta_knob must be a number in [0, 1], got {eta!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or math.isnan(beta) or beta <= 0:
        raise ValueError(f"beta_knob must be a positive number or inf (no early stopping), got {beta!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 1:
        raise ValueError(f"max_retries must be a positive integer, got {max_retries!r}")


def make_params(
    jobs: list[JobArrays] | tuple[JobArrays, ...],
    *,
    eta: float,
    beta: float,
    max_retries: int = 20,
    num_recurrences: int | None = None,
) -> Params:
    """Stack `jobs` (built for the same `eta`) into `Params`."""
    check_knobs(eta, beta, max_retries)
    if not jobs:
        raise ValueError("at least one job is needed")
    if num_recurrences is not None and (isinstance(num_recurrences, bool) or not isinstance(num_recurrences, int) or num_recurrences < 1):
        raise ValueError(f"num_recurrences must be a positive integer or None (2|B||P|), got {num_recurrences!r}")

    def stack(name: str, fill: float | int | bool = 0) -> np.ndarray:
        return _stack([np.asarray(getattr(job, name)) for job in jobs], fill)

    def per_job(values: list[float | int], dtype: type) -> np.ndarray:
        return np.array(values, dtype=dtype)

    feasible = stack("feasible", False)
    batch_sizes, power_limits = stack("batch_sizes"), stack("power_limits")
    real_batch = batch_sizes > 0
    # Job-independent descriptions of each action slot, so that one policy can act on any job.
    log_batch = np.log2(np.where(real_batch, batch_sizes, 1)) + 1
    batch_feature = np.where(real_batch, log_batch / log_batch.max(), 0.0)
    power_feature = power_limits / power_limits.max()
    playable = np.concatenate([feasible, real_batch[:, :, None]], axis=2)
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
        fallback_energy=stack("fallback_energy"),
        fallback_time=stack("fallback_time"),
        num_fallback=per_job([len(job.fallback_energy) for job in jobs], np.int64),
    )
