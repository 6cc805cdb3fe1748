"""The paper-style table: per workload x GPU and agent, cost / Default over seeds and regret vs Oracle."""

from __future__ import annotations

import csv
import itertools
import statistics
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from zeus_gym.benchmark.grid import Grid

ALL = "all"  # the workload and gpu of the mean over all pairs


class Cell(NamedTuple):
    """One agent on one (workload, GPU) pair, or on all pairs (workload = gpu = "all")."""

    eta: float
    beta: float
    workload: str
    gpu: str
    agent: str
    seeds: int
    cost_over_default: float  # mean over seeds (all pairs: mean of the pairs' means)
    std: float  # sample std over seeds (all pairs: of each seed's mean over the pairs)
    regret_pct: float  # (mean cost_over_oracle - 1) * 100


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(key: tuple, seeds: int, over_default: float, std: float, over_oracle: float) -> Cell:
    return Cell(*key, seeds, over_default, std, (over_oracle - 1.0) * 100.0)


def summarize(rows: Iterable[dict[str, Any]], grid: Grid) -> list[Cell]:
    """Cells in grid order: each pair, then the mean over pairs, for each (eta, beta) and agent."""
    by_case = {(r["eta"], r["beta"], r["workload"], r["gpu"], r["agent"], r["seed"]): r for r in rows}
    cells = []
    for eta, beta, agent in itertools.product(grid.etas, grid.betas, grid.agents):
        pair_means: list[tuple[float, float]] = []
        per_seed: dict[int, list[float]] = {}
        for workload, gpu in itertools.product(grid.workloads, grid.gpus):
            found = [by_case[key] for seed in grid.seeds if (key := (eta, beta, workload, gpu, agent, seed)) in by_case]
            if not found:
                continue
            ratios = [r["cost_over_default"] for r in found]
            means = (statistics.fmean(ratios), statistics.fmean(r["cost_over_oracle"] for r in found))
            pair_means.append(means)
            cells.append(_cell((eta, beta, workload, gpu, agent), len(found), means[0], _std(ratios), means[1]))
            for r in found:
                per_seed.setdefault(r["seed"], []).append(r["cost_over_default"])
        if pair_means:
            seed_means = [statistics.fmean(values) for values in per_seed.values()]
            mean_default, mean_oracle = (statistics.fmean(column) for column in zip(*pair_means))
            cells.append(_cell((eta, beta, ALL, ALL, agent), len(per_seed), mean_default, _std(seed_means), mean_oracle))
    return cells


def write_csv(cells: list[Cell], path: Path) -> None:
    """One line per cell, floats repr-exact."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(Cell._fields)
        writer.writerows([repr(v) if isinstance(v, float) else v for v in cell] for cell in cells)


def _format(cell: Cell) -> str:
    regret = round(cell.regret_pct, 1) + 0.0  # + 0.0: no "-0.0 %"
    return f"{cell.cost_over_default:.3f} ± {cell.std:.3f} ({regret:+.1f} %)"


def markdown(cells: list[Cell], grid: Grid) -> str:
    """One table per (eta, beta): a row per pair and a last row for the mean over pairs."""
    sections = []
    for eta, beta in itertools.product(grid.etas, grid.betas):
        mine = {(c.workload, c.gpu, c.agent): c for c in cells if (c.eta, c.beta) == (eta, beta)}
        seeds = max((c.seeds for c in mine.values()), default=0)
        lines = [
            f"eta {eta:g}, beta {beta:g}: cost / Default, mean ± sample std over {seeds} seeds "
            "(regret vs Oracle); lower is better, Default = 1. Last row: the mean over the pairs, "
            "± the std over seeds of each seed's mean over the pairs.",
            "",
            "| workload | GPU | " + " | ".join(grid.agents) + " |",
            "|---|---|" + "---:|" * len(grid.agents),
        ]
        pairs = [*itertools.product(grid.workloads, grid.gpus), (ALL, ALL)]
        for workload, gpu in pairs:
            found = [mine.get((workload, gpu, agent)) for agent in grid.agents]
            if not any(found):
                continue
            texts = [_format(c) if c else "" for c in found]
            if workload == ALL:
                lines.append("| **mean** | **all pairs** | " + " | ".join(f"**{t}**" for t in texts) + " |")
            else:
                lines.append(f"| {workload} | {gpu} | " + " | ".join(texts) + " |")
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"
