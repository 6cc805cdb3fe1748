"""A benchmark folder's figures: the heatmaps from its results, and the per-case figures from
re-playing one case for every agent, drawn side by side in two processes where there are two cores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from zeus_gym.benchmark import plots
from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.benchmark.results import RESULTS_FILE, read_config, row_case, trace_hashes
from zeus_gym.benchmark.run import worker_pool
from zeus_gym.benchmark.worker import play_case
from zeus_gym.runner import Episode
from zeus_gym.traces import resolve_trace_dir

Row = dict[str, Any]


def replay(grid: Grid, case: Case, agents: tuple[str, ...], trace_dir: Path | None, rows: list[Row]) -> tuple[dict[str, Episode], list[str]]:
    """Re-play one case for each agent (deterministic by seed), and warnings where an episode
    does not give the cost its results row has (a non-deterministic agent, other code or traces)."""
    known = {row_case(row): row for row in rows}
    episodes, warnings = {}, []
    for agent in agents:
        this = case._replace(agent=agent)
        episodes[agent] = episode = play_case(this, grid, trace_dir)
        row = known.get(this)
        if row is not None and row["total_cost"] != episode.summary.cost:
            warnings.append(f"re-playing {this.describe()} gave another cost than {RESULTS_FILE}: the figure shows the re-played episode")
    return episodes, warnings


def case_figures(grid: Grid, case: Case, trace_dir: Path, rows: list[Row], out: Path, format: str) -> tuple[list[Path], list[str]]:
    """Cumulative cost of every agent and the configurations `case.agent` chose, on `case`'s job
    and seed (re-played); the files and any warnings."""
    episodes, warnings = replay(grid, case, grid.agents, trace_dir, rows)
    name = plots.case_name(case)
    safe_agent = "".join(ch if ch.isalnum() else "_" for ch in case.agent)
    paths = [plots.cumulative_cost(episodes, case, out / f"cumulative-{name}.{format}"),
             plots.configurations(episodes[case.agent], case, out / f"configurations-{safe_agent}-{name}.{format}")]
    return paths, warnings


def draw_figures(folder: Path, grid: Grid, rows: list[Row], case: Case, trace_dir: Path | None, *,
                 format: str = "png") -> tuple[list[Path], list[str]]:
    """The heatmap of each (eta, beta), then the per-case figures of `case` (see `case_figures`).
    Returns the files and any warnings."""
    out = folder / "plots"
    root = resolve_trace_dir(trace_dir)
    if read_config(folder)["traces"] != trace_hashes(root):
        raise ValueError(f"the traces in {root} are not those {folder} was run on (SHA-256 differ): re-playing a case needs them")
    same_case = [row for row in rows if row_case(row)._replace(agent=case.agent) == case]
    # Each figure costs tenths of a second of one core (and each process its own matplotlib import):
    # a helper re-plays and draws the per-case figures while this process draws the heatmaps.
    with worker_pool(1 if (os.cpu_count() or 1) > 1 else 0, 1, one_here=False) as helper:
        later = helper.submit(case_figures, grid, case, root, same_case, out, format) if helper else None
        paths = [plots.heatmap(rows, grid, eta, beta, out / f"heatmap-eta{eta:g}-beta{beta:g}.{format}")
                 for eta in grid.etas for beta in grid.betas]
        case_paths, warnings = later.result() if later else case_figures(grid, case, root, same_case, out, format)
    return paths + case_paths, warnings
