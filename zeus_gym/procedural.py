"""Procedural training jobs: seeded synthetic recurring jobs derived from the real Zeus traces.

Five workloads on four GPUs are 20 real jobs: too few for a policy to learn a strategy that
transfers. `ProceduralJobs` draws new jobs, each a perturbed copy of a real one: the source's
trace rows, parsed once into arrays, are perturbed with numpy (no pandas at reset) and go through
the same job building and validation as a trace file (`zeus_gym.core.job.job_from_rows`, which
`build_job` uses: b0 measured, at least one training path of b0 reaching the target within
`max_epochs`). Model, for a source job (workload w, GPU g) drawn uniformly from `sources`:

- Epochs to target. Each batch size b keeps the number of recorded paths of the source, and which
  of them never reach the target. The others are redrawn as
  `ceil(exp(m_b + log s + t * log2(b / b0) + e))`, where m_b is the mean log epochs of b's
  reached paths, s ~ LogUniform(`epoch_scale`) rescales the whole curve, t ~ U(-`tilt`, `tilt`)
  shifts where along the batch sizes training is fastest, and e is a residual resampled from the
  pooled residuals (log epochs minus m_b) of the source job: path noise of the real job.
  `max_epochs` is rescaled by s too (rounded up).
- Time and power. Every time per epoch is multiplied by one global factor ~
  LogUniform(`time_scale`), one per batch size ~ LogNormal(0, `batch_time_noise`) and one per
  configuration ~ LogNormal(0, `config_noise`); the average power by U(1 - `power_noise`,
  1 + `power_noise`) per configuration, capped at the power limit (a GPU never averages above
  its cap).
- Batch sizes. Every batch size but b0 is dropped with probability `drop_batch`: jobs differ in
  their number of configurations. With probability `short_share` (default 0) a draw instead keeps
  only b0 and one of its neighbours, when it has one: a short job (2|B||P| = 4|P| recurrences, as
  imagenet on the P100, where memory allows two batch sizes), in which a trial of the other batch
  size weighs far more on the episode than in a job of hundreds of recurrences.
- With probability `flat_share` (default 0) the power surface is flattened: each row's time per
  epoch is rescaled so that its epoch cost (at the rows' largest limit as MAXPOWER), relative to
  its batch size's highest limit, becomes that ratio to the power k ~ U(0, 1) (average power
  unchanged): power limits then save little (as for imagenet, about 4 %), and trying another
  batch size is the only large saving left, or none.
- With probability `real_share` (default 0) a draw is the source job itself, unchanged (a real
  job, not labelled synthetic), to mix the real jobs into training.

A draw whose job fails validation, or whose costs fall outside the observation bounds the
generator declares (`max_run_cost`, `max_epoch_ratio`: twice the largest of the source jobs),
is redrawn (at most `max_attempts` times). Generated jobs are synthetic and say so: their dataset
is `synthetic:<source dataset>`, their GPU `synthetic:<gpu>`, `JobArrays.synthetic` is True, and
the env's `job_info["synthetic"]` too. MAXPOWER of a generated job is its own largest limit (the
real GPUs' jobs all share their GPU's largest limit).

```python
env = gym.make("ZeusGym/RecurringJob-v2", workload="procedural", gpu="all", slots=(15, 9))
obs, info = env.reset(seed=0)  # a new synthetic job every reset, drawn with env.np_random
```
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from zeus_gym.core import JobArrays, JobSpecError, build_job
from zeus_gym.core.job import JobRows, _job_rows, capped_b0, gpu_max_power, job_from_rows
from zeus_gym.core.params import _config_facts
from zeus_gym.traces import load_trace_set
from zeus_gym.workloads import WORKLOADS, JobSpec, resolve_workload

if TYPE_CHECKING:  # only for annotations: importing pandas is a fifth of a second of every start-up
    import pandas as pd

SYNTHETIC = "synthetic:"
PROCEDURAL = "procedural"  # the workload name that asks for procedural jobs


@dataclass(frozen=True)
class ProceduralJobs:
    """A seeded generator of synthetic jobs (see the module docstring for the model).

    `workloads` and `gpus` name the real source jobs (default: the six workloads on every GPU of
    the traces); pass only the training workloads when a workload is held out, so that no
    generated job is derived from it."""

    workloads: Sequence[str | JobSpec] = tuple(WORKLOADS)
    gpus: Sequence[str] | None = None
    trace_dir: str | os.PathLike | None = None
    epoch_scale: tuple[float, float] = (0.5, 2.0)
    tilt: float = 0.35
    time_scale: tuple[float, float] = (0.7, 1.4)
    batch_time_noise: float = 0.1
    config_noise: float = 0.03
    power_noise: float = 0.03
    drop_batch: float = 0.25
    short_share: float = 0.0  # probability that a draw keeps only b0 and one neighbour (a short job)
    flat_share: float = 0.0  # probability that a draw flattens its power surface (power limits save little)
    real_share: float = 0.0  # probability that a draw is the source job itself, unperturbed (not synthetic)
    max_attempts: int = 100
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        low, high = self.epoch_scale
        if not 0 < low <= high or not 0 < self.time_scale[0] <= self.time_scale[1]:
            raise ValueError(f"epoch_scale and time_scale must be (low, high) with 0 < low <= high, got {self.epoch_scale}, {self.time_scale}")
        if not 0 <= self.drop_batch < 1:
            raise ValueError(f"drop_batch must be in [0, 1), got {self.drop_batch}")
        for name in ("real_share", "short_share", "flat_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("tilt", "batch_time_noise", "config_noise", "power_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def sources(self) -> list[tuple[JobSpec, str, pd.DataFrame, pd.DataFrame]]:
        """The real source jobs: (spec, gpu, train rows, power rows), parsed once."""
        if "sources" not in self._cache:
            traces = load_trace_set(self.trace_dir)
            gpus = list(traces.gpus) if self.gpus is None else list(self.gpus)
            for gpu in gpus:
                if gpu not in traces.power:
                    raise ValueError(f"unknown gpu {gpu!r}: the traces in {traces.root} have {', '.join(traces.gpus)}")
            found = []
            for spec in (resolve_workload(w) for w in self.workloads):
                for gpu in gpus:
                    try:
                        rows = _job_rows(traces.train, traces.power[gpu], spec, gpu)
                    except JobSpecError:
                        continue
                    b0 = capped_b0(spec, traces.power[gpu])
                    found.append((dataclasses.replace(spec, b0=b0, cap_b0=False), gpu, *rows))
            if not found:
                raise ValueError(f"no source job for procedural jobs: workloads {list(self.workloads)} on gpus {gpus}")
            self._cache["sources"] = found
        return self._cache["sources"]

    def largest_slots(self) -> tuple[int, int]:
        """(batch sizes, power limits) of the largest source job: room for every generated job."""
        sizes = [(power["batch_size"].nunique(), power["power_limit"].nunique()) for _, _, _, power in self.sources()]
        return max(b for b, _ in sizes), max(p for _, p in sizes)

    def bounds(self, eta: float) -> tuple[float, float]:
        """(max_run_cost, max_epoch_ratio) every generated job respects: twice the sources' largest."""
        key = ("bounds", eta)
        if key not in self._cache:
            jobs = [build_job(train, power, spec, gpu, eta) for spec, gpu, train, power in self.sources()]
            ratios = [_epoch_ratio(job, eta).max() for job in jobs]
            self._cache[key] = (2.0 * max(job.max_run_cost for job in jobs), 2.0 * max(ratios))
        return self._cache[key]

    def _source_rows(self) -> list[_Source]:
        """The sources as arrays (their runs at the target metric and power rows, in file order)."""
        if "rows" not in self._cache:
            found = []
            for spec, gpu, train, power in self.sources():
                runs = train[train["target_metric"] == spec.target_metric]
                rows = JobRows(runs["batch_size"].to_numpy(), runs["target_epoch"].to_numpy(dtype=float), power["batch_size"].to_numpy(),
                               power["power_limit"].to_numpy(), power["time_per_epoch"].to_numpy(), power["average_power"].to_numpy())
                found.append(_Source(spec, gpu, rows, np.unique(train["batch_size"].to_numpy()), np.unique(rows.batch), gpu_max_power(train, power)))
            self._cache["rows"] = found
        return self._cache["rows"]

    def sample(self, rng: np.random.Generator, eta: float) -> JobArrays:
        """One synthetic job for cost weight `eta`, drawn with `rng` (same state, same job)."""
        max_run_cost, max_ratio = self.bounds(eta)
        sources = self._source_rows()
        for _ in range(self.max_attempts):
            source = sources[rng.integers(len(sources))]
            if self.real_share and rng.random() < self.real_share:
                return job_from_rows(source.rows, source.train_batch_sizes, source.spec, source.gpu, source.spec.b0, source.max_power, eta)
            spec, rows = self._perturb(rng, source, eta)
            # The checks `build_job` makes of a trace file: batch sizes with both runs and power
            # rows, MAXPOWER over those rows; `job_from_rows` then checks b0 and the target.
            shared = np.intersect1d(rows.run_batch, rows.batch)
            if shared.size == 0:
                continue
            max_power = float(rows.limit[np.isin(rows.batch, shared)].max())
            if shared.size < len(np.unique(rows.run_batch)) or shared.size < len(np.unique(rows.batch)):
                runs, power = np.isin(rows.run_batch, shared), np.isin(rows.batch, shared)
                rows = JobRows(rows.run_batch[runs], rows.run_epochs[runs], rows.batch[power], rows.limit[power], rows.time[power], rows.power[power])
            try:
                job = job_from_rows(rows, shared, spec, SYNTHETIC + source.gpu, spec.b0, max_power, eta, synthetic=True)
            except JobSpecError:
                continue
            if job.max_run_cost <= max_run_cost and _epoch_ratio(job, eta).max() <= max_ratio:
                return job
        raise ValueError(f"no valid procedural job in {self.max_attempts} draws: loosen the ProceduralJobs parameters")

    def _perturb(self, rng: np.random.Generator, source: _Source, eta: float) -> tuple[JobSpec, JobRows]:
        spec, rows, batch_sizes = source.spec, source.rows, source.batch_sizes
        keep = (rng.random(len(batch_sizes)) >= self.drop_batch) | (batch_sizes == spec.b0)
        if self.short_share and rng.random() < self.short_share:
            home = int(np.searchsorted(batch_sizes, spec.b0))
            neighbours = [i for i in (home - 1, home + 1) if 0 <= i < len(batch_sizes)]
            keep = batch_sizes == spec.b0
            if neighbours:
                keep[neighbours[rng.integers(len(neighbours))]] = True
        kept = batch_sizes[keep]
        scale = math.exp(rng.uniform(*np.log(self.epoch_scale)))
        tilt = rng.uniform(-self.tilt, self.tilt)

        runs = np.isin(rows.run_batch, kept)
        epochs, sizes = rows.run_epochs[runs], rows.run_batch[runs]
        reached = ~np.isnan(epochs)
        logs = np.log(np.where(reached, epochs, 1.0))
        centre = np.zeros(len(epochs))  # m_b: mean log epochs of b's reached paths (0 if none)
        for b in kept:
            mine = sizes == b
            if (reached & mine).any():
                centre[mine] = logs[reached & mine].mean()
        residuals = logs[reached] - centre[reached]
        noise = rng.choice(residuals, size=len(epochs)) if residuals.size else np.zeros(len(epochs))
        drawn = np.ceil(np.exp(centre + math.log(scale) + tilt * np.log2(sizes / spec.b0) + noise))
        new_epochs = np.where(reached, np.maximum(drawn, 1.0), np.nan)

        power = np.isin(rows.batch, kept)
        row_sizes, limits = rows.batch[power], rows.limit[power]
        per_batch = rng.lognormal(0.0, self.batch_time_noise, len(kept))
        factor = math.exp(rng.uniform(*np.log(self.time_scale))) * per_batch[np.searchsorted(kept, row_sizes)]
        time = rows.time[power] * factor * rng.lognormal(0.0, self.config_noise, len(row_sizes))
        jitter = rng.uniform(1 - self.power_noise, 1 + self.power_noise, len(row_sizes))
        average_power = np.minimum(rows.power[power] * jitter, limits.astype(float))
        if self.flat_share and rng.random() < self.flat_share:
            time = _flatten(time, average_power, row_sizes, limits, eta, rng.uniform(0.0, 1.0))

        new_spec = dataclasses.replace(spec, dataset=SYNTHETIC + spec.dataset, max_epochs=math.ceil(spec.max_epochs * scale))
        return new_spec, JobRows(sizes, new_epochs, row_sizes, limits, time, average_power)


def _flatten(time: np.ndarray, power: np.ndarray, sizes: np.ndarray, limits: np.ndarray, eta: float, keep: float) -> np.ndarray:
    """Times per epoch that make each row's epoch cost ratio to its batch size's highest limit
    that ratio to the power `keep` (average power unchanged; the cost at the rows' largest limit
    as MAXPOWER): `keep` 0 makes every limit cost as much as the top one, 1 changes nothing."""
    top = np.empty(len(sizes), dtype=np.int64)
    for b in np.unique(sizes).tolist():
        mine = np.flatnonzero(sizes == b)
        top[mine] = mine[np.argmax(limits[mine])]
    cost = time * (eta * power + (1 - eta) * float(limits.max()))
    return time * (cost / cost[top]) ** (keep - 1.0)


@dataclass(frozen=True)
class _Source:
    """One real source job as arrays, parsed once."""

    spec: JobSpec  # b0 capped, cap_b0 off
    gpu: str
    rows: JobRows  # runs at the target metric, power rows
    train_batch_sizes: np.ndarray  # the job's batch sizes (with runs at any metric), as build_job finds them
    batch_sizes: np.ndarray  # the power rows' batch sizes, ascending
    max_power: float  # MAXPOWER of the source's own rows, as build_job computes it for them


def _epoch_ratio(job: JobArrays, eta: float) -> np.ndarray:
    """The observation's per-configuration cost-per-epoch ratio of one job (see core.features)."""
    playable = np.concatenate([job.feasible, np.ones((len(job.batch_sizes), 1), dtype=bool)], axis=1)[None]

    def stack(name: str) -> np.ndarray:
        return np.asarray(getattr(job, name))[None]

    features = np.zeros(playable.shape[:2], dtype=np.float32), np.zeros((1, playable.shape[2] - 1), dtype=np.float32)
    return _config_facts([job], eta, playable, *features, stack)[2]


def is_procedural(workload: object) -> bool:
    """Whether an env's `workload` argument asks for procedural jobs."""
    return isinstance(workload, ProceduralJobs) or (isinstance(workload, str) and workload == PROCEDURAL)
