"""Multi-workload mode: one (workload, GPU) pair drawn per episode, padded spaces, per-job masks."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import SyncVectorEnv
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zeus_gym  # noqa: F401  (registers the environments)

ENV_ID = "ZeusGym/RecurringJob-v0"
MULTI = dict(workload="all", gpu="all", num_recurrences=3, max_retries=4)


def test_all_pairs_are_jobs_and_spaces_are_padded(zeus_trace_dir):
    env = gym.make(ENV_ID, **MULTI).unwrapped
    assert len(env.params.jobs) == 6 * 4
    assert env.action_space.nvec.tolist() == [15, 10]  # 15 batch sizes (librispeech, V100), 9 limits + profile (A40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
        sb3_check_env(env)


def test_seeded_draws_are_reproducible_and_cover_the_jobs(zeus_trace_dir):
    env = gym.make(ENV_ID, **MULTI)
    drawn = [(info["workload"].dataset, info["gpu"]) for info in (env.reset(seed=s)[1] for s in range(200))]
    again = [(info["workload"].dataset, info["gpu"]) for info in (env.reset(seed=s)[1] for s in range(200))]
    assert drawn == again
    assert len(set(drawn)) == 24


def test_masks_match_the_drawn_job(zeus_trace_dir):
    env = gym.make(ENV_ID, workload=["movielens-1m", "squad"], gpu=["rtx6000", "p100"], num_recurrences=2)
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        job = env.unwrapped.params.jobs[env.unwrapped._state.job[0]]
        num_b, num_p = len(job.batch_sizes), len(job.power_limits)
        expected = np.zeros(tuple(env.action_space.nvec), dtype=bool)
        expected[:num_b, :num_p] = job.feasible
        expected[:num_b, -1] = True
        assert np.array_equal(info["playable"], expected)
        assert (obs["batch_sizes"][:num_b] > 0).all() and (obs["batch_sizes"][num_b:] == 0).all()
        assert (obs["power_limits"][:num_p] > 0).all() and (obs["power_limits"][num_p:] == 0).all()
        samples = np.array([env.action_space.sample() for _ in range(200)])
        assert expected[samples[:, 0], samples[:, 1]].all()


def test_infeasible_action_is_an_error(zeus_trace_dir):
    env = gym.make(ENV_ID, workload=["imagenet", "librispeech"], gpu="p100")
    env.reset(options={"job": ("imagenet", "p100")})  # 2 batch sizes, padded to 9
    with pytest.raises(ValueError, match="out of range.*batch size index must be in \\[0, 1\\]"):
        env.step([5, 0])
    with pytest.raises(ValueError, match="options\\['job'\\]"):
        env.reset(options={"job": ("imagenet", "v100")})


def test_vector_env_equals_sync_vector_env_across_jobs(zeus_trace_dir):
    native = gym.make_vec(ENV_ID, num_envs=6, vectorization_mode="vector_entry_point", **MULTI)
    sync = SyncVectorEnv([lambda: gym.make(ENV_ID, **MULTI) for _ in range(6)])
    native.action_space.seed(0)
    ours, theirs = [native.reset(seed=3)], [sync.reset(seed=3)]
    for _ in range(80):
        actions = native.action_space.sample()  # per-env masks: playable for each env's job
        ours.append(native.step(actions))
        theirs.append(sync.step(actions))
    assert sum(step[2].sum() for step in ours[1:]) >= 6
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert data_equivalence(a, b, exact=True), f"step {i} differs"
