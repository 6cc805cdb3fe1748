"""Play one agent on one group of `ZeusGym/ClusterTrace-v0`: every run it made, and a summary."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from zeus_gym.agents.base import Agent, JobInfo

# One history line per run that ran, in the order the runs finished.
HISTORY_KEYS = ("submission", "attempt", "start_time", "end_time", "batch_size", "power_limit", "profiled",
                "energy", "time", "reached", "cost", "scaled_cost")


@dataclass(frozen=True)
class GroupSummary:
    """Totals of one group (energy and time scaled by the runtime ratios; cost = scaled cost)."""

    group: str
    dataset: str
    submissions: int
    steps: int  # decisions: submissions and retries
    runs: int  # runs that ran
    not_started: int  # runs that could not afford one epoch
    retries: int
    energy: float  # J
    time: float  # s of GPU time (runs overlap: not wall-clock)
    cost: float


@dataclass(frozen=True)
class GroupEpisode:
    """What `play_group` returns: the reset info and every finished run (its info record)."""

    job_info: JobInfo
    runs: list[dict[str, Any]]
    summary: GroupSummary

    def history(self) -> list[tuple[int, int, float, bool, float]]:
        """(batch size, power limit, energy, reached, time) of each run that ran, in finishing
        order: the reference's `HistoryEntry` fields."""
        return [(r["batch_size"], r["power_limit"], r["energy"], r["reached"], r["time"]) for r in self.runs if r["ran"]]

    def history_lines(self) -> list[dict[str, Any]]:
        """One dict (keys `HISTORY_KEYS`) per run that ran."""
        return [{key: run[key] for key in HISTORY_KEYS} for run in self.runs if run["ran"]]

    def write_history(self, path: str | os.PathLike) -> int:
        """`history_lines` as JSON Lines (floats repr-exact); returns the number of lines."""
        return write_history_lines(path, self.history_lines())


def write_history_lines(path: str | os.PathLike, lines: list[dict[str, Any]]) -> int:
    """History lines as JSON Lines (floats repr-exact); returns the number of lines."""
    with open(path, "w", encoding="utf-8") as file:
        file.writelines(json.dumps(line) + "\n" for line in lines)
    return len(lines)


def play_group(env: gym.Env, agent: Agent, group: str | int | None = None, seed: int | None = None) -> GroupEpisode:
    """Reset `env` (on `group` if given) and `agent`, and play until the group is done. The agent
    is seeded with the group's adler32 seed if the env uses reference seeding, else with `seed`."""
    observation, info = env.reset(seed=seed, options=None if group is None else {"group": group})
    agent.reset(info, info["group_seed"] if env.unwrapped.reference_seeding else seed)
    job_info, runs, steps, done = info, [], 0, False
    while not done:
        action = agent.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, observation, reward, terminated, truncated, info)
        runs.extend(info["finished"])
        steps += 1
        done = terminated or truncated
    summary = GroupSummary(
        group=job_info["group"],
        dataset=job_info["dataset"],
        submissions=job_info["submissions"],
        steps=steps,
        runs=sum(run["ran"] for run in runs),
        not_started=sum(not run["ran"] for run in runs),
        retries=sum(run["attempt"] > 1 for run in runs),
        energy=math.fsum(run["energy"] for run in runs),
        time=math.fsum(run["time"] for run in runs),
        cost=math.fsum(run["scaled_cost"] for run in runs),
    )
    return GroupEpisode(job_info, runs, summary)
