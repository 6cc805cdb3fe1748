"""ZeusAgent on the env reproduces zeus==0.16.0's `Simulator.simulate_one_job` run for run, bit for
bit; so do Zeus's own optimizers driven through ZeusOptimizerAgent."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import itertools
import math

import gymnasium as gym
import pytest

import zeus_gym
from zeus_gym.agents import ZeusAgent, ZeusOptimizerAgent
from zeus_gym.runner import run_episode

from reference import reference_frames, reference_job, zeus_simulate
from zeus._legacy.policy.optimizer import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer  # noqa: E402

GPUS = ("a40", "p100", "rtx6000", "v100")
INF = math.inf
# (workload, gpu, eta, beta, recurrences or None = default, seed); a workload may be a JobSpec.
GRID = [(w, g, 0.5, 2.0, None, s) for (w, g), s in itertools.product(itertools.product(zeus_gym.WORKLOADS, GPUS), (1, 2, 3))]
CUSTOM_B0 = zeus_gym.JobSpec("librispeech", "deepspeech2", "adamw", 40.0, 16, 96)
KNOBS = [
    ("librispeech", "v100", 0.0, 2.0, None, 1),
    ("imagenet", "a40", 1.0, 2.0, None, 2),
    ("cifar100", "rtx6000", 0.5, INF, None, 1),
    ("movielens-1m", "p100", 1.0, INF, None, 3),
    ("squad", "p100", 0.5, 1.5, None, 1),
    ("sentiment140", "a40", 0.0, 1.5, None, 2),
    (CUSTOM_B0, "v100", 0.5, 2.0, None, 1),
    (dataclasses.replace(CUSTOM_B0, b0=32), "a40", 0.5, 1.5, None, 3),
    # Targets reached in one or two epochs: some runs cannot afford even one epoch.
    (dataclasses.replace(zeus_gym.WORKLOADS["cifar100"], target_metric=0.05), "a40", 0.5, 1.5, 60, 1),
    (dataclasses.replace(zeus_gym.WORKLOADS["movielens-1m"], target_metric=0.3), "v100", 0.5, 2.0, None, 2),
    # The reference gives up after 20 failed tries (the env finishes the recurrence with b0).
    ("cifar100", "a40", 0.5, 1.05, None, 1),
    ("librispeech", "p100", 0.5, 2.0, 7, 1),
    ("imagenet", "v100", 0.5, 2.0, 600, 1),
    ("movielens-1m", "rtx6000", 0.3, 2.0, 1000, 2),
]
CASES = GRID + KNOBS


def case_id(case: tuple) -> str:
    workload, gpu, eta, beta, recurrences, seed = case
    name = workload if isinstance(workload, str) else f"{workload.dataset}@{workload.target_metric}-b0={workload.b0}"
    return f"{name}-{gpu}-eta{eta}-beta{beta}-rec{recurrences or 'default'}-seed{seed}"


def make_env(case: tuple) -> gym.Env:
    workload, gpu, eta, beta, recurrences, _ = case
    return gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu, eta_knob=eta, beta_knob=beta, num_recurrences=recurrences)


@functools.lru_cache(maxsize=None)
def frames(trace_dir, gpu):
    """The reference's DataFrames, read once per GPU per session."""
    return reference_frames(trace_dir, gpu)


@functools.lru_cache(maxsize=None)
def reference_history(trace_dir, case: tuple) -> tuple[tuple[tuple, ...], bool]:
    """(bs, pl, energy, time, reached) of every run the reference's Zeus makes, and whether it
    gave up (a recurrence failed 20 times, or the first one failed); then the runs up to there."""
    _, gpu, eta, beta, recurrences, seed = case
    info = make_env(case).unwrapped.job_info
    simulator = zeus_simulate.Simulator(
        *frames(trace_dir, gpu), PruningGTSBatchSizeOptimizer(seed=seed, verbose=False),
        JITPowerLimitOptimizer(verbose=False), seed=seed, verbose=False,
    )
    runs = []
    run_job = simulator._run_job

    def recording_run_job(**kwargs):
        energy, time, reached = run_job(**kwargs)
        if energy != 0 or time != 0 or reached:  # the reference's test for a run that started
            runs.append((int(kwargs["batch_size"]), int(kwargs["power_limit"]), energy, time, reached))
        return energy, time, reached

    simulator._run_job = recording_run_job
    # The reference prints a line for every run that cannot start, even when not verbose.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            history = simulator.simulate_one_job(reference_job(info["workload"], info["b0"]), recurrences or info["num_recurrences"], beta, eta)
        except RuntimeError:
            return tuple(runs), True
    assert [(e.bs, e.pl, e.energy, e.time, e.reached) for e in history] == runs
    return tuple(runs), False


def check_parity(trace_dir, case: tuple, agent) -> None:
    """The env's run history equals the reference's (up to where the reference gave up)."""
    expected, gave_up = reference_history(trace_dir, case)
    episode = run_episode(make_env(case), agent, seed=case[-1])
    got = [(r["batch_size"], r["power_limit"], r["energy"], r["time"], r["reached"]) for r in episode.history_lines()]
    if gave_up:
        assert got[: len(expected)] == list(expected)
        assert episode.summary.fallbacks > 0
    else:
        assert got == list(expected)
        assert episode.summary.fallbacks == 0


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_zeus_agent_matches_reference(zeus_trace_dir, case):
    check_parity(zeus_trace_dir, case, ZeusAgent())


@pytest.mark.filterwarnings("error::UserWarning", "ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_zeus_optimizers_through_adapter_match_reference(zeus_trace_dir, case):
    seed = case[-1]
    agent = ZeusOptimizerAgent(PruningGTSBatchSizeOptimizer(seed=seed, verbose=False), JITPowerLimitOptimizer(verbose=False))
    check_parity(zeus_trace_dir, case, agent)


def test_cases_exercise_early_stops_and_runs_that_cannot_start(zeus_trace_dir):
    """The parity cases are not all easy: some runs are cut by early stopping, some cannot start."""
    cut = not_started = 0
    for case in KNOBS + GRID[::6]:
        episode = run_episode(make_env(case), ZeusAgent(), seed=case[-1])
        cut += sum(1 for step in episode.history if step.ran and not step.reached)
        not_started += sum(1 for step in episode.history if not step.ran)
    assert cut > 0 and not_started > 0
