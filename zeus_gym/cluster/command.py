"""`zeus-gym cluster` (every group of a cluster trace, in parallel, resumable), `zeus-gym traces
synth-groups` (SYNTHETIC groups) and `zeus-gym traces fetch-groups` (upstream's Alibaba groups)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from zeus_gym.backends import check_backend
from zeus_gym.backends.options import Backend, RayAddress
from zeus_gym.benchmark.command import one_line_errors, terminate_as_interrupt
from zeus_gym.cli import friendly_errors
from zeus_gym.cluster.groups import fetch_alibaba_groups, read_groups
from zeus_gym.cluster.run import RESULTS_FILE, SUMMARY_FILE, Settings, read_rows, run_cluster, summary_frame, summary_markdown
from zeus_gym.cluster.synth import synthesize_groups, write_groups


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A callback `(done, total)` drawing groups done, elapsed and remaining time on stderr."""
    columns = (TextColumn("groups"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with contextlib.ExitStack() as stack:
        state: list[tuple[Progress, TaskID]] = []

        def update(done: int, total: int) -> None:
            if not state:
                bar = stack.enter_context(Progress(*columns, console=Console(stderr=True)))
                state.append((bar, bar.add_task("groups", total=total, completed=done)))
            bar, task = state[0]
            bar.update(task, completed=done)

        yield update


def _elapsed(start: float) -> str:
    seconds = time.perf_counter() - start
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


@friendly_errors
def cluster(
    groups: Annotated[str, typer.Option(help="A group file (.csv, .csv.xz), 'synthetic' (SYNTHETIC groups, see --synthetic-groups) "
                                             "or 'alibaba' (upstream's alibaba_groups.csv.xz, verified by its git blob id).")] = "synthetic",
    synthetic_groups: Annotated[int, typer.Option(help="Number of synthetic groups (with --groups synthetic).")] = 1000,
    synthetic_seed: Annotated[int, typer.Option(help="Seed of the synthetic groups (with --groups synthetic).")] = 0,
    gpu: Annotated[str, typer.Option(help="GPU of the power trace.")] = "v100",
    eta: Annotated[float, typer.Option(help="Energy weight of the cost, in [0, 1].")] = 0.5,
    beta: Annotated[float, typer.Option(help="Early-stop threshold factor; inf disables early stopping.")] = 2.0,
    agent: Annotated[str, typer.Option(help="zeus (ZeusAgent(concurrency=True), the artifact's), default, oracle, random, "
                                            "package.module:Class or path/file.py:Class.")] = "zeus",
    max_retries: Annotated[Optional[int], typer.Option(help="Give a submission up after this many retries (default: retry until "
                                                             "the target is reached, as the reference).")] = None,
    output: Annotated[Path, typer.Option(help="Output folder; re-running the same command there resumes.")] = Path("cluster-results"),
    workers: Annotated[Optional[int], typer.Option(help="Worker processes (default: one per core, at most one per 1,000 groups to play: "
                                                         "starting one costs about as much as playing them).")] = None,
    history: Annotated[Optional[Path], typer.Option(help="Write each group's runs as JSON Lines to DIR/<group>.jsonl.")] = None,
    trace_dir: Annotated[Optional[Path], typer.Option(help="Trace folder (default: $ZEUS_GYM_TRACE_DIR, else the user cache).")] = None,
    backend: Backend = "local",
    ray_address: RayAddress = None,
) -> None:
    """Play an agent and Default on every recurring job group of a cluster trace (the Zeus
    artifact's run_alibaba.py), in parallel into a resumable folder; print a per-dataset summary."""
    start = time.perf_counter()
    settings = Settings(
        groups=groups, synthetic_groups=synthetic_groups, synthetic_seed=synthetic_seed, gpu=gpu, eta=eta, beta=beta,
        agent=agent, max_retries=max_retries, trace_dir=None if trace_dir is None else str(trace_dir),
        history=None if history is None else str(history),
    )
    with one_line_errors():
        check_backend(backend, ray_address, workers)
        try:
            with terminate_as_interrupt(), progress_bar() as update:
                table, rows, ran, workers = run_cluster(settings, output, workers=workers, on_rows=update,
                                                        backend=backend, ray_address=ray_address)
        except KeyboardInterrupt:
            done = len(read_rows(output / RESULTS_FILE))
            typer.echo(f"interrupted: {done} groups are in {output / RESULTS_FILE}; run the same command again to resume", err=True)
            raise typer.Exit(130) from None
        text = summary_markdown(summary_frame(rows), settings)
        (output / SUMMARY_FILE).write_text(text, encoding="utf-8")
        typer.echo(text)
        where = f"with {workers} worker{'s' * (workers != 1)}" if backend == "local" else f"on Ray ({ray_address or 'a local instance'})"
        typer.echo(f"{ran} groups played in {_elapsed(start)} {where}, {len(rows) - ran} resumed; "
                   f"results in {output / RESULTS_FILE}, summary in {output / SUMMARY_FILE}"
                   + (f", histories in {history}" if history is not None else ""))


@friendly_errors
def synth_groups(
    groups: Annotated[int, typer.Option(help="Number of groups.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 0,
    out: Annotated[Path, typer.Option(help="File to write (.csv, or .csv.xz to compress).")] = Path("synthetic_groups.csv"),
    min_size: Annotated[int, typer.Option(help="Fewest submissions per group.")] = 2,
    max_size: Annotated[int, typer.Option(help="Most submissions per group.")] = 15,
) -> None:
    """Write SYNTHETIC recurring job groups in the schema of upstream's alibaba_groups.csv.xz.

    They are made up (a documented, seeded model of group sizes, runtimes, arrivals and overlaps
    over the six datasets: see zeus_gym.cluster.synth), not the Alibaba trace."""
    with one_line_errors():
        frame = synthesize_groups(groups, seed=seed, min_size=min_size, max_size=max_size)
    path = write_groups(frame, out)
    read_groups(path)  # what was written must read back valid
    overlapping = int((frame["start_time"] < frame.groupby("group")["end_time"].transform(lambda e: e.shift().cummax())).sum())
    typer.echo(f"{path}: {groups} SYNTHETIC groups, {len(frame)} submissions ({overlapping} start before the previous one "
               f"ended), {frame['dataset'].nunique()} datasets, seed {seed}")


@friendly_errors
def fetch_groups(
    dest: Annotated[Optional[Path], typer.Option(help="Folder to download into (default: the user cache).")] = None,
    base_url: Annotated[Optional[str], typer.Option(help="Mirror base URL (default: $ZEUS_GYM_TRACE_URL, else upstream).")] = None,
) -> None:
    """Download upstream's alibaba_groups.csv.xz and verify it by its git blob id."""
    path = fetch_alibaba_groups(dest, base_url=base_url)
    frame = read_groups(path)
    typer.echo(f"{path}: {frame['group'].nunique()} groups, {len(frame)} submissions (git blob id verified)")


__all__ = ["cluster", "fetch_groups", "synth_groups"]
