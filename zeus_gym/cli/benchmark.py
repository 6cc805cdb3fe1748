"""`zeus-gym benchmark`: the comparison grid into a resumable folder, its summary and figures."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from zeus_gym.agents import AGENTS
from zeus_gym.backends import check_backend
from zeus_gym.benchmark.grid import DEFAULT_AGENTS, Case, Grid, parse_grid
from zeus_gym.benchmark.plots import PlotsUnavailable, import_matplotlib_in_background
from zeus_gym.benchmark.results import RESULTS_FILE, read_results
from zeus_gym.benchmark.figures import draw_figures
from zeus_gym.benchmark.run import CaseFailed, default_case, run_benchmark, start_fork_server, write_summary
from zeus_gym.cli.errors import output_folder, user_errors
from zeus_gym.cli.options import Backend, Format, MaxRetries, RayAddress, Recurrences, TraceDir, Workers
from zeus_gym.cli.progress import elapsed_since, progress_bar, terminate_as_interrupt
from zeus_gym.traces import load_trace_set
from zeus_gym.workloads import WORKLOADS


def figures(folder: Path, grid: Grid, rows: list[dict], case: Case, trace_dir: Optional[Path], format: str) -> None:
    """Draw a benchmark folder's figures and say where they are (also `zeus-gym plot`)."""
    paths, warnings = draw_figures(folder, grid, rows, case, trace_dir, format=format)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo("figures: " + ", ".join(str(path) for path in paths))


@user_errors()
def benchmark(
    agents: Annotated[str, typer.Option(help=f"Comma-separated agents: {', '.join(AGENTS)}, sb3:DIR (a trained policy), "
                                             "package.module:Class, path/file.py:Class; all = the default list.")] = DEFAULT_AGENTS,
    workloads: Annotated[str, typer.Option(help=f"Comma-separated workloads of {', '.join(WORKLOADS)}, or all.")] = "all",
    gpus: Annotated[str, typer.Option(help="Comma-separated GPUs of the traces, or all.")] = "all",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds (>= 0) and ranges: 1-5, 1,3,7 or 1-3,10.")] = "1-5",
    eta: Annotated[str, typer.Option("--etas", "--eta", help="Comma-separated energy weights in [0, 1].")] = "0.5",
    beta: Annotated[str, typer.Option("--betas", "--beta", help="Comma-separated early-stop factors (> 0; inf: none).")] = "2",
    recurrences: Recurrences = None,
    max_retries: MaxRetries = 20,
    output: Annotated[Path, typer.Option(help="Output folder (created if missing); re-running the same command there resumes.")] = Path("benchmark-results"),
    workers: Workers = None,
    plots: Annotated[bool, typer.Option(help="Draw the figures at the end (needs matplotlib).")] = True,
    format: Format = "png",
    trace_dir: TraceDir = None,
    backend: Backend = "local",
    ray_address: RayAddress = None,
) -> None:
    """Run agents x workloads x GPUs x seeds (x etas x betas) in parallel into a resumable folder;
    write results.csv, summary.md, summary.csv and figures."""
    start = time.perf_counter()
    with user_errors():
        check_backend(backend, ray_address, workers)
        workers = workers or os.cpu_count() or 1
        if backend == "local" and workers > 1:
            start_fork_server()
        output_folder(output)
        grid = parse_grid(agents, workloads, gpus, seeds, eta, beta, load_trace_set(trace_dir).gpus, recurrences, max_retries)
        if plots:
            import_matplotlib_in_background()
        try:
            with terminate_as_interrupt(), progress_bar("benchmark", "cases") as update:
                grid, rows, ran = run_benchmark(grid, output, trace_dir=trace_dir, workers=workers, on_row=update,
                                                backend=backend, ray_address=ray_address)
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
        where = f"with {workers} worker{'s' if workers > 1 else ''}" if backend == "local" else f"on Ray ({ray_address or 'a local instance'})"
        typer.echo(f"{ran} cases run in {elapsed_since(start)} {where}, {len(rows) - ran} resumed; "
                   f"results in {output / RESULTS_FILE}, summary in {output / 'summary.md'} and {output / 'summary.csv'}")
        if plots:
            try:
                figures(output, grid, rows, default_case(grid), trace_dir, format)
            except PlotsUnavailable as error:  # the results are complete: figures are optional here
                typer.echo(f"no figures: {error}", err=True)
