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
    """The summary as a Markdown table: totals with thousands separators and two decimals (energy
    and cost in MJ, GPU time in hours), ratios to Default with three decimals."""
    head = (f"{settings.agent} vs Default on {settings.groups} groups, {settings.gpu} (eta {settings.eta:g}, beta {settings.beta:g}). "
            "Energy and GPU time are scaled by each submission's runtime ratio; cost = eta * energy + (1 - eta) * MAXPOWER * time, "
            "in MJ like energy. \"/ Default\" = the agent's total over Default's on the same groups and seeds; lower is better.")
    columns = ["dataset", "groups", "submissions", "runs", "retries", "energy (MJ)", "energy / Default", "GPU time (h)",
               "GPU time / Default", "cost (MJ)", "cost / Default"]
    lines = [head, "", "| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for line in summary.to_dict("records"):
        name = f"**{line['dataset']}**" if line["dataset"] == "all" else line["dataset"]
        cells = [name, f"{line['groups']:,}", f"{line['submissions']:,}", f"{line['runs']:,}", f"{line['retries']:,}",
                 f"{line['energy'] / 1e6:,.2f}", f"{line['energy_vs_default']:.3f}", f"{line['time'] / 3600:,.2f}",
                 f"{line['time_vs_default']:.3f}", f"{line['cost'] / 1e6:,.2f}", f"{line['cost_vs_default']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
