"""The summary of a `zeus-gym cluster` folder: per dataset and over all groups, the agent against Default."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from zeus_gym.cluster.run import ROW_KEYS, Settings
from zeus_gym.workloads import WORKLOADS

Row = dict[str, Any]


def summary_frame(rows: list[Row]) -> pd.DataFrame:
    """Per dataset (in WORKLOADS order) and over all: groups, submissions, runs, and the agent's
    energy, time and cost with their ratio to Default's."""
    frame = pd.DataFrame(rows, columns=list(ROW_KEYS))
    lines = []
    for name in [*WORKLOADS, "all"]:
        part = frame if name == "all" else frame[frame["dataset"] == name]
        if part.empty:
            continue
        line = {"dataset": name, "groups": len(part), "submissions": int(part["submissions"].sum()), "runs": int(part["runs"].sum()),
                "retries": int(part["retries"].sum())}
        for key in ("energy", "time", "cost"):
            ours, theirs = math.fsum(part[key]), math.fsum(part[f"default_{key}"])
            line[key], line[f"{key}_vs_default"] = ours, ours / theirs if theirs else math.nan
        lines.append(line)
    return pd.DataFrame(lines)


def summary_markdown(summary: pd.DataFrame, settings: Settings) -> str:
    """The summary as a Markdown table (energy in MJ, GPU time in hours)."""
    head = (f"{settings.agent} vs Default on {settings.groups} groups, {settings.gpu} (eta {settings.eta:g}, beta {settings.beta:g}); "
            "energy and GPU time scaled by each submission's runtime ratio, cost = eta * energy + (1 - eta) * MAXPOWER * time; "
            "x = agent / Default, lower is better.")
    lines = [head, "", "| dataset | groups | submissions | runs | retries | energy (MJ) | x | time (h) | x | cost | x |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for line in summary.to_dict("records"):
        name = f"**{line['dataset']}**" if line["dataset"] == "all" else line["dataset"]
        lines.append(f"| {name} | {line['groups']} | {line['submissions']} | {line['runs']} | {line['retries']} | "
                     f"{line['energy'] / 1e6:.4g} | {line['energy_vs_default']:.3f} | {line['time'] / 3600:.4g} | "
                     f"{line['time_vs_default']:.3f} | {line['cost']:.4g} | {line['cost_vs_default']:.3f} |")
    return "\n".join(lines) + "\n"
