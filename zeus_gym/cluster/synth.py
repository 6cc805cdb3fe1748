"""SYNTHETIC recurring job groups in the schema of upstream's `alibaba_groups.csv.xz`.

These groups are made up. They are not the Alibaba GPU cluster trace and say nothing about it:
they only have its columns (`group, start_time, end_time, dataset, runtime_ratio`) and enough
overlapping submissions to exercise concurrency, so that the cluster scenario can be run and
tested where upstream's file is not available. Every figure below is an assumption of this
generator, chosen to be plausible, not measured.

The model, for `n` groups and a seed (`numpy.random.default_rng(seed)`, draws in this order):

1. Dataset of each group: the first six groups (if there are six) take the six datasets in a
   random order, so that every workload appears; each further group one drawn uniformly.
2. Size of each group (submissions): a truncated power law, P(k) proportional to k^-1.2 for
   `min_size` <= k <= `max_size` (2..15 by default; mean about 6).
3. Per group: a runtime scale g ~ LogNormal(0, 0.6) (some jobs are longer than others), an
   overlap probability q ~ Beta(2, 2), and a first start uniform in the first 7 days.
4. Per submission: runtime = MEAN_RUNTIME[dataset] * g * LogNormal(0, 0.25), rounded to whole
   seconds and at least 60 s. Each submission after the first starts `gap` after the previous
   one: with probability q while the previous one still runs (gap = its runtime * U(0.05, 0.95)),
   otherwise after it ended (gap = its runtime * (1 + Exp(1))); gaps are whole seconds, at least 1.
5. runtime_ratio = runtime / (mean runtime of all submissions of that dataset in the file), as in
   upstream's file.

Group ids are `syn<seed>-<index>` (zero-padded), so a synthetic group is never mistaken for a real
one; rows are sorted by group, then start time.
"""

from __future__ import annotations

import lzma
import os
from pathlib import Path

import numpy as np
import pandas as pd

from zeus_gym.workloads import WORKLOADS

DATASETS: tuple[str, ...] = tuple(WORKLOADS)
# Assumed mean runtime of one submission per dataset (s): a few hours, ImageNet the longest.
MEAN_RUNTIME: dict[str, float] = {
    "cifar100": 2.0 * 3600,
    "imagenet": 20.0 * 3600,
    "squad": 3.0 * 3600,
    "librispeech": 10.0 * 3600,
    "movielens-1m": 0.5 * 3600,
    "sentiment140": 2.0 * 3600,
}
SIZE_EXPONENT = 1.2
RUNTIME_GROUP_SIGMA = 0.6
RUNTIME_RUN_SIGMA = 0.25
FIRST_START_WINDOW = 7 * 24 * 3600.0
MIN_RUNTIME = 60.0


def _sizes(rng: np.random.Generator, n: int, min_size: int, max_size: int) -> np.ndarray:
    support = np.arange(min_size, max_size + 1)
    weights = support.astype(np.float64) ** -SIZE_EXPONENT
    return rng.choice(support, size=n, p=weights / weights.sum())


def synthesize_groups(n: int, *, seed: int = 0, min_size: int = 2, max_size: int = 15) -> pd.DataFrame:
    """`n` SYNTHETIC groups (see the module docstring for the model) as a DataFrame with the
    columns of a group file."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of groups must be a positive integer, got {n!r}")
    if not (isinstance(min_size, (int, np.integer)) and isinstance(max_size, (int, np.integer)) and 1 <= min_size <= max_size):
        raise ValueError(f"group sizes need 1 <= min_size <= max_size, got {min_size!r} and {max_size!r}")
    rng = np.random.default_rng(seed)
    head = list(rng.permutation(len(DATASETS))[: min(n, len(DATASETS))])
    tail = list(rng.integers(0, len(DATASETS), size=n - len(head)))
    datasets = [DATASETS[i] for i in head + tail]
    sizes = _sizes(rng, n, int(min_size), int(max_size))
    width = max(5, len(str(n - 1)))

    groups, starts, ends, names, runtimes = [], [], [], [], []
    for i, (dataset, size) in enumerate(zip(datasets, sizes.tolist())):
        scale = rng.lognormal(0.0, RUNTIME_GROUP_SIGMA)
        overlap = rng.beta(2.0, 2.0)
        start = float(np.floor(rng.uniform(0.0, FIRST_START_WINDOW)))
        runtime = np.maximum(MIN_RUNTIME, np.round(MEAN_RUNTIME[dataset] * scale * rng.lognormal(0.0, RUNTIME_RUN_SIGMA, size)))
        concurrent = rng.random(size) < overlap
        fraction = np.where(concurrent, rng.uniform(0.05, 0.95, size), 1.0 + rng.exponential(1.0, size))
        for k in range(size):
            if k:
                start += max(1.0, float(np.round(runtime[k - 1] * fraction[k])))
            groups.append(f"syn{seed}-{i:0{width}d}")
            names.append(dataset)
            starts.append(start)
            ends.append(start + float(runtime[k]))
            runtimes.append(float(runtime[k]))
    frame = pd.DataFrame({"group": groups, "start_time": starts, "end_time": ends, "dataset": names})
    runtime = np.array(runtimes)
    mean = frame.assign(runtime=runtime).groupby("dataset")["runtime"].transform("mean").to_numpy()
    frame["runtime_ratio"] = runtime / mean
    return frame


def write_groups(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write groups as CSV (xz-compressed if the name ends in .xz); floats are written with `repr`,
    so reading the file back gives the same bits."""
    path = Path(path)
    lines = ["group,start_time,end_time,dataset,runtime_ratio"]
    for row in frame[["group", "start_time", "end_time", "dataset", "runtime_ratio"]].itertuples(index=False):
        lines.append(f"{row.group},{float(row.start_time)!r},{float(row.end_time)!r},{row.dataset},{float(row.runtime_ratio)!r}")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lzma.compress(data) if path.name.endswith(".xz") else data)
    return path
