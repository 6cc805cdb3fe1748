"""ZeusGym/ClusterTrace-v0 + ZeusAgent(concurrency=True) reproduces zeus==0.16.0's
`Simulator.simulate_one_alibaba_group` (as the artifact's run_alibaba.py drives it: the BSO and the
simulator seeded with adler32 of the group id) run for run, bit for bit, on synthetic groups."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import warnings
from collections import Counter

import pytest

import zeus_gym
from zeus_gym.agents import ZeusAgent, ZeusOptimizerAgent
from zeus_gym.cluster import ClusterTraceEnv, GroupTable, play_group, synthesize_groups, validate_groups
from zeus_gym.cluster.synth import DATASETS

from reference import reference_frames, reference_job, zeus_simulate
from zeus._legacy.policy.optimizer import JITPowerLimitOptimizer, PruningGTSBatchSizeOptimizer  # noqa: E402

# Workloads whose targets are reached in an epoch or two: some runs cannot afford one epoch.
QUICK = {
    "cifar100": dataclasses.replace(zeus_gym.WORKLOADS["cifar100"], target_metric=0.05),
    "movielens-1m": dataclasses.replace(zeus_gym.WORKLOADS["movielens-1m"], target_metric=0.3),
}
MAX_REFERENCE_RUNS = 400  # the reference retries forever when a run can never start; give up there


class ReferenceGaveUp(Exception):
    """The reference made more than MAX_REFERENCE_RUNS runs on one group."""


@functools.lru_cache(maxsize=None)
def simulator(trace_dir, gpu: str):
    """One reference simulator per GPU (its joined table is built once); optimizers and seed are
    set per group, as run_alibaba.py builds a simulator per group with the same arguments."""
    sim = zeus_simulate.Simulator(*reference_frames(trace_dir, gpu), None, None, verbose=False)
    run_job = sim._run_job

    def counted(**kwargs):
        sim.runs += 1
        if sim.runs > MAX_REFERENCE_RUNS:
            raise ReferenceGaveUp
        return run_job(**kwargs)

    sim._run_job = counted
    return sim


def reference_history(trace_dir, gpu, table, group, job_info, eta, beta):
    """The reference's (bs, pl, energy, reached, time) history of a group; None if it raised or
    would not end."""
    sim = simulator(trace_dir, gpu)
    seed = job_info["group_seed"]
    sim.bso = PruningGTSBatchSizeOptimizer(seed=seed, concurrency=True, verbose=False)
    sim.plo = JITPowerLimitOptimizer(verbose=False)
    sim.seed, sim.runs = seed, 0
    job = reference_job(job_info["workload"], job_info["b0"])
    # The reference prints a line for every run that cannot start, even when not verbose.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # its 1 / variance of equal rewards
        try:
            history = sim.simulate_one_alibaba_group(job, table.rows(group), beta, eta)
        except (ReferenceGaveUp, ValueError):  # ValueError: its pruning left no batch size
            return None
    return [(h.bs, h.pl, h.energy, h.reached, h.time) for h in history]


def concurrency_counts(runs: list[dict]) -> Counter:
    """How much of the scenario a group exercised: runs started while others ran, runs that
    finished before a run started earlier, retries, retries started while others ran."""
    counts = Counter(runs=len(runs))
    for i, run in enumerate(runs):
        others = [r for j, r in enumerate(runs) if j != i]
        busy = any(r["start_time"] <= run["start_time"] < r["end_time"] for r in others)
        counts["started_in_flight"] += busy
        counts["retries"] += run["attempt"] > 1
        counts["retries_in_flight"] += busy and run["attempt"] > 1
        counts["overtaking"] += any(r["start_time"] < run["start_time"] for r in runs[i + 1:])
        counts["not_started"] += not run["ran"]
    return counts


@pytest.fixture(scope="module")
def table():
    """200 synthetic groups of 2-15 submissions over the six datasets."""
    return GroupTable(validate_groups(synthesize_groups(200, seed=11)), "synthetic groups")


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("gpu", ["v100", "a40"])
def test_zeus_agent_matches_reference_on_every_group(zeus_trace_dir, table, gpu):
    env = ClusterTraceEnv(table, gpu=gpu, eta_knob=0.5, beta_knob=2.0, reference_seeding=True, trace_dir=zeus_trace_dir)
    mismatched, counts, datasets = [], Counter(), set()
    for group in table.ids:
        episode = play_group(env, ZeusAgent(concurrency=True), group)
        expected = reference_history(zeus_trace_dir, gpu, table, group, episode.job_info, 0.5, 2.0)
        assert expected is not None, f"the reference failed on {group}"
        if episode.history() != expected:
            mismatched.append(group)
        counts += concurrency_counts(episode.runs)
        datasets.add(episode.job_info["dataset"])
    assert not mismatched, f"{len(mismatched)} of {len(table)} groups differ from the reference: {mismatched[:10]}"
    assert datasets == set(DATASETS)
    # The groups exercise what makes this scenario differ from one job after another.
    assert counts["started_in_flight"] > 0.25 * counts["runs"]
    assert counts["overtaking"] > 20 and counts["retries"] > 20 and counts["retries_in_flight"] > 5


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_zeus_own_optimizers_through_the_adapter_match_reference(zeus_trace_dir, table):
    """The group loop lives in the agent loop, not in our port of Zeus's optimizers: Zeus's own
    classes, driven through ZeusOptimizerAgent, give the reference's runs too."""
    env = ClusterTraceEnv(table, gpu="p100", eta_knob=0.0, beta_knob=1.5, reference_seeding=True, trace_dir=zeus_trace_dir)
    compared = 0
    for group in table.ids[:60]:
        seed = table.group(group).seed
        agent = ZeusOptimizerAgent(PruningGTSBatchSizeOptimizer(seed=seed, concurrency=True, verbose=False), JITPowerLimitOptimizer(verbose=False))
        episode = play_group(env, agent, group)
        expected = reference_history(zeus_trace_dir, "p100", table, group, episode.job_info, 0.0, 1.5)
        if expected is not None:
            assert episode.history() == expected, group
            compared += 1
    assert compared >= 55


@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("gpu, beta", [("a40", 1.5), ("rtx6000", 2.0)])
def test_runs_that_cannot_start_match_reference(zeus_trace_dir, gpu, beta):
    """Runs that cannot afford one epoch hold their slot, cost 0 to the optimizer and are retried."""
    frame = synthesize_groups(200, seed=12)
    table = GroupTable(validate_groups(frame[frame["dataset"].isin(list(QUICK))]), "quick groups")
    env = ClusterTraceEnv(table, gpu=gpu, beta_knob=beta, reference_seeding=True, workloads=QUICK,
                          max_retries=MAX_REFERENCE_RUNS, trace_dir=zeus_trace_dir)
    compared = not_started = 0
    for group in table.ids:
        episode = play_group(env, ZeusAgent(concurrency=True), group)
        expected = reference_history(zeus_trace_dir, gpu, table, group, episode.job_info, 0.5, beta)
        if expected is None:  # the reference raised or would retry forever
            continue
        assert episode.history() == expected, group
        compared += 1
        not_started += episode.summary.not_started
    assert compared >= 0.9 * len(table) and not_started > 10
