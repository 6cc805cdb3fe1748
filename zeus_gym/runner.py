"""Play one agent on one env for one episode: its history (a record per step) and a summary."""

from __future__ import annotations

import json
import math
import operator
import os
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym

from zeus_gym.agents.base import Agent, JobInfo, default_action
from zeus_gym.agents.oracle import episode_job, oracle_choice

# The keys of a history line: one line per run that actually ran.
HISTORY_KEYS = ("recurrence", "attempt", "batch_size", "power_limit", "energy", "time", "reached", "cost", "profiled")


class StepRecord(NamedTuple):
    """One step: the agent's run (`ran` False: it could not afford one epoch and did not start)
    and, when its recurrence hit `max_retries`, the b0 run that finished it (`fallback`)."""

    recurrence: int  # 1-based
    attempt: int  # 1-based, within the recurrence
    batch_size: int
    power_limit: int
    profiled: bool
    ran: bool
    reached: bool
    epochs: int
    energy: float
    time: float
    cost: float
    fallback: bool
    fallback_energy: float
    fallback_time: float
    fallback_cost: float
    step_cost: float

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> StepRecord:
        """The record of a step's `info`."""
        return tuple.__new__(cls, _record_fields(info))  # one C call per step: the fields' values in order


_record_fields = operator.itemgetter(*StepRecord._fields)


@dataclass(frozen=True)
class Summary:
    """Totals of an episode (fallback runs included) and its cost relative to the baselines."""

    agent: str
    job: str
    gpu: str
    eta: float
    beta: float
    seed: int | None
    recurrences: int  # completed
    steps: int
    runs: int  # runs that started, fallback runs included
    not_started: int
    fallbacks: int
    energy: float  # J
    time: float  # s
    cost: float
    default_cost: float  # expected cost of one recurrence of Default (b0 at its top limit)
    oracle_cost: float | None  # expected cost of one recurrence of the Oracle; None: unknown
    vs_default: float | None  # cost / (recurrences * default_cost); None before any recurrence
    vs_oracle: float | None


@dataclass(frozen=True)
class Episode:
    """What `run_episode` returns."""

    job_info: JobInfo
    history: list[StepRecord]
    summary: Summary

    def history_lines(self) -> list[dict[str, Any]]:
        """One dict (keys `HISTORY_KEYS`) per run that ran, in order; a fallback run is its own
        line, b0 at its top limit, one attempt after the step that triggered it."""
        b0_limit = self.job_info["power_limits"][default_action(self.job_info)[1]]
        lines = []
        for step in self.history:
            if step.ran:
                lines.append({key: getattr(step, key) for key in HISTORY_KEYS})
            if step.fallback:
                lines.append(dict(
                    recurrence=step.recurrence, attempt=step.attempt + 1, batch_size=self.job_info["b0"],
                    power_limit=b0_limit, energy=step.fallback_energy, time=step.fallback_time,
                    reached=True, cost=step.fallback_cost, profiled=False,
                ))
        return lines

    def write_history(self, path: str | os.PathLike) -> int:
        """Write `history_lines` as JSON Lines (floats repr-exact); returns the number of lines."""
        lines = self.history_lines()
        with open(path, "w", encoding="utf-8") as file:
            file.writelines(json.dumps(line) + "\n" for line in lines)
        return len(lines)


def _oracle_cost(env: gym.Env, job_info: JobInfo) -> float | None:
    params = getattr(env.unwrapped, "params", None)
    return None if params is None else oracle_choice(episode_job(params, job_info), params.eta)[2]


def run_episode(env: gym.Env, agent: Agent, seed: int | None = None, *, max_steps: int | None = None) -> Episode:
    """Reset `env` and `agent` with `seed`, play until the episode ends (or `max_steps`)."""
    observation, info = env.reset(seed=seed)
    job_info = info
    agent.reset(job_info, seed)
    history: list[StepRecord] = []
    done = False
    while not done and (max_steps is None or len(history) < max_steps):
        action = agent.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, observation, reward, terminated, truncated, info)
        history.append(StepRecord.from_info(info))
        done = terminated or truncated
    return Episode(job_info, history, summarize(job_info, history, type(agent).__name__, seed, _oracle_cost(env, job_info)))


def summarize(job_info: JobInfo, history: list[StepRecord], agent: str, seed: int | None, oracle_cost: float | None) -> Summary:
    """The `Summary` of a history."""
    recurrences = sum(1 for step in history if step.reached or step.fallback)
    cost = math.fsum(step.step_cost for step in history)

    def ratio(per_recurrence: float | None) -> float | None:
        return None if per_recurrence is None or recurrences == 0 else cost / (recurrences * per_recurrence)

    return Summary(
        agent=agent,
        job=job_info["workload"].describe(),
        gpu=job_info["gpu"],
        eta=job_info["eta"],
        beta=job_info["beta"],
        seed=seed,
        recurrences=recurrences,
        steps=len(history),
        runs=sum(step.ran + step.fallback for step in history),
        not_started=sum(not step.ran for step in history),
        fallbacks=sum(step.fallback for step in history),
        energy=math.fsum(step.energy + step.fallback_energy for step in history),
        time=math.fsum(step.time + step.fallback_time for step in history),
        cost=cost,
        default_cost=job_info["default_cost"],
        oracle_cost=oracle_cost,
        vs_default=ratio(job_info["default_cost"]),
        vs_oracle=ratio(oracle_cost),
    )


def format_summary(summary: Summary) -> str:
    """A few aligned lines for people."""
    rows = [
        ("agent", f"{summary.agent} on {summary.job}, {summary.gpu} (eta {summary.eta}, beta {summary.beta}, seed {summary.seed})"),
        ("recurrences", f"{summary.recurrences} in {summary.steps} steps: {summary.runs} runs, "
                        f"{summary.not_started} could not start, {summary.fallbacks} b0 fallbacks"),
        ("energy", f"{summary.energy:.6g} J"),
        ("time", f"{summary.time:.6g} s ({summary.time / 3600:.3g} h)"),
        ("cost", f"{summary.cost:.6g} ({summary.cost / max(summary.recurrences, 1):.6g} per recurrence)"),
    ]
    for name, ratio, expected in (("Default", summary.vs_default, summary.default_cost), ("Oracle", summary.vs_oracle, summary.oracle_cost)):
        if ratio is not None:
            rows.append((f"vs {name}", f"{ratio:.4f}x ({name} expects {expected:.6g} per recurrence)"))
    return "\n".join(f"{name:<12} {text}" for name, text in rows)
