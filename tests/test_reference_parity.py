"""The core reproduces the reference simulator (zeus==0.16.0) run for run, bit for bit."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

import zeus_gym
from zeus_gym.core import build_job
from zeus_gym.traces import load_trace_set

from reference import random_choices, reference_frames, reference_job, run_scripted, zeus_simulate

GPUS = ("a40", "p100", "rtx6000", "v100")


@pytest.mark.parametrize("gpu", GPUS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_profiles_match_reference(zeus_trace_dir, gpu, eta):
    """Per-limit epoch costs of a just-in-time profile equal `Simulator._profile_power_limit`."""
    traces = load_trace_set(zeus_trace_dir)
    train, power = reference_frames(zeus_trace_dir, gpu)
    simulator = zeus_simulate.Simulator(train, power, None, None, verbose=False)
    for spec in zeus_gym.WORKLOADS.values():
        job = build_job(traces.train, traces.power[gpu], spec, gpu, eta)
        for i, b in enumerate(job.batch_sizes):
            expected = simulator._profile_power_limit(reference_job(spec, job.b0), int(b), eta)
            got = {int(pl): cost for pl, cost in zip(job.power_limits, job.profile_epoch_cost[i]) if np.isfinite(cost)}
            assert got == {int(pl): cost for pl, cost in expected.items()}
            best = min(expected, key=expected.get)  # first minimum in high-to-low order
            assert job.power_limits[job.best_limit[i]] == best


CASES = [
    (w, g, 0.5, 2.0) for w, g in itertools.product(zeus_gym.WORKLOADS, GPUS)
] + [
    ("librispeech", "v100", 0.0, 1.5),
    ("cifar100", "a40", 1.0, float("inf")),
    ("imagenet", "p100", 0.5, 1.2),
    ("movielens-1m", "rtx6000", 0.3, 1.05),
]


@pytest.mark.parametrize("workload, gpu, eta, beta", CASES)
def test_episode_matches_reference(zeus_trace_dir, workload, gpu, eta, beta):
    """Scripted random choices give the same run-by-run energy, time, limit and outcome as the
    reference, across retries, early stops, runs that cannot start and profiles."""
    recurrences = 6
    env = gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu, eta_knob=eta, beta_knob=beta, num_recurrences=recurrences).unwrapped
    job = env.params.jobs[0]
    for seed in (1, 2):
        choices = random_choices(job, np.random.default_rng(seed + 100), 200)
        runs, gave_up = run_scripted(zeus_trace_dir, gpu, job.spec, job.b0, choices, recurrences=recurrences, eta=eta, beta=beta, seed=seed)
        env.reset(seed=seed)
        terminated = False
        for (bs, pl, energy, time, reached), (choice_bs, choice_pl) in zip(runs, choices):
            b = int(np.searchsorted(job.batch_sizes, choice_bs))
            p = len(job.power_limits) if choice_pl is None else int(np.searchsorted(job.power_limits, choice_pl))
            _, _, terminated, _, info = env.step([b, p])
            assert (info["batch_size"], info["power_limit"]) == (bs, pl)
            assert (info["energy"], info["time"], info["reached"]) == (energy, time, reached)
            assert info["ran"] == (energy != 0 or time != 0 or reached)
        assert terminated == (not gave_up)
