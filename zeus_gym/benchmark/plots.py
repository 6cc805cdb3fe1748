"""Figures of a benchmark (matplotlib, PNG): cost/Default heatmaps, cumulative cost, chosen configurations."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.benchmark.summary import summarize
from zeus_gym.runner import Episode

DPI = 110
# Vector formats for papers, PNG for screens and READMEs.
FORMATS = ("png", "pdf", "svg")
# No version or date in the files: re-drawing the same results gives the same bytes.
METADATA = {"Software": None}
REACHED = dict(s=9, color="tab:blue", label="reached the target")
PROFILED = dict(s=9, marker="s", color="tab:orange", label="reached, limit profiled")
MISSED = dict(s=16, marker="x", color="tab:red", label="missed the target")


class PlotsUnavailable(ValueError):
    """matplotlib (the `plot` extra) is not installed."""


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **options: Any) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    except ImportError:
        raise PlotsUnavailable('figures need matplotlib: pip install "zeus-gym[plot]"') from None
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, cols, squeeze=False, **options)


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, metadata=METADATA)
    return path


def case_name(case: Case) -> str:
    """The part of a file name that identifies a case's job and seed."""
    return f"{case.workload}-{case.gpu}-seed{case.seed}-eta{case.eta:g}-beta{case.beta:g}"


def heatmap(rows: Iterable[dict[str, Any]], grid: Grid, eta: float, beta: float, path: Path) -> Path:
    """Mean cost/Default over seeds per workload x GPU, one panel per agent, on one color scale."""
    cells = {(c.workload, c.gpu, c.agent): c.cost_over_default for c in summarize(rows, grid) if (c.eta, c.beta) == (eta, beta)}
    values = np.array([[[cells.get((w, g, a), math.nan) for g in grid.gpus] for w in grid.workloads] for a in grid.agents])
    figure, axes = _figure(1.2 + 2.3 * len(grid.agents), 0.9 + 0.45 * len(grid.workloads), 1, len(grid.agents))
    # Colors on a log2 scale centered at Default (= 1): halving and doubling look equally far;
    # beyond 4x either way they saturate, so one outlier cannot wash out the rest.
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log2(values)
    finite = np.abs(logs[np.isfinite(logs)])
    limit = float(np.clip(finite.max() if finite.size else 1.0, 0.25, 2.0))
    image = None
    for ax, agent, panel, panel_logs in zip(axes[0], grid.agents, values, logs):
        image = ax.imshow(panel_logs, cmap="RdYlGn_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_title(agent, fontsize=10)
        ax.set_xticks(range(len(grid.gpus)), grid.gpus, fontsize=8)
        ax.set_yticks(range(len(grid.workloads)), grid.workloads if ax is axes[0][0] else [], fontsize=8)
        for (i, j), value in np.ndenumerate(panel):
            if math.isfinite(value):
                ax.text(j, i, f"{value:.2f}" if value < 100 else f"{value:.0f}", ha="center", va="center", fontsize=7)
    ticks = np.linspace(-limit, limit, 5)
    bar = figure.colorbar(image, ax=axes[0].tolist(), label="cost / Default (mean over seeds)", shrink=0.9, ticks=ticks)
    bar.ax.set_yticklabels([f"{2 ** tick:.2g}" for tick in ticks])
    figure.suptitle(f"cost relative to Default (eta {eta:g}, beta {beta:g}); lower is better", fontsize=11)
    return _save(figure, path)


def recurrence_costs(episode: Episode) -> np.ndarray:
    """Cost of each completed recurrence (its retries and fallback included), in order."""
    costs = np.zeros(episode.summary.recurrences)
    for step in episode.history:
        if step.recurrence <= len(costs):
            costs[step.recurrence - 1] += step.step_cost
    return costs


def cumulative_cost(episodes: dict[str, Episode], case: Case, path: Path) -> Path:
    """Cumulative cost vs recurrence of each agent on one case, in units of Default's expected recurrence."""
    figure, axes = _figure(7.0, 4.2)
    ax = axes[0][0]
    default_cost = oracle_cost = None
    for agent, episode in episodes.items():
        default_cost, oracle_cost = episode.summary.default_cost, episode.summary.oracle_cost
        costs = np.cumsum(recurrence_costs(episode)) / default_cost
        ax.plot(np.arange(1, len(costs) + 1), costs, label=agent, linewidth=1.4)
    if default_cost is not None:
        last = max(episode.summary.recurrences for episode in episodes.values())
        x = np.array([0, last])
        ax.plot(x, x, color="gray", linestyle="--", linewidth=0.9, label="Default, expected")
        if oracle_cost is not None:
            ax.plot(x, x * oracle_cost / default_cost, color="black", linestyle=":", linewidth=0.9, label="Oracle, expected")
    ax.set_xlabel("recurrence")
    ax.set_ylabel("cumulative cost / Default's expected recurrence")
    ax.set_title(f"{case.workload} on {case.gpu}, seed {case.seed} (eta {case.eta:g}, beta {case.beta:g})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(figure, path)


def configurations(episode: Episode, case: Case, path: Path) -> Path:
    """The batch size and power limit of every run an agent chose on one case, by recurrence."""
    figure, axes = _figure(7.0, 4.8, 2, 1, sharex=True)
    ran = [step for step in episode.history if step.ran]
    x = np.array([step.recurrence for step in ran])
    reached = np.array([step.reached for step in ran], dtype=bool)
    profiled = np.array([step.profiled for step in ran], dtype=bool)
    for ax, field, label in ((axes[0][0], "batch_size", "batch size"), (axes[1][0], "power_limit", "power limit (W)")):
        y = np.array([getattr(step, field) for step in ran])
        for mask, style in ((reached & ~profiled, REACHED), (reached & profiled, PROFILED), (~reached, MISSED)):
            if mask.any():  # no legend entries for kinds of runs that did not happen
                ax.scatter(x[mask], y[mask], **style)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    sizes = sorted({step.batch_size for step in ran})
    axes[0][0].set_yscale("log", base=2)
    axes[0][0].set_yticks(sizes, [str(size) for size in sizes], fontsize=7)  # the batch sizes, not powers of 2
    axes[0][0].minorticks_off()
    axes[0][0].legend(fontsize=7, loc="upper right")
    axes[1][0].set_xlabel("recurrence")
    figure.suptitle(f"{case.agent} on {case.workload}/{case.gpu}, seed {case.seed} (eta {case.eta:g}, beta {case.beta:g})", fontsize=10)
    return _save(figure, path)
