"""`zeus-gym plot`: re-draw a benchmark folder's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from zeus_gym.benchmark.grid import Grid
from zeus_gym.benchmark.results import CONFIG_FILE, RESULTS_FILE, read_config, read_results
from zeus_gym.benchmark.run import default_case
from zeus_gym.cli.benchmark import figures
from zeus_gym.cli.errors import user_errors
from zeus_gym.cli.options import Format, TraceDir


@user_errors()
def plot(
    folder: Annotated[Path, typer.Argument(help="A folder written by zeus-gym benchmark.")],
    agent: Annotated[Optional[str], typer.Option(help="Agent whose configurations to draw (default: zeus, else the first).", show_default=False)] = None,
    workload: Annotated[Optional[str], typer.Option(help="Workload of the per-case figures (default: the first).", show_default=False)] = None,
    gpu: Annotated[Optional[str], typer.Option(help="GPU of the per-case figures (default: the first).", show_default=False)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed of the per-case figures (default: the first).", show_default=False)] = None,
    eta: Annotated[Optional[float], typer.Option(help="eta of the per-case figures (default: the first).", show_default=False)] = None,
    beta: Annotated[Optional[float], typer.Option(help="beta of the per-case figures (default: the first).", show_default=False)] = None,
    format: Format = "png",
    trace_dir: TraceDir = None,
) -> None:
    """Re-draw a benchmark folder's figures: heatmaps from its results, per-case figures by re-playing the case."""
    with user_errors():
        config = read_config(folder)
        try:
            grid = Grid.from_json(config)
        except ValueError as error:
            raise ValueError(f"{folder / CONFIG_FILE}: {error}; it was not written by zeus-gym benchmark") from None
        rows = read_results(folder / RESULTS_FILE)
        case = default_case(grid, agent, workload, gpu, seed, eta, beta)
        figures(folder, grid, rows, case, trace_dir, format)
