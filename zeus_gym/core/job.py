"""One recurring job on one GPU, parsed once from the trace tables into arrays.

Everything the simulation needs per step is precomputed here, at load time, with the same
floating-point operations (and operation order) as the reference simulator, so that a step only
indexes arrays. The reference joins the train trace with the GPU's power trace on (dataset,
network, batch_size, optimizer); its row order is train rows in file order, each followed by its
power rows in file order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from zeus_gym.core.sums import pairwise_sum
from zeus_gym.workloads import JobSpec

if TYPE_CHECKING:  # only for annotations: importing pandas is a fifth of a second of every start-up
    import pandas as pd

JOIN_KEYS = ["dataset", "network", "batch_size", "optimizer"]


class JobSpecError(ValueError):
    """The job spec does not fit the traces (no rows, unknown target, infeasible b0, ...)."""


@dataclass(frozen=True, eq=False)
class JobArrays:
    """One job on one GPU: B batch sizes x P power limits, R training paths per batch size."""

    spec: JobSpec
    gpu: str
    b0: int  # after capping, see JobSpec.cap_b0
    batch_sizes: np.ndarray  # (B,) int64, ascending: the feasible batch sizes
    power_limits: np.ndarray  # (P,) int64, ascending: the job's power limits
    feasible: np.ndarray  # (B, P) bool: the power trace has this configuration
    time_per_epoch: np.ndarray  # (B, P) s, 0 where infeasible
    energy_per_epoch: np.ndarray  # (B, P) J, 0 where infeasible
    batch_max_limit: np.ndarray  # (B,) W: largest power limit measured for the batch size
    profile_energy: np.ndarray  # (B,) J: first epoch of a just-in-time power profile
    profile_time: np.ndarray  # (B,) s
    epoch_cost: np.ndarray  # (B, P) early-stopping cost of one epoch (uses the batch's top limit)
    profile_epoch_cost: np.ndarray  # (B, P) a profile's epoch cost of each limit, inf where infeasible
    best_limit: np.ndarray  # (B,) index into power_limits chosen by the profile
    target_epochs: np.ndarray  # (B, R) epochs to reach the target; NaN = never (or padding)
    num_paths: np.ndarray  # (B,) int64 training paths (runs) per batch size
    max_epochs: int
    max_power: float  # MAXPOWER: largest power limit of the GPU's whole joined table
    num_recurrences: int  # 2 |B| |P| counted over the job's joined rows, as in the paper
    default_cost: float  # expected cost of one recurrence of b0 at its largest power limit
    max_run_cost: float  # the most one run can cost (any configuration, max_epochs), / default_cost
    fallback_energy: np.ndarray  # (K,) full runs of b0 at its largest limit that reach the target
    fallback_time: np.ndarray  # (K,)
    synthetic: bool = False  # generated (zeus_gym.procedural), not measured

    @property
    def b0_index(self) -> int:
        """Index of b0 in `batch_sizes`."""
        return int(np.searchsorted(self.batch_sizes, self.b0))


def _select(frame: pd.DataFrame, **values: object) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in values.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def _kahan_mean_of_copies(value: float, count: int) -> float:
    """Mean of `count` copies of `value` as pandas' grouped mean computes it (Kahan sum / count).

    The reference averages each power limit's duplicated rows (one per training run) with a
    pandas groupby; the result is not always `value` itself, and exact parity needs the same bits.
    """
    total = compensation = 0.0
    for _ in range(count):
        y = value - compensation
        t = total + y
        compensation = t - total - y
        total = t
    return total / count


def _kahan_means_of_copies(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """`_kahan_mean_of_copies(values[i, j], counts[i])` for every cell at once: the same float
    operations, elementwise, with the cells of row i stopping after counts[i] terms."""
    total, compensation = np.zeros_like(values), np.zeros_like(values)
    for k in range(int(counts.max())):
        active = (counts > k)[:, None]
        y = values - compensation
        t = total + y
        compensation = np.where(active, t - total - y, compensation)
        total = np.where(active, t, total)
    return total / counts[:, None]


def gpu_max_power(train: pd.DataFrame, power: pd.DataFrame) -> float:
    """MAXPOWER of the reference: the largest power limit among the joined rows of the GPU."""
    keys = train[JOIN_KEYS].drop_duplicates()
    joined = power.merge(keys, on=JOIN_KEYS, how="inner")
    if joined.empty:
        raise JobSpecError("the train trace and the power trace share no (dataset, network, batch_size, optimizer)")
    return float(joined["power_limit"].max())


def capped_b0(spec: JobSpec, power: pd.DataFrame) -> int:
    """b0 of the spec, capped at the dataset's largest batch size in the power trace if asked."""
    if not spec.cap_b0:
        return spec.b0
    sizes = power.loc[power["dataset"] == spec.dataset, "batch_size"]
    return min(spec.b0, int(sizes.max())) if len(sizes) else spec.b0


def _job_rows(train: pd.DataFrame, power: pd.DataFrame, spec: JobSpec, gpu: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The job's train rows (all targets) and power rows, restricted to batch sizes in both."""
    ident = dict(dataset=spec.dataset, network=spec.network, optimizer=spec.optimizer)
    job_train = _select(train, **ident)
    if job_train.empty:
        known = sorted({tuple(row) for row in train[["dataset", "network", "optimizer"]].itertuples(index=False)})
        raise JobSpecError(
            f"no rows of summary_train.csv match dataset={spec.dataset!r}, network={spec.network!r}, "
            f"optimizer={spec.optimizer!r}; known (dataset, network, optimizer): {known}"
        )
    job_power = _select(power, **ident)
    shared = np.intersect1d(job_train["batch_size"].to_numpy(), job_power["batch_size"].to_numpy())
    if shared.size == 0:
        raise JobSpecError(
            f"summary_power_{gpu}.csv has no rows for {spec.describe()} at the batch sizes of "
            f"summary_train.csv ({sorted(set(job_train['batch_size']))})"
        )
    return (
        job_train[job_train["batch_size"].isin(shared)],
        job_power[job_power["batch_size"].isin(shared)],
    )


def build_job(train: pd.DataFrame, power: pd.DataFrame, spec: JobSpec, gpu: str, eta: float) -> JobArrays:
    """Parse the rows of `spec` on `gpu` into a `JobArrays` for cost weight `eta`."""
    job_train, job_power = _job_rows(train, power, spec, gpu)
    batch_sizes = np.unique(job_train["batch_size"].to_numpy())
    targets = job_train[job_train["target_metric"] == spec.target_metric]
    if targets.empty:
        known = sorted(set(job_train["target_metric"]))
        raise JobSpecError(f"target_metric={spec.target_metric!r} is not in summary_train.csv for {spec.describe()}; known: {known}")
    missing = sorted(set(batch_sizes) - set(targets["batch_size"]))
    if missing:
        raise JobSpecError(
            f"summary_train.csv has no training run rows for {spec.describe()} at batch sizes {missing}, "
            f"which {gpu} can run; every feasible batch size needs runs at the target metric"
        )
    rows = JobRows(
        run_batch=targets["batch_size"].to_numpy(),
        run_epochs=targets["target_epoch"].to_numpy(),
        batch=job_power["batch_size"].to_numpy(),
        limit=job_power["power_limit"].to_numpy(),
        time=job_power["time_per_epoch"].to_numpy(),
        power=job_power["average_power"].to_numpy(),
    )
    return job_from_rows(rows, batch_sizes, spec, gpu, capped_b0(spec, power), gpu_max_power(train, power), eta)


@dataclass(frozen=True)
class JobRows:
    """One job's trace rows as arrays, in file order: its training runs at the target metric and
    its power rows (the input of `job_from_rows`, which a trace file and a procedural job share)."""

    run_batch: np.ndarray  # (N,) int64 batch size of each training run
    run_epochs: np.ndarray  # (N,) float64 epochs to reach the target, NaN = never
    batch: np.ndarray  # (M,) int64 batch size of each power row
    limit: np.ndarray  # (M,) int64 power limit
    time: np.ndarray  # (M,) float64 time per epoch
    power: np.ndarray  # (M,) float64 average power


def _rows_of(batch_sizes: np.ndarray, row_batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose batch size is one of `batch_sizes` (a mask), and its index for each of them."""
    index = np.minimum(np.searchsorted(batch_sizes, row_batch), len(batch_sizes) - 1)
    mine = batch_sizes[index] == row_batch
    return mine, index[mine]


def _tiled_mean(values: list[float], copies: int) -> float:
    """`np.tile(values, copies).mean()`, bit for bit."""
    count = len(values) * copies
    return pairwise_sum(values * copies) / count if count else math.nan


def job_from_rows(rows: JobRows, batch_sizes: np.ndarray, spec: JobSpec, gpu: str, b0: int, max_power: float, eta: float,
                  synthetic: bool = False) -> JobArrays:
    """The `JobArrays` of a job's rows (batch sizes `batch_sizes`, every one with runs and power
    rows), validated: b0 feasible and reaching the target within `spec.max_epochs`."""
    if b0 not in batch_sizes:
        raise JobSpecError(f"default batch size b0={b0} is not feasible for {spec.describe()} on {gpu}; feasible: {batch_sizes.tolist()}")

    power_limits = np.unique(rows.limit)
    num_b, num_p = len(batch_sizes), len(power_limits)
    # Rows at other batch sizes are not the job's (a trace file's job rows hold none).
    power_rows, batch_of_power = _rows_of(batch_sizes, rows.batch)
    limit, tpe = rows.limit[power_rows], rows.time[power_rows]
    epe = tpe * rows.power[power_rows]
    cols = np.searchsorted(power_limits, limit)
    feasible = np.zeros((num_b, num_p), dtype=bool)
    time_per_epoch = np.zeros((num_b, num_p))
    average_power = np.zeros((num_b, num_p))
    feasible[batch_of_power, cols] = True
    time_per_epoch[batch_of_power, cols] = tpe
    average_power[batch_of_power, cols] = rows.power[power_rows]
    energy_per_epoch = time_per_epoch * average_power
    batch_max_limit = np.where(feasible, power_limits, 0).max(axis=1).astype(np.float64)

    runs, batch_of_run = _rows_of(batch_sizes, rows.run_batch)
    num_paths = np.bincount(batch_of_run, minlength=num_b).astype(np.int64)
    order = np.argsort(batch_of_run, kind="stable")  # each batch size's runs in file order
    run_batch = batch_of_run[order]
    rank = np.arange(len(order)) - (np.cumsum(num_paths) - num_paths)[run_batch]
    target_epochs = np.full((num_b, num_paths.max()), np.nan)
    target_epochs[run_batch, rank] = rows.run_epochs[runs][order]

    # The reference averages over all joined rows of the batch size: every run repeats the batch
    # size's power rows (in file order), so the mean of those rows tiled once per run, summed as
    # numpy sums (pairwise_sum: a numpy call per batch size cost more than the additions).
    grouped = np.argsort(batch_of_power, kind="stable")
    starts = np.searchsorted(batch_of_power[grouped], np.arange(num_b + 1)).tolist()
    epe_rows, tpe_rows, paths = epe[grouped].tolist(), tpe[grouped].tolist(), num_paths.tolist()
    profile_energy = np.array([_tiled_mean(epe_rows[starts[i] : starts[i + 1]], paths[i]) for i in range(num_b)])
    profile_time = np.array([_tiled_mean(tpe_rows[starts[i] : starts[i + 1]], paths[i]) for i in range(num_b)])
    mean_power, mean_time = _kahan_means_of_copies(average_power, num_paths), _kahan_means_of_copies(time_per_epoch, num_paths)
    profile_epoch_cost = np.where(feasible, (eta * mean_power + (1 - eta) * batch_max_limit[:, None]) * mean_time, np.inf)
    # Lowest epoch cost wins; ties go to the higher limit (the reference profiles high to low).
    best_limit = (num_p - 1 - np.argmin(profile_epoch_cost[:, ::-1], axis=1)).astype(np.int64)

    b0_index = int(np.searchsorted(batch_sizes, b0))
    top = int(np.searchsorted(power_limits, batch_max_limit[b0_index]))
    b0_paths = target_epochs[b0_index, : num_paths[b0_index]]
    reaches = ~np.isnan(b0_paths) & (b0_paths <= spec.max_epochs)
    if not reaches.any():
        raise JobSpecError(
            f"default batch size b0={b0} is not feasible for {spec.describe()} on {gpu}: none of its "
            f"{num_paths[b0_index]} training runs reaches the target within max_epochs={spec.max_epochs}"
        )
    epochs = np.where(reaches, b0_paths, spec.max_epochs)
    run_energy = energy_per_epoch[b0_index, top] * epochs
    run_time = time_per_epoch[b0_index, top] * epochs
    run_cost = eta * run_energy + (1 - eta) * max_power * run_time
    # Attempts are i.i.d. without early stopping, so a recurrence costs E[attempt] / P(reach) (Wald).
    default_cost = float(run_cost.mean() / reaches.mean())

    full_energy = np.maximum(energy_per_epoch * spec.max_epochs, profile_energy[:, None] + energy_per_epoch * (spec.max_epochs - 1))
    full_time = np.maximum(time_per_epoch * spec.max_epochs, profile_time[:, None] + time_per_epoch * (spec.max_epochs - 1))
    max_run_cost = float(np.max(np.where(feasible, eta * full_energy + (1 - eta) * max_power * full_time, 0.0)) / default_cost)

    return JobArrays(
        synthetic=synthetic,
        spec=spec,
        gpu=gpu,
        b0=b0,
        batch_sizes=batch_sizes,
        power_limits=power_limits,
        feasible=feasible,
        time_per_epoch=time_per_epoch,
        energy_per_epoch=energy_per_epoch,
        batch_max_limit=batch_max_limit,
        profile_energy=profile_energy,
        profile_time=profile_time,
        epoch_cost=eta * energy_per_epoch + (1 - eta) * batch_max_limit[:, None] * time_per_epoch,
        profile_epoch_cost=profile_epoch_cost,
        best_limit=best_limit,
        target_epochs=target_epochs,
        num_paths=num_paths,
        max_epochs=spec.max_epochs,
        max_power=max_power,
        # Every feasible batch size has rows at the target (checked above), so the joined rows of
        # the job hold all of them and all of the job's power limits.
        num_recurrences=2 * num_b * num_p,
        default_cost=default_cost,
        max_run_cost=max_run_cost,
        fallback_energy=run_energy[reaches],
        fallback_time=run_time[reaches],
    )
