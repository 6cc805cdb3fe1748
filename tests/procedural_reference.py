"""The pandas generator of procedural jobs (zeus_gym.procedural before its numpy path): perturbed
trace rows as DataFrames, built by `build_job` exactly as a trace file is. Kept as the reference
the numpy path is tested equal to (tests/test_procedural_numpy.py)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from zeus_gym.core import JobArrays, JobSpecError, build_job
from zeus_gym.procedural import SYNTHETIC, ProceduralJobs, _epoch_ratio
from zeus_gym.workloads import JobSpec


def sample(generator: ProceduralJobs, rng: np.random.Generator, eta: float) -> JobArrays:
    max_run_cost, max_ratio = generator.bounds(eta)
    for _ in range(generator.max_attempts):
        spec, gpu, train, power = generator.sources()[rng.integers(len(generator.sources()))]
        if generator.real_share and rng.random() < generator.real_share:
            return build_job(train, power, spec, gpu, eta)
        new_spec, new_train, new_power = perturb(generator, rng, spec, train, power, eta)
        try:
            job = build_job(new_train, new_power, new_spec, SYNTHETIC + gpu, eta)
        except JobSpecError:
            continue
        if job.max_run_cost <= max_run_cost and _epoch_ratio(job, eta).max() <= max_ratio:
            return dataclasses.replace(job, synthetic=True)
    raise ValueError(f"no valid procedural job in {generator.max_attempts} draws: loosen the ProceduralJobs parameters")


def perturb(self: ProceduralJobs, rng: np.random.Generator, spec: JobSpec, train: pd.DataFrame, power: pd.DataFrame, eta: float) -> tuple[JobSpec, pd.DataFrame, pd.DataFrame]:
    batch_sizes = np.unique(power["batch_size"].to_numpy())
    keep = (rng.random(len(batch_sizes)) >= self.drop_batch) | (batch_sizes == spec.b0)
    if self.short_share and rng.random() < self.short_share:  # b0 and one neighbour, if any
        home = batch_sizes.tolist().index(spec.b0)
        keep = batch_sizes == spec.b0
        neighbours = [i for i in (home - 1, home + 1) if 0 <= i < len(batch_sizes)]
        if neighbours:
            keep[neighbours[rng.integers(len(neighbours))]] = True
    kept = set(batch_sizes[keep].tolist())
    scale = math.exp(rng.uniform(*np.log(self.epoch_scale)))
    tilt = rng.uniform(-self.tilt, self.tilt)

    runs = train[(train["target_metric"] == spec.target_metric) & train["batch_size"].isin(kept)].copy()
    epochs = runs["target_epoch"].to_numpy(dtype=float)
    sizes = runs["batch_size"].to_numpy()
    reached = ~np.isnan(epochs)
    logs = np.log(np.where(reached, epochs, 1.0))
    means = {b: logs[reached & (sizes == b)].mean() for b in kept if (reached & (sizes == b)).any()}
    residuals = np.array([logs[i] - means[sizes[i]] for i in np.flatnonzero(reached)])
    noise = rng.choice(residuals, size=len(epochs)) if residuals.size else np.zeros(len(epochs))
    centre = np.array([means.get(b, 0.0) for b in sizes])
    drawn = np.ceil(np.exp(centre + math.log(scale) + tilt * np.log2(sizes / spec.b0) + noise))
    runs["target_epoch"] = np.where(reached, np.maximum(drawn, 1.0), np.nan)

    rows = power[power["batch_size"].isin(kept)].copy()
    row_sizes = rows["batch_size"].to_numpy()
    per_batch = dict(zip(sorted(kept), rng.lognormal(0.0, self.batch_time_noise, len(kept))))
    factor = math.exp(rng.uniform(*np.log(self.time_scale))) * np.array([per_batch[b] for b in row_sizes])
    rows["time_per_epoch"] = rows["time_per_epoch"].to_numpy() * factor * rng.lognormal(0.0, self.config_noise, len(rows))
    jitter = rng.uniform(1 - self.power_noise, 1 + self.power_noise, len(rows))
    rows["average_power"] = np.minimum(rows["average_power"].to_numpy() * jitter, rows["power_limit"].to_numpy(dtype=float))
    if self.flat_share and rng.random() < self.flat_share:  # each limit's cost ratio to the top one ** keep
        keep = rng.uniform(0.0, 1.0)
        top = rows.groupby("batch_size")["power_limit"].transform("idxmax")
        time = rows["time_per_epoch"]
        cost = time * (eta * rows["average_power"] + (1 - eta) * float(rows["power_limit"].max()))
        rows["time_per_epoch"] = time.to_numpy() * (cost.to_numpy() / cost[top].to_numpy()) ** (keep - 1.0)

    name = SYNTHETIC + spec.dataset
    runs["dataset"], rows["dataset"] = name, name
    new_spec = dataclasses.replace(spec, dataset=name, max_epochs=math.ceil(spec.max_epochs * scale))
    return new_spec, runs, rows
