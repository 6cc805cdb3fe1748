"""`zeus-gym benchmark` (the comparison grid into a resumable folder) and `zeus-gym plot` (its figures)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.text import Text

from zeus_gym.agents import AGENTS
from zeus_gym.benchmark.grid import DEFAULT_AGENTS, Case, Grid, parse_grid
from zeus_gym.benchmark.plots import PlotsUnavailable
from zeus_gym.benchmark.results import RESULTS_FILE, read_config, read_results
from zeus_gym.benchmark.run import CaseFailed, default_case, draw_figures, elapsed_since, run_benchmark, write_summary
from zeus_gym.cli import friendly_errors
from zeus_gym.traces import load_trace_set
from zeus_gym.workloads import WORKLOADS

TraceDir = Annotated[Optional[Path], typer.Option(help="Trace folder (default: $ZEUS_GYM_TRACE_DIR, else the user cache).")]


class RateColumn(ProgressColumn):
    """Cases per second."""

    def render(self, task: Task) -> Text:
        """The task's speed."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} cases/s" if speed else "- cases/s", style="progress.data.speed")


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Bad options or folders (ValueError): one stderr line and exit code 1, no traceback."""
    try:
        yield
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@contextlib.contextmanager
def progress_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress callback `(done, total)` drawing cases done, rate, elapsed and remaining time."""
    columns = (TextColumn("benchmark"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with contextlib.ExitStack() as stack:
        progress: list[tuple[Progress, TaskID]] = []

        def update(done: int, total: int) -> None:
            if not progress:  # shown from the first call, once the options and the folder are known good
                bar = stack.enter_context(Progress(*columns, console=Console(stderr=True)))
                # The resumed cases are there from the start: they do not count in the rate.
                progress.append((bar, bar.add_task("benchmark", total=total, completed=done)))
            bar, task = progress[0]
            bar.update(task, completed=done)

        yield update


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a batch system's time limit) stops a run as Ctrl-C does: the finished cases
    stay, the workers are stopped (rather than orphaned by a dead parent)."""
    if threading.current_thread() is not threading.main_thread():  # only there can handlers be set
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _figures(folder: Path, grid: Grid, rows: list[dict], case: Case, trace_dir: Optional[Path]) -> None:
    paths, warnings = draw_figures(folder, grid, rows, case, trace_dir)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo("figures: " + ", ".join(str(path) for path in paths))


@friendly_errors
def benchmark(
    agents: Annotated[str, typer.Option(help=f"Comma-separated: {', '.join(AGENTS)}, sb3:DIR (a trained policy), package.module:Class, path/file.py:Class; all = the default list.")] = DEFAULT_AGENTS,
    workloads: Annotated[str, typer.Option(help=f"Comma-separated of {', '.join(WORKLOADS)}, or all.")] = "all",
    gpus: Annotated[str, typer.Option(help="Comma-separated GPUs of the traces, or all.")] = "all",
    seeds: Annotated[str, typer.Option(help="Seeds: 1-5, 1,3,7 or 1-3,10.")] = "1-5",
    eta: Annotated[str, typer.Option(help="Comma-separated energy weights in [0, 1].")] = "0.5",
    beta: Annotated[str, typer.Option(help="Comma-separated early-stop factors (inf: none).")] = "2",
    recurrences: Annotated[Optional[int], typer.Option(help="Recurrences per episode (default 2|B||P| of each job).")] = None,
    max_retries: Annotated[int, typer.Option(help="Failed attempts before b0 finishes a recurrence.")] = 20,
    output: Annotated[Path, typer.Option(help="Output folder; re-running the same command there resumes.")] = Path("benchmark-results"),
    workers: Annotated[Optional[int], typer.Option(help="Worker processes (default: one per core).")] = None,
    plots: Annotated[bool, typer.Option(help="Draw the figures at the end (needs matplotlib).")] = True,
    trace_dir: TraceDir = None,
) -> None:
    """Run agents x workloads x GPUs x seeds (x etas x betas) in parallel into a resumable folder;
    write results.csv, summary.md, summary.csv and figures."""
    start = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    with one_line_errors():
        grid = parse_grid(agents, workloads, gpus, seeds, eta, beta, load_trace_set(trace_dir).gpus, recurrences, max_retries)
        try:
            with terminate_as_interrupt(), progress_bar() as update:
                grid, rows, ran = run_benchmark(grid, output, trace_dir=trace_dir, workers=workers, on_row=update)
        except KeyboardInterrupt:
            done = len(read_results(output / RESULTS_FILE))
            typer.echo(f"interrupted: {done} of {len(grid.cases())} cases are in {output / RESULTS_FILE}; "
                       "run the same command again to resume", err=True)
            raise typer.Exit(130) from None
        except CaseFailed as error:
            if not error.user_error:
                typer.echo(error.details, err=True)
            typer.echo(f"error: {error}; the finished cases are kept in {output / RESULTS_FILE}: "
                       "fix it and run the same command again to resume", err=True)
            raise typer.Exit(1) from None
        typer.echo(write_summary(output, grid, rows))
        typer.echo(f"{ran} cases run in {elapsed_since(start)} with {workers} worker{'s' if workers > 1 else ''}, {len(rows) - ran} resumed; "
                   f"results in {output / RESULTS_FILE}, summary in {output / 'summary.md'} and {output / 'summary.csv'}")
        if plots:
            try:
                _figures(output, grid, rows, default_case(grid), trace_dir)
            except PlotsUnavailable as error:  # the results are complete: figures are optional here
                typer.echo(f"no figures: {error}", err=True)


@friendly_errors
def plot(
    folder: Annotated[Path, typer.Argument(help="A folder written by zeus-gym benchmark.")],
    agent: Annotated[Optional[str], typer.Option(help="Agent whose configurations to draw (default zeus, else the first).")] = None,
    workload: Annotated[Optional[str], typer.Option(help="Workload of the per-case figures (default: the first).")] = None,
    gpu: Annotated[Optional[str], typer.Option(help="GPU of the per-case figures (default: the first).")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the per-case figures (default: the first).")] = None,
    eta: Annotated[Optional[float], typer.Option(help="eta of the per-case figures (default: the first).")] = None,
    beta: Annotated[Optional[float], typer.Option(help="beta of the per-case figures (default: the first).")] = None,
    trace_dir: TraceDir = None,
) -> None:
    """Re-draw a benchmark folder's figures: heatmaps from its results, per-case figures by re-playing the case."""
    with one_line_errors():
        grid = Grid.from_json(read_config(folder))
        rows = read_results(folder / RESULTS_FILE)
        case = default_case(grid, agent, workload, gpu, seed, eta, beta)
        _figures(folder, grid, rows, case, trace_dir)
