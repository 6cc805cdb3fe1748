"""The single env's fast path (`zeus_gym.core.scalar`) equals the core's `step` on scalars: the
same state arrays, the same info values and types, the same observation, the same random draws."""

from __future__ import annotations

import copy
import functools
import math

import gymnasium as gym
import numpy as np
import pytest
from dataclasses import fields
from gymnasium.utils.env_checker import data_equivalence
from hypothesis import given, settings
from hypothesis import strategies as st

import zeus_gym  # noqa: F401
from zeus_gym.core import step
from zeus_gym.core.draws import ScalarDraw
from zeus_gym.core.sums import pairwise_sum
from zeus_gym.core.features import observe_configs
from zeus_gym.core.scalar import Rows
from zeus_gym.core.sim import SCALARS
from zeus_gym.envs.recurring_job import INFO_FIELDS, outcome_info
from tests.test_observation import configs_from_scratch

CASES = [
    dict(workload="librispeech", gpu="v100"),
    dict(workload="movielens-1m", gpu="p100"),
    dict(workload="movielens-1m", gpu="rtx6000", slots=(15, 9)),  # 9 limits: numpy's pairwise batch totals
    dict(workload="all", gpu="all", num_recurrences=6, max_retries=3),
    dict(workload="imagenet", gpu="a40", beta_knob=1.2, max_retries=2),
    dict(workload="squad", gpu="v100", beta_knob=float("inf")),
    dict(workload="procedural", gpu="all", num_recurrences=5),
]


def _assert_same_state(a, b):
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True), f.name


@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: "-".join(map(str, k.values())))
def test_fast_path_equals_the_core_step(zeus_trace_dir, kwargs):
    env = gym.make("ZeusGym/RecurringJob-v2", **kwargs).unwrapped
    env.action_space.seed(7)
    for episode in range(3):
        env.reset(seed=episode)
        terminated, steps = False, 0
        while not terminated and steps < 400:
            action = env.action_space.sample()
            expected_state, generator = env._state.copy(), copy.deepcopy(env.np_random)
            expected_state, out = step(env.params, expected_state, int(action[0]), int(action[1]), ScalarDraw(generator),
                                       backend=SCALARS, inplace=True)
            expected_info = outcome_info(env.params, out, int(env._state.job[0]))
            obs, reward, terminated, _, info = env.step(action)
            _assert_same_state(env._state, expected_state)
            assert env.np_random.bit_generator.state == generator.bit_generator.state
            assert list(info) == list(expected_info) and list(info)[: len(INFO_FIELDS)] == list(INFO_FIELDS)
            for key, value in expected_info.items():
                if isinstance(value, np.ndarray):
                    assert np.array_equal(info[key], value), key
                else:
                    assert type(info[key]) is type(value) and info[key] == value, key
            assert type(reward) is float and reward == float(out.reward) and terminated == bool(out.terminated)
            definition = observe_configs(env.params, env._state, rows=0)
            assert obs.keys() == definition.keys()
            for key in obs:
                assert obs[key].dtype == np.float32 and np.array_equal(obs[key], definition[key]), key
            assert np.array_equal(obs["configs"], configs_from_scratch(env.params, env._state)[0])
            steps += 1


def test_observation_is_one_fresh_buffer(zeus_trace_dir):
    env = gym.make("ZeusGym/RecurringJob-v2")
    first, _ = env.reset(seed=0)
    second, *_ = env.step(env.action_space.sample())
    base = second["configs"].base
    assert base is not None and all(value.base is base for value in second.values())
    assert first["configs"].base is not base  # the previous observation is not overwritten
    info = env.step(env.action_space.sample())[-1]
    info["profile_epoch_cost"][:] = 0  # a user's info is the user's own
    assert not (env.unwrapped._tables.unprofiled == 0).any()


FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.floats(min_value=0.0, max_value=1e6),  # costs and epochs: non-negative, similar magnitudes
    st.sampled_from([0.0, -0.0, 1.0, 1e-300, 1e300, np.inf, -np.inf]),
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(FLOATS, max_size=300))
def test_pairwise_sum_equals_numpy(values):
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, overflow: numpy's result stands
        expected = np.add.reduce(np.array(values, dtype=np.float64)).item()
    got = pairwise_sum(values)
    assert type(got) is float
    assert got == expected or (got != got and expected != expected)
    assert math.copysign(1.0, got) == math.copysign(1.0, expected) or got != got


def test_pairwise_sum_data_tells_summation_orders_apart():
    """On such data an in-order sum differs from numpy's, so the test above checks the order."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8, n) for n in range(8, 300)]
    assert sum(sum(a.tolist()) != np.add.reduce(a) for a in arrays) > 100
    assert all(pairwise_sum(a.tolist()) == np.add.reduce(a) for a in arrays)


@functools.lru_cache(maxsize=1)
def _procedural_env():  # built once: a reset gives a fresh state
    return gym.make("ZeusGym/RecurringJob-v2", workload="procedural", gpu="all", num_recurrences=3).unwrapped


@settings(max_examples=500, deadline=None)
@given(st.one_of(FLOATS, st.just(np.nan), st.floats(3e38, 4e38)), st.sampled_from([True, False, 0, 7]))
def test_rows_write_what_numpy_writes(value, flag):
    """`Rows` writes elements through memoryviews: the float32, float64 and bool arrays get the
    bits numpy's assignment gives them (overflow to inf and NaN included), and ints stay ints."""
    env = _procedural_env()
    env.reset(seed=0)
    rows, expected = env._rows, env._state.copy()
    rows.config_features[5] = value
    rows.tries[2] = value
    rows.last_run[1] = flag
    rows.profiled[0] = flag
    rows.recurrence[0] = 3 + flag
    with np.errstate(over="ignore"):
        expected.config_features[0, 5] = value
    expected.tries[0, 2] = value
    expected.last_run[0, 1] = flag
    expected.profiled[0, 0] = flag
    expected.recurrence[0] = 3 + flag
    for f in fields(expected):
        assert getattr(env._state, f.name).tobytes() == getattr(expected, f.name).tobytes(), f.name
    assert type(rows.recurrence[0]) is int and type(rows.profiled[0]) is bool


def test_rows_take_the_state_of_one_job(zeus_trace_dir):
    envs = gym.make_vec("ZeusGym/RecurringJob-v2", num_envs=2, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="single job, got 2 jobs"):
        Rows(envs.unwrapped._state)


@pytest.mark.parametrize("kwargs", CASES[:3] + CASES[-1:], ids=lambda k: "-".join(map(str, k.values())))
def test_step_into_writes_the_observation_step_returns(zeus_trace_dir, kwargs):
    env = gym.make("ZeusGym/RecurringJob-v2", **kwargs).unwrapped
    twin = copy.deepcopy(env)
    env.action_space.seed(3)
    obs, info = env.reset(seed=4)
    twin.reset(seed=4)
    row = np.full(sum(value.size for value in obs.values()), np.nan, dtype=np.float32)
    twin.observe_into(row)
    assert np.array_equal(row, np.concatenate(list(obs.values())))
    for _ in range(60):
        action = env.action_space.sample()
        obs, reward, terminated, _, info = env.step(action)
        got = twin.step_into(int(action[0]), int(action[1]), row)
        assert np.array_equal(row, np.concatenate(list(obs.values())))
        assert got[:2] == (reward, terminated) and data_equivalence(got[2], info, exact=True)
        if terminated:
            break
