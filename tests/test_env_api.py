"""Gymnasium and SB3 conformance of RecurringJob-v2 on every workload and GPU, determinism, errors."""

from __future__ import annotations

import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zeus_gym

ENV_ID = "ZeusGym/RecurringJob-v2"
PAIRS = list(itertools.product(zeus_gym.WORKLOADS, ("a40", "p100", "rtx6000", "v100")))


@pytest.mark.parametrize("workload, gpu", PAIRS)
def test_checkers_pass_without_warnings(zeus_trace_dir, workload, gpu):
    env = gym.make(ENV_ID, workload=workload, gpu=gpu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)


def rollout(env: gym.Env, seed: int, steps: int) -> list:
    env.action_space.seed(seed)
    data = [env.reset(seed=seed)]
    for _ in range(steps):
        data.append(env.step(env.action_space.sample()))
        if data[-1][2]:
            data.append(env.reset())
    return data


@pytest.mark.parametrize("workload, gpu", [("librispeech", "v100"), ("movielens-1m", "rtx6000")])
def test_same_seed_and_actions_give_identical_rollouts(zeus_trace_dir, workload, gpu):
    make = lambda: gym.make(ENV_ID, workload=workload, gpu=gpu, num_recurrences=5)  # noqa: E731
    first, second = rollout(make(), 3, 300), rollout(make(), 3, 300)
    assert data_equivalence(first, second, exact=True)
    assert not data_equivalence(first, rollout(make(), 4, 300), exact=True)


def test_action_space_samples_only_playable_actions(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="movielens-1m", gpu="rtx6000")
    playable = env.unwrapped.job_info["playable"]
    assert not playable.all()
    env.action_space.seed(0)
    samples = np.array([env.action_space.sample() for _ in range(3000)])
    assert playable[samples[:, 0], samples[:, 1]].all()
    assert len({tuple(a) for a in samples}) == playable.sum()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(workload="mnist"), "unknown workload 'mnist'.*cifar100"),
        (dict(gpu="h100"), "unknown gpu 'h100'.*a40, p100, rtx6000, v100"),
        (dict(eta_knob=1.5), "eta_knob must be a number in \\[0, 1\\]"),
        (dict(beta_knob=0), "beta_knob must be a positive number or inf"),
        (dict(beta_knob=float("nan")), "beta_knob"),
        (dict(max_retries=0), "max_retries must be a positive integer"),
        (dict(num_recurrences=0), "num_recurrences must be a positive integer"),
        (dict(workload=zeus_gym.JobSpec("cifar100", "shufflenetv2", "adadelta", 0.61, 100, 1024)), "target_metric=0.61.*known"),
        (dict(workload=zeus_gym.JobSpec("cifar100", "shufflenetv2", "adam", 0.6, 100, 1024)), "no rows of summary_train.csv match"),
        (dict(workload=zeus_gym.JobSpec("cifar100", "shufflenetv2", "adadelta", 0.6, 100, 1000)), "b0=1000 is not feasible.*feasible: \\[8"),
        (dict(workload=zeus_gym.JobSpec("cifar100", "shufflenetv2", "adadelta", 0.6, 1, 1024)), "none of its 10 training runs reaches"),
    ],
)
def test_invalid_arguments_name_the_culprit(zeus_trace_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, **{"workload": "cifar100", "gpu": "v100", **kwargs})


def test_invalid_actions_name_the_culprit(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="movielens-1m", gpu="rtx6000")
    with pytest.raises(gym.error.ResetNeeded):
        env.step([0, 0])
    env.reset(seed=0)
    with pytest.raises(ValueError, match="no measurement of batch size 4 at 100 W.*\\[250, 260\\]"):
        env.step([0, 0])
    with pytest.raises(ValueError, match="out of range.*batch size index must be in \\[0, 12\\]"):
        env.step([13, 0])
    with pytest.raises(ValueError, match="2 integers"):
        env.step([1, 2, 3])


def test_default_recurrences_follow_the_paper(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="librispeech", gpu="v100")
    info = env.unwrapped.job_info
    assert info["num_recurrences"] == 2 * 15 * 7
    assert info["b0"] == 192  # 256 capped at the largest librispeech batch size on the V100


def test_reset_info_is_the_callers_own_copy(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="all", gpu="all", trace_dir=zeus_trace_dir).unwrapped
    _, info = env.reset(seed=3)
    assert data_equivalence(info, env.job_info)
    info["playable"][:] = False
    info["batch_sizes"].append(-1)
    assert env.job_info["playable"].any() and -1 not in env.job_info["batch_sizes"]
    env.step(env.action_space.sample())  # the env plays on its own job_info
