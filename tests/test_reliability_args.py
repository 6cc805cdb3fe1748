"""Arguments (issue 12, part 3): numpy scalars are numbers, slots name themselves, unknown reset
options are refused listing the known ones."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from zeus_gym.cluster import ClusterTraceEnv
from zeus_gym.cluster.synth import synthesize_groups
from zeus_gym.cluster.groups import GroupTable


def _make(**kwargs):
    return gym.make("ZeusGym/RecurringJob-v2", workload="squad", gpu="a40", **kwargs).unwrapped


def _trajectory(env, steps: int = 30) -> list[tuple]:
    obs, _ = env.reset(seed=7)
    out = []
    for _ in range(steps):
        obs, reward, terminated, _, info = env.step(env.action_space.sample())
        out.append((reward, info["energy"], info["time"], info["cost"], tuple(np.concatenate([v.ravel() for v in obs.values()]))))
        if terminated:
            break
    return out


@pytest.mark.parametrize(
    "numpy_kwargs, python_kwargs",
    [
        (dict(max_retries=np.int64(3)), dict(max_retries=3)),
        (dict(max_retries=np.int32(3)), dict(max_retries=3)),
        (dict(eta_knob=np.float32(0.5)), dict(eta_knob=0.5)),
        (dict(eta_knob=np.float64(0.25), beta_knob=np.float32(1.5)), dict(eta_knob=0.25, beta_knob=1.5)),
        (dict(num_recurrences=np.int64(6)), dict(num_recurrences=6)),
        (dict(slots=(np.int64(15), np.int32(9))), dict(slots=(15, 9))),
        (dict(slots=np.array([15, 9])), dict(slots=(15, 9))),
    ],
)
def test_numpy_scalars_are_numbers_and_give_the_same_env(zeus_trace_dir: Path, numpy_kwargs: dict, python_kwargs: dict) -> None:
    ours, theirs = _make(trace_dir=zeus_trace_dir, **numpy_kwargs), _make(trace_dir=zeus_trace_dir, **python_kwargs)
    # Stored as Python numbers: a float32 eta must not turn the cost arithmetic into float32.
    assert type(ours.params.eta) is float and type(ours.params.max_retries) is int
    assert (ours.params.eta, ours.params.beta, ours.params.max_retries) == (theirs.params.eta, theirs.params.beta, theirs.params.max_retries)
    theirs.action_space.seed(1), ours.action_space.seed(1)
    assert _trajectory(ours) == _trajectory(theirs)


@pytest.mark.parametrize("value", [np.bool_(True), True, np.float64(2.0), "3", 0, np.int64(0)])
def test_what_is_not_a_positive_integer_still_is_refused(zeus_trace_dir: Path, value) -> None:
    with pytest.raises(ValueError, match=re.escape(f"max_retries must be a positive integer, got {value!r}")):
        _make(trace_dir=zeus_trace_dir, max_retries=value)


@pytest.mark.parametrize("slots", [(7.5, 9), (7,), (7, 9, 3), "79", 7, (0, 9), (True, 9), (np.float64(15), 9)])
def test_bad_slots_name_the_argument(zeus_trace_dir: Path, slots) -> None:
    with pytest.raises(ValueError, match=r"slots must be two positive integers \(batch sizes, power limits\), e\.g\. \(15, 9\), got") as info:
        _make(trace_dir=zeus_trace_dir, slots=slots)
    assert repr(slots) in str(info.value)


def test_an_unknown_reset_option_is_refused_listing_the_known_ones(zeus_trace_dir: Path) -> None:
    env = gym.make("ZeusGym/RecurringJob-v2", workload=["squad", "imagenet"], gpu="a40", trace_dir=zeus_trace_dir)
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) 'jobs': the known options are 'job'$"):
        env.reset(seed=0, options={"jobs": 1})
    env.reset(seed=0, options={"job": 1})  # the known one works
    env.reset(seed=0, options={})


def test_the_vector_env_refuses_unknown_reset_options(zeus_trace_dir: Path) -> None:
    envs = gym.make_vec("ZeusGym/RecurringJob-v2", num_envs=3, workload="squad", gpu="a40", trace_dir=zeus_trace_dir)
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) 'mask', 'seed': the known options are 'job', 'reset_mask'"):
        envs.reset(seed=0, options={"mask": [True, False, True], "seed": 1})
    envs.reset(seed=0, options={"reset_mask": np.array([True, True, True])})


def test_the_cluster_env_refuses_unknown_reset_options_and_takes_numpy_retries(zeus_trace_dir: Path) -> None:
    table = GroupTable(synthesize_groups(5, seed=1), "synthetic")
    env = ClusterTraceEnv(table, gpu="v100", trace_dir=zeus_trace_dir, max_retries=np.int64(2))
    assert env.max_retries == 2 and type(env.max_retries) is int
    with pytest.raises(ValueError, match=r"unknown reset option\(s\) 'groups': the known options are 'group'"):
        env.reset(seed=0, options={"groups": 1})
    env.reset(seed=0, options={"group": 1})


def test_options_must_be_a_dict(zeus_trace_dir: Path) -> None:
    with pytest.raises(ValueError, match="options must be a dict or None"):
        _make(trace_dir=zeus_trace_dir).reset(seed=0, options=[("job", 0)])
