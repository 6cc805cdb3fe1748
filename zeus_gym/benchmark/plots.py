"""Figures of a benchmark (matplotlib; PNG, PDF or SVG): cost/Default heatmaps, cumulative cost,
chosen configurations.

Made for papers: colour-blind-safe colours (ColorBrewer's RdBu for the heatmaps, the Okabe-Ito
palette plus distinct line styles and markers elsewhere), units on every axis, legends outside
the data, agent names a reader understands, and no panel without information (Default's heatmap
is 1 by construction of the normalisation, so it is not drawn when other agents are).
"""

from __future__ import annotations

import contextlib
import math
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.benchmark.summary import summarize
from zeus_gym.runner import Episode

DPI = 150
# Vector formats for papers, PNG for screens and READMEs.
FORMATS = ("png", "pdf", "svg")
# No version or date in the files: re-drawing the same results gives the same bytes.
METADATA = {"png": {"Software": None}, "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
            "svg": {"Creator": None, "Date": None}}
# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
LINE_STYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)))
REACHED = dict(s=14, marker="o", color=OKABE_ITO[0], label="reached the target")
PROFILED = dict(s=16, marker="s", color=OKABE_ITO[1], label="reached, power limit profiled")
MISSED = dict(s=22, marker="x", color=OKABE_ITO[3], label="missed the target")
BUILT_IN_NAMES = {"zeus": "Zeus", "frugal": "Frugal", "default": "Default", "oracle": "Oracle", "grid": "Grid search", "random": "Random"}


class PlotsUnavailable(ValueError):
    """matplotlib (the `plot` extra) is not installed."""


def import_matplotlib_in_background() -> threading.Thread:
    """Start importing matplotlib in a thread (half a second of CPU): a benchmark's parent mostly
    waits on its workers, and its figures then start at once. A missing matplotlib is left to be
    reported when the figures are drawn."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            import matplotlib.figure  # noqa: F401

    thread = threading.Thread(target=load, name="zeus-gym: import matplotlib")
    thread.start()
    return thread


def agent_label(spec: str) -> str:
    """A name for readers: "Zeus" for zeus, "MaskablePPO (mppo)" for sb3:runs/mppo, the class for module:Class."""
    if spec in BUILT_IN_NAMES:
        return BUILT_IN_NAMES[spec]
    if spec.startswith("sb3:"):
        folder = Path(spec[4:])
        algorithm = "RL policy"
        try:
            import json

            algorithm = {"ppo": "PPO", "a2c": "A2C", "dqn": "DQN", "maskable-ppo": "MaskablePPO"}.get(
                json.loads((folder / "config.json").read_text())["algo"], algorithm)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return f"{algorithm} ({folder.name})"
    return spec.rpartition(":")[2] or spec


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **options: Any) -> tuple[Any, Any]:
    try:
        from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend
    except ImportError:
        raise PlotsUnavailable('figures need matplotlib: pip install "zeus-gym[plot]"') from None
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, cols, squeeze=False, **options)


def _save(figure: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib

    kind = path.suffix.lstrip(".")
    # A fixed salt: SVG element ids are otherwise random, and the same figure would differ in bytes.
    with matplotlib.rc_context({"svg.hashsalt": "zeus-gym"}):
        figure.savefig(path, dpi=DPI, metadata=METADATA.get(kind, {}), **({"pil_kwargs": {"optimize": True}} if kind == "png" else {}))
    return path


def case_name(case: Case) -> str:
    """The part of a file name that identifies a case's job and seed."""
    return f"{case.workload}-{case.gpu}-seed{case.seed}-eta{case.eta:g}-beta{case.beta:g}"


def _knobs(eta: float, beta: float) -> str:
    return f"eta {eta:g}, beta {beta:g}" if math.isfinite(beta) else f"eta {eta:g}, no early stopping"


def heatmap(rows: Iterable[dict[str, Any]], grid: Grid, eta: float, beta: float, path: Path) -> Path:
    """Mean cost/Default over seeds per workload x GPU, one panel per agent, on one colour scale."""
    cells = {(c.workload, c.gpu, c.agent): c.cost_over_default for c in summarize(rows, grid) if (c.eta, c.beta) == (eta, beta)}
    # Default's panel is ~1 everywhere by construction: it says nothing the colour bar does not.
    agents = [a for a in grid.agents if a != "default"] or list(grid.agents)
    values = np.array([[[cells.get((w, g, a), math.nan) for g in grid.gpus] for w in grid.workloads] for a in agents])
    figure, axes = _figure(1.6 + 1.9 * len(agents), 1.5 + 0.42 * len(grid.workloads), 1, len(agents))
    # Colours on a log2 scale centred at Default (= 1): halving and doubling look equally far;
    # beyond 4x either way they saturate (the numbers in the cells stay exact).
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log2(values)
    finite = np.abs(logs[np.isfinite(logs)])
    limit = float(np.clip(finite.max() if finite.size else 1.0, 0.25, 2.0))
    image = None
    for ax, agent, panel, panel_logs in zip(axes[0], agents, values, logs):
        image = ax.imshow(panel_logs, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_title(agent_label(agent), fontsize=10)
        ax.set_xticks(range(len(grid.gpus)), [g.upper() for g in grid.gpus], fontsize=7.5, rotation=35, ha="right",
                      rotation_mode="anchor")
        ax.set_yticks(range(len(grid.workloads)), grid.workloads if ax is axes[0][0] else [], fontsize=8)
        ax.tick_params(length=0)
        for (i, j), value in np.ndenumerate(panel):
            if math.isfinite(value):
                dark = abs(panel_logs[i, j]) > 0.6 * limit  # white text on the saturated ends
                ax.text(j, i, f"{value:.2f}" if value < 100 else f"{value:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black")
    axes[0][0].set_ylabel("workload", fontsize=9)
    figure.supxlabel("GPU", fontsize=9)
    ticks = np.linspace(-limit, limit, 5)
    bar = figure.colorbar(image, ax=axes[0].tolist(), shrink=0.9, ticks=ticks, aspect=25)
    bar.set_label("cost / Default's expected cost\n(mean over seeds, log scale)", fontsize=8)
    bar.ax.set_yticklabels([f"{2 ** tick:.2g}" for tick in ticks], fontsize=8)
    shown = "" if "default" not in grid.agents or agents == list(grid.agents) else "; Default = 1 by definition (not shown)"
    figure.suptitle(f"Cost relative to Default ({_knobs(eta, beta)}); lower is better{shown}", fontsize=10)
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
    figure, axes = _figure(7.0, 4.0)
    ax = axes[0][0]
    default_cost = oracle_cost = None
    for (agent, episode), color, style in zip(episodes.items(), OKABE_ITO, LINE_STYLES * 2):
        default_cost, oracle_cost = episode.summary.default_cost, episode.summary.oracle_cost
        costs = np.cumsum(recurrence_costs(episode)) / default_cost
        ax.plot(np.arange(1, len(costs) + 1), costs, label=agent_label(agent), color=color, linestyle=style, linewidth=1.5)
    if default_cost is not None:
        last = max(episode.summary.recurrences for episode in episodes.values())
        x = np.array([0, last])
        ax.plot(x, x, color="0.45", linestyle=(0, (1, 2)), linewidth=1.0, label="Default, expected")
        if oracle_cost is not None:
            ax.plot(x, x * oracle_cost / default_cost, color="0.15", linestyle=(0, (1, 2)), linewidth=1.0, label="Oracle, expected")
    ax.set_xlabel("recurrence (one completed training run of the job)")
    ax.set_ylabel("cumulative cost\n(in Default's expected recurrences)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_title(f"{case.workload} on {case.gpu.upper()}, seed {case.seed} ({_knobs(case.eta, case.beta)})", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, frameon=False)  # outside: hides no line
    return _save(figure, path)


def configurations(episode: Episode, case: Case, path: Path) -> Path:
    """The batch size and power limit of every run an agent chose on one case, by recurrence."""
    figure, axes = _figure(7.0, 4.8, 2, 1, sharex=True)
    ran = [step for step in episode.history if step.ran]
    x = np.array([step.recurrence for step in ran])
    reached = np.array([step.reached for step in ran], dtype=bool)
    profiled = np.array([step.profiled for step in ran], dtype=bool)
    for ax, field, label in ((axes[0][0], "batch_size", "batch size (samples)"), (axes[1][0], "power_limit", "power limit (W)")):
        y = np.array([getattr(step, field) for step in ran])
        for mask, style in ((reached & ~profiled, REACHED), (reached & profiled, PROFILED), (~reached, MISSED)):
            if mask.any():  # no legend entries for kinds of runs that did not happen
                ax.scatter(x[mask], y[mask], linewidths=1.0, **style)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        values = sorted(set(y.tolist()))
        ax.set_ylim(min(values) / (1.25 if field == "batch_size" else 1) - (0 if field == "batch_size" else 10),
                    max(values) * (1.25 if field == "batch_size" else 1) + (0 if field == "batch_size" else 10))
    sizes = sorted({step.batch_size for step in ran})
    axes[0][0].set_yscale("log", base=2)
    axes[0][0].set_yticks(sizes, [str(size) for size in sizes], fontsize=7)  # the batch sizes, not powers of 2
    axes[0][0].minorticks_off()
    axes[0][0].legend(fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=3, borderaxespad=0, frameon=False)
    axes[1][0].set_xlabel("recurrence (one completed training run of the job)")
    figure.suptitle(f"{agent_label(case.agent)} on {case.workload}/{case.gpu.upper()}, seed {case.seed} ({_knobs(case.eta, case.beta)})",
                    fontsize=10)
    return _save(figure, path)
