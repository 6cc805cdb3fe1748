"""The paper-style table: per workload x GPU and agent, cost / Default's expected cost over seeds,
and the regret against the Oracle.

Normalisation: an episode's cost per recurrence divided by Default's *expected* cost of one
recurrence (b0 at its largest power limit, from the traces), so Default itself reads about 1 but
not exactly (its runs are drawn like everyone's). Regret: how much more an agent's mean cost is
than the Oracle's mean cost over the same seeds, in percent; with the Oracle in the grid that is
its played episodes (so the Oracle's own regret is 0 by construction, and a lucky agent can be
below it), without, the Oracle's expected cost.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from zeus_gym.benchmark.grid import Grid

ALL = "all"  # the workload and gpu of the mean over all pairs
ORACLE = "oracle"
PLAYED, EXPECTED = "oracle episodes", "oracle expected cost"


class Cell(NamedTuple):
    """One agent on one (workload, GPU) pair, or on all pairs (workload = gpu = "all")."""

    eta: float
    beta: float
    workload: str
    gpu: str
    agent: str
    seeds: int
    cost_over_default: float  # mean over seeds of cost per recurrence / Default's expected one (all pairs: mean of the pairs')
    std: float  # sample std over seeds (all pairs: of each seed's mean over the pairs); nan for one seed
    regret_pct: float  # (mean cost / the Oracle's mean cost - 1) * 100 (all pairs: mean of the pairs')
    regret_vs: str  # PLAYED (the Oracle's episodes on the same seeds) or EXPECTED (its expected cost)


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def summarize(rows: Iterable[dict[str, Any]], grid: Grid) -> list[Cell]:
    """Cells in grid order: each pair, then the mean over pairs, for each (eta, beta) and agent."""
    by_case = {(r["eta"], r["beta"], r["workload"], r["gpu"], r["agent"], r["seed"]): r for r in rows}
    cells = []
    for eta, beta in itertools.product(grid.etas, grid.betas):
        def found(workload: str, gpu: str, agent: str) -> list[dict[str, Any]]:
            return [by_case[key] for seed in grid.seeds if (key := (eta, beta, workload, gpu, agent, seed)) in by_case]

        for agent in grid.agents:
            pair_means: list[tuple[float, float]] = []
            per_seed: dict[int, list[float]] = {}
            references = set()
            for workload, gpu in itertools.product(grid.workloads, grid.gpus):
                mine = found(workload, gpu, agent)
                if not mine:
                    continue
                mean = statistics.fmean(r["cost_over_default"] for r in mine)
                oracle = found(workload, gpu, ORACLE) if ORACLE in grid.agents else []
                if oracle:  # the Oracle's episodes, normalised by the same expected Default cost
                    regret, reference = (mean / statistics.fmean(r["cost_over_default"] for r in oracle) - 1.0) * 100.0, PLAYED
                else:
                    regret, reference = (statistics.fmean(r["cost_over_oracle"] for r in mine) - 1.0) * 100.0, EXPECTED
                references.add(reference)
                pair_means.append((mean, regret))
                cells.append(Cell(eta, beta, workload, gpu, agent, len(mine), mean, _std([r["cost_over_default"] for r in mine]), regret, reference))
                for r in mine:
                    per_seed.setdefault(r["seed"], []).append(r["cost_over_default"])
            if pair_means:
                seed_means = [statistics.fmean(values) for values in per_seed.values()]
                mean_default, mean_regret = (statistics.fmean(column) for column in zip(*pair_means))
                reference = references.pop() if len(references) == 1 else f"{PLAYED} where run, else {EXPECTED}"
                cells.append(Cell(eta, beta, ALL, ALL, agent, len(per_seed), mean_default, _std(seed_means), mean_regret, reference))
    return cells


def write_csv(cells: list[Cell], path: Path) -> None:
    """One line per cell, floats repr-exact (std `nan` for one seed)."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(Cell._fields)
        writer.writerows([repr(v) if isinstance(v, float) else v for v in cell] for cell in cells)


def _format(cell: Cell) -> str:
    regret = round(cell.regret_pct, 1) + 0.0  # + 0.0: no "-0.0 %"
    spread = f" ± {cell.std:.3f}" if math.isfinite(cell.std) else ""  # one seed has no spread to show
    return f"{cell.cost_over_default:.3f}{spread} ({regret:+.1f} %)"


def _header(eta: float, beta: float, seeds: int, reference: str) -> str:
    over_seeds = f"mean ± sample std over {seeds} seeds" if seeds > 1 else "one seed (no spread)"
    regret = ("the Oracle's mean cost over the same seeds (its own regret is 0)" if reference == PLAYED
              else "the Oracle's expected cost" if reference == EXPECTED else f"the Oracle ({reference})")
    return (f"eta {eta:g}, beta {beta:g}: cost per recurrence / Default's expected cost per recurrence (b0 at its largest "
            f"power limit; Default's own episodes read about 1), {over_seeds}; in parentheses the regret, % above "
            f"{regret}. Lower is better. Last row: the mean over the pairs"
            + (", ± the std over seeds of each seed's mean over the pairs." if seeds > 1 else "."))


def markdown(cells: list[Cell], grid: Grid) -> str:
    """One table per (eta, beta): a row per pair and a last row for the mean over pairs."""
    sections = []
    for eta, beta in itertools.product(grid.etas, grid.betas):
        mine = {(c.workload, c.gpu, c.agent): c for c in cells if (c.eta, c.beta) == (eta, beta)}
        seeds = max((c.seeds for c in mine.values()), default=0)
        references = {c.regret_vs for c in mine.values() if c.workload != ALL}
        lines = [
            _header(eta, beta, seeds, references.pop() if len(references) == 1 else f"{PLAYED} where run, else {EXPECTED}"),
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
