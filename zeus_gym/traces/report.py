"""Plain-text summaries of a trace folder: its files against the registry, and its workloads."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from zeus_gym.traces.load import TraceSet
from zeus_gym.traces.locate import EMBEDDED, Located, power_files, sha256_of
from zeus_gym.traces.registry import REGISTRY, TRAIN_FILE

WORKLOAD_KEY = ["dataset", "network", "optimizer"]


class FileStatus(NamedTuple):
    """One trace file: size, SHA-256, and how it compares with the pinned registry."""

    name: str
    size: int
    sha256: str
    status: str


class Workload(NamedTuple):
    """What the traces hold for one (dataset, network, optimizer)."""

    dataset: str
    network: str
    optimizer: str
    targets: int
    batch_sizes: int
    runs: tuple[int, int]
    gpus: tuple[str, ...]


def file_statuses(root: Path) -> list[FileStatus]:
    """Size, hash and registry status of the train file and every power file in a folder."""
    rows = []
    for path in [root / TRAIN_FILE, *power_files(root).values()]:
        size, digest = path.stat().st_size, sha256_of(path)
        pinned = REGISTRY.get(path.name)
        if pinned is None:
            status = "not in registry"
        elif (size, digest) == pinned:
            status = "matches registry"
        else:
            status = f"DIFFERS from registry (pinned: {pinned.size} B, sha256 {pinned.sha256})"
        rows.append(FileStatus(path.name, size, digest, status))
    return rows


def workloads(traces: TraceSet) -> list[Workload]:
    """Per workload: target metrics, batch sizes, runs per batch size (min, max), power GPUs."""
    train = traces.train
    gpus_of: dict[tuple[str, ...], list[str]] = {}
    for gpu in traces.gpus:
        for key in traces.power[gpu][WORKLOAD_KEY].drop_duplicates().itertuples(index=False):
            gpus_of.setdefault(tuple(key), []).append(gpu)
    runs = train.groupby(WORKLOAD_KEY + ["batch_size"]).run.nunique().groupby(WORKLOAD_KEY)
    counts = train.groupby(WORKLOAD_KEY).agg(
        targets=("target_metric", "nunique"), batch_sizes=("batch_size", "nunique")
    )
    lows, highs = runs.min(), runs.max()
    rows = []
    for key in sorted(set(counts.index) | set(gpus_of)):
        trained = key in counts.index
        rows.append(
            Workload(
                *key,
                targets=int(counts.at[key, "targets"]) if trained else 0,
                batch_sizes=int(counts.at[key, "batch_sizes"]) if trained else 0,
                runs=(int(lows[key]), int(highs[key])) if trained else (0, 0),
                gpus=tuple(gpus_of.get(key, ())),
            )
        )
    return rows


def file_lines(root: Path) -> list[str]:
    """One aligned line per trace file: name, size, SHA-256, registry status."""
    statuses = file_statuses(root)
    width = max(len(row.name) for row in statuses)
    return [
        f"  {row.name:<{width}}  {row.size:>8} B  sha256 {row.sha256}  {row.status}"
        for row in statuses
    ]


def describe(located: Located, traces: TraceSet) -> list[str]:
    """The lines `zeus-gym traces info` prints."""
    how = {"argument": "argument (--trace-dir / trace_dir=)", EMBEDDED: "embedded: the copy shipped with zeus-gym (SHA-256 verified)"}
    lines = [f"traces: {located.path}", f"located by: {how.get(located.source, located.source)}", "files:"]
    lines += file_lines(located.path)
    lines.append(f"GPUs: {', '.join(traces.gpus)}")
    lines.append("workloads (dataset network optimizer):")
    for w in workloads(traces):
        power = "power rows on " + (", ".join(w.gpus) if w.gpus else "no GPU")
        if not w.targets:
            lines.append(f"  {w.dataset} {w.network} {w.optimizer}: no training rows; {power}")
            continue
        low, high = w.runs
        runs = f"{low}" if low == high else f"{low}-{high}"
        lines.append(
            f"  {w.dataset} {w.network} {w.optimizer}: {w.targets} target metrics, "
            f"{w.batch_sizes} batch sizes, {runs} runs per batch size; {power}"
        )
    return lines
