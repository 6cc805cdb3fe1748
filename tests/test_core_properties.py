"""Invariants of the simulation core, checked on random knobs, seeds and actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import zeus_gym

positive = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(positive, positive)
def test_numpy_floor_divide_is_python_floor_division(a, b):
    """The core uses np.floor_divide where the reference uses Python's float `//`."""
    assert np.floor_divide(a, b) == a // b


@settings(max_examples=25, deadline=None)
@given(
    workload=st.sampled_from(sorted(zeus_gym.WORKLOADS)),
    gpu=st.sampled_from(["a40", "p100", "rtx6000", "v100"]),
    eta=st.floats(0.0, 1.0),
    beta=st.one_of(st.floats(1.0, 5.0), st.just(float("inf"))),
    seed=st.integers(0, 2**32 - 1),
)
def test_step_invariants(zeus_trace_dir, workload, gpu, eta, beta, seed):
    env = gym.make("ZeusGym/RecurringJob-v0", workload=workload, gpu=gpu, eta_knob=eta, beta_knob=beta, num_recurrences=4, max_retries=3)
    job = env.unwrapped.params.jobs[0]
    obs, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    completed, terminated, steps = 0, False, 0
    while not terminated:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps += 1
        assert not truncated and env.observation_space.contains(obs)
        assert not info["reached"] or info["ran"]
        if not info["ran"]:
            assert (info["energy"], info["time"], info["cost"], info["epochs"]) == (0.0, 0.0, 0.0, 0)
        assert 0 <= info["epochs"] <= job.max_epochs
        assert info["cost"] == eta * info["energy"] + (1 - eta) * job.max_power * info["time"]
        assert reward == -info["step_cost"] / job.default_cost
        assert info["ran"] or info["threshold"] < np.inf
        assert info["attempt"] <= 3 and (info["fallback"] == (info["attempt"] == 3 and not info["reached"]))
        completed += info["recurrence_done"]
        assert obs["progress"][0] == np.float32(completed / 4)
    assert completed == 4 and steps <= 4 * 3


@settings(max_examples=200, deadline=None)
@given(data=st.data(), rows=st.integers(1, 6), cols=st.integers(1, 6))
def test_vectorized_kahan_means_equal_the_scalar_definition(data, rows, cols):
    from zeus_gym.core.job import _kahan_mean_of_copies, _kahan_means_of_copies

    values = np.array(data.draw(st.lists(st.floats(0.0, 1e6, allow_subnormal=False), min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    counts = np.array(data.draw(st.lists(st.integers(1, 40), min_size=rows, max_size=rows)), dtype=np.int64)
    expected = [[_kahan_mean_of_copies(float(values[i, j]), int(counts[i])) for j in range(cols)] for i in range(rows)]
    assert _kahan_means_of_copies(values, counts).tolist() == expected
