"""`zeus-gym traces ...`: which traces are in use, fresh upstream copies, and job group files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from zeus_gym.cli.errors import output_file, output_folder, user_errors
from zeus_gym.cli.options import TraceDir
from zeus_gym.traces import fetch_traces
from zeus_gym.traces.load import load_trace_set
from zeus_gym.traces.locate import locate_traces
from zeus_gym.traces.report import describe, file_lines

BaseUrl = Annotated[Optional[str], typer.Option(help="Mirror base URL (default: $ZEUS_GYM_TRACE_URL, else upstream's pinned commit).",
                                                show_default=False)]


@user_errors()
def info(trace_dir: TraceDir = None) -> None:
    """Say which traces are in use (--trace-dir, $ZEUS_GYM_TRACE_DIR or the copy shipped with
    zeus-gym), their files and hashes, GPUs and workloads."""
    located = locate_traces(trace_dir)
    typer.echo("\n".join(describe(located, load_trace_set(located.path))))


@user_errors()
def fetch(
    output: Annotated[Path, typer.Option(help="Folder to download into (created if missing).")],
    base_url: BaseUrl = None,
) -> None:
    """Download the pinned upstream trace files into a folder and verify each file's SHA-256
    (zeus-gym ships the same bytes; this is for checking them against upstream or a mirror)."""
    output_folder(output)
    # Progress bars only for a person watching; piped or captured output stays plain.
    folder = fetch_traces(output, base_url=base_url, progress=sys.stderr.isatty())
    typer.echo(f"traces in {folder}")
    typer.echo("\n".join(file_lines(folder)))


@user_errors()
def synth_groups(
    groups: Annotated[int, typer.Option(min=1, help="Number of groups (>= 1).")] = 1000,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the generator (>= 0).")] = 0,
    output: Annotated[Path, typer.Option(help="File to write (.csv, or .csv.xz to compress).")] = Path("synthetic_groups.csv"),
    min_size: Annotated[int, typer.Option(min=1, help="Fewest submissions per group.")] = 2,
    max_size: Annotated[int, typer.Option(min=1, help="Most submissions per group.")] = 15,
) -> None:
    """Write SYNTHETIC recurring job groups in the schema of upstream's alibaba_groups.csv.xz.

    They are made up (a documented, seeded model of group sizes, runtimes, arrivals and overlaps
    over the six datasets: see zeus_gym.cluster.synth), not the Alibaba trace."""
    output_file(output, "--output")
    from zeus_gym.cluster.groups import read_groups  # the cluster modules need pandas: not at every start-up
    from zeus_gym.cluster.synth import synthesize_groups, write_groups

    frame = synthesize_groups(groups, seed=seed, min_size=min_size, max_size=max_size)
    path = write_groups(frame, output)
    read_groups(path)  # what was written must read back valid
    overlapping = int((frame["start_time"] < frame.groupby("group")["end_time"].transform(lambda e: e.shift().cummax())).sum())
    typer.echo(f"{path}: {groups} SYNTHETIC groups, {len(frame)} submissions ({overlapping} start before the previous one "
               f"ended), {frame['dataset'].nunique()} datasets, seed {seed}")


@user_errors()
def fetch_groups(
    output: Annotated[Optional[Path], typer.Option(help="Folder to download into (default: the user cache).", show_default=False)] = None,
    base_url: BaseUrl = None,
) -> None:
    """Download upstream's alibaba_groups.csv.xz (the one trace file not shipped: it needs the
    network) and verify it by its git blob id."""
    if output is not None:
        output_folder(output)
    from zeus_gym.cluster.groups import fetch_alibaba_groups, read_groups

    path = fetch_alibaba_groups(output, base_url=base_url)
    frame = read_groups(path)
    typer.echo(f"{path}: {frame['group'].nunique()} groups, {len(frame)} submissions (git blob id verified)")
