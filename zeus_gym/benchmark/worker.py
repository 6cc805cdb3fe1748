"""Play one case of the grid and turn its episode into a results row (runs in worker processes)."""

from __future__ import annotations

import math
import os
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym

from zeus_gym.agents import agent_env_kwargs, load_agent
from zeus_gym.benchmark import lifeline
from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.runner import Episode, run_episode

# Per process: building an env parses nothing (the traces are cached per process) but still costs
# ~10 ms of array setup, and a case is only ~20-50 ms; so each worker keeps one env per job and
# reuses it through reset(seed), which reseeds it completely.
_ENVS: dict[tuple[Any, ...], gym.Env] = {}


def init_worker(run_pid: int | None = None, run_started: str | None = None) -> None:
    """Worker initializer: the worker ends when the run (process `run_pid`, started at
    `run_started`) dies, however it dies (see `lifeline`); Ctrl-C is the parent's to handle (it
    keeps the results and stops the workers); SIGTERM kills, whatever handler a forked worker
    inherited from the parent."""
    if run_pid is not None:
        lifeline.die_with_parent()
        if not lifeline.is_alive(run_pid, run_started):
            os._exit(1)  # the run died before this worker could ask to die with it
        lifeline.watch_parent(run_pid, run_started)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # One core per worker: a trained policy's torch would otherwise start a thread per core in
    # every worker, and the workers would fight over the cores (read by torch at import).
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def case_env(case: Case, grid: Grid, trace_dir: Path | None) -> gym.Env:
    """The (cached) env of the case's job, as `zeus-gym run` builds it."""
    extra = agent_env_kwargs(case.agent)  # a trained policy needs its action slots
    key = (case.workload, case.gpu, case.eta, case.beta, grid.recurrences, grid.max_retries, trace_dir, tuple(sorted(extra.items())))
    env = _ENVS.get(key)
    if env is None:
        env = _ENVS[key] = gym.make(
            "ZeusGym/RecurringJob-v2", workload=case.workload, gpu=case.gpu, eta_knob=case.eta,
            beta_knob=case.beta, num_recurrences=grid.recurrences, max_retries=grid.max_retries, trace_dir=trace_dir, **extra,
        )
    return env


def play_case(case: Case, grid: Grid, trace_dir: Path | None) -> Episode:
    """The case's episode (deterministic given the seed, for deterministic agents)."""
    env = case_env(case, grid, trace_dir)
    # A fresh agent every case (by anything `zeus-gym run --agent` takes): a row must not depend
    # on which cases its worker played before.
    return run_episode(env, load_agent(case.agent, env), seed=case.seed)


def last_share_cost(episode: Episode, share: float = 0.1) -> tuple[int, float]:
    """(k, cost of the last k recurrences), k = ceil(share * recurrences): where the agent ended up."""
    recurrences = episode.summary.recurrences
    k = max(1, math.ceil(share * recurrences)) if recurrences else 0
    first = recurrences - k + 1
    return k, math.fsum(step.step_cost for step in episode.history if step.recurrence >= first)


def case_row(case: Case, episode: Episode) -> dict[str, Any]:
    """The results row of a case (see `zeus_gym.benchmark.results.COLUMNS`)."""
    summary = episode.summary
    per_recurrence = summary.cost / summary.recurrences if summary.recurrences else math.nan
    oracle = math.nan if summary.oracle_cost is None else summary.oracle_cost
    k, last_cost = last_share_cost(episode)
    last = episode.history[-1] if episode.history else None
    return dict(
        case._asdict(),
        recurrences=summary.recurrences,
        steps=summary.steps,
        runs=summary.runs,
        fallbacks=summary.fallbacks,
        total_energy=summary.energy,
        total_time=summary.time,
        total_cost=summary.cost,
        default_cost=summary.default_cost,
        oracle_cost=oracle,
        cost_over_default=per_recurrence / summary.default_cost,
        cost_over_oracle=per_recurrence / oracle,
        last10_recurrences=k,
        last10_cost=last_cost,
        last10_over_default=last_cost / k / summary.default_cost if k else math.nan,
        final_batch_size=last.batch_size if last else 0,
        final_power_limit=last.power_limit if last else 0,
    )


def run_case(case: Case, grid: Grid, trace_dir: Path | None) -> dict[str, Any]:
    """Play a case and return its row (what the parent process appends to the results)."""
    return case_row(case, play_case(case, grid, trace_dir))
