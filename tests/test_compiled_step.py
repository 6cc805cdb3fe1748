"""The numba-compiled step equals the numpy step: state, outcome (values and dtypes), draws and
observation, step for step; and the vector env gives the same data with either accelerator."""

from __future__ import annotations

from dataclasses import fields

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode
from hypothesis import given, settings
from hypothesis import strategies as st

import zeus_gym
from zeus_gym.core import compiled
from zeus_gym.core.compiled import step_compiled
from zeus_gym.core.draws import BufferedDraw
from zeus_gym.core.features import observation_buffer, observation_views, observe_configs
from zeus_gym.core.sim import step

ENV_ID = "ZeusGym/RecurringJob-v2"
GPUS = ["a40", "p100", "rtx6000", "v100"]


def assert_same(numpy_side, compiled_side, what: str) -> None:
    for f in fields(numpy_side):
        ours, theirs = np.asarray(getattr(compiled_side, f.name)), np.asarray(getattr(numpy_side, f.name))
        assert ours.dtype == theirs.dtype, f"{what}: {f.name} is {ours.dtype}, numpy gives {theirs.dtype}"
        assert np.array_equal(ours, theirs, equal_nan=True), f"{what}: {f.name} differs"


def play_both(params, state, actions, idles, block: int, reserve: int = 4):
    """Step a copy of `state` with each path; assert them equal after every step."""
    numpy_state, compiled_state = state.copy(), state.copy()
    n = len(state.job)
    numpy_draw = BufferedDraw([np.random.default_rng(i) for i in range(n)], block=block)
    compiled_draw = BufferedDraw([np.random.default_rng(i) for i in range(n)], block=block)
    for t, (action, idle) in enumerate(zip(actions, idles)):
        draw = lambda bounds, idle=idle: numpy_draw(np.where(idle, 1, bounds))  # noqa: E731
        numpy_state, numpy_out = step(params, numpy_state, action[:, 0], action[:, 1], draw, inplace=True)
        buffer = observation_buffer(params, n, np.empty)
        compiled_out = step_compiled(params, compiled_state, action[:, 0], action[:, 1], compiled_draw, idle, buffer, reserve=reserve)
        assert_same(numpy_state, compiled_state, f"state after step {t}")
        assert_same(numpy_out, compiled_out, f"outcome of step {t}")
        expected = observe_configs(params, numpy_state)
        for key, value in observation_views(params, buffer).items():
            assert np.array_equal(value, expected[key]), f"observation {key} after step {t}"
        if numpy_out.terminated.any():
            break
    # The same words were consumed: the next draws of every job agree.
    bounds = np.full(n, 1000)
    assert np.array_equal(numpy_draw(bounds), compiled_draw(bounds))
    return t + 1


@settings(max_examples=25, deadline=None)
@given(
    workload=st.sampled_from(sorted(zeus_gym.WORKLOADS)),
    gpu=st.sampled_from(GPUS),
    eta=st.floats(0.0, 1.0),
    beta=st.one_of(st.floats(1.0, 5.0), st.just(float("inf"))),
    max_retries=st.integers(1, 6),
    num_envs=st.integers(1, 24),
    seed=st.integers(0, 2**16),
    idle_rate=st.sampled_from([0.0, 0.2]),
)
def test_compiled_step_equals_the_numpy_step(zeus_trace_dir, workload, gpu, eta, beta, max_retries, num_envs, seed, idle_rate):
    envs = gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point", workload=workload, gpu=gpu,
                        eta_knob=eta, beta_knob=beta, num_recurrences=3, max_retries=max_retries).unwrapped
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    actions = [envs.action_space.sample().astype(np.int64) for _ in range(40)]
    idles = [rng.random(num_envs) < idle_rate for _ in range(40)]
    assert play_both(envs.params, envs._state, actions, idles, block=7) >= 3


@pytest.mark.parametrize("workload, gpu", [("librispeech", "v100"), ("imagenet", "a40"), ("procedural", "v100")])
def test_jobs_whose_words_run_out_are_resumed_exactly(zeus_trace_dir, workload, gpu):
    """Without a reserve, buffers of 3 words run out inside steps: those jobs stop before they
    change, are refilled with the words they had not used kept, and step again."""
    envs = gym.make_vec(ENV_ID, num_envs=16, vectorization_mode="vector_entry_point", workload=workload, gpu=gpu, num_recurrences=4, max_retries=2).unwrapped
    envs.reset(seed=5)
    envs.action_space.seed(5)
    actions = [envs.action_space.sample().astype(np.int64) for _ in range(60)]
    stalls = []
    refill = BufferedDraw.refill_keeping

    def counting(self, index):
        stalls.append(self.position[index])
        refill(self, index)

    BufferedDraw.refill_keeping = counting
    try:
        play_both(envs.params, envs._state, actions, [np.zeros(16, dtype=bool)] * 60, block=3, reserve=0)
    finally:
        BufferedDraw.refill_keeping = refill
    assert any(0 < position < 3 for position in stalls), "no job ran out of words in the middle of a step"


def test_with_threads_jobs_whose_words_run_out_are_resumed_exactly(zeus_trace_dir, monkeypatch):
    """Split over threads, each part's observation rows are copied before (helpers) or after
    (this thread) its steps: jobs of either part that stall and step again write their rows."""
    monkeypatch.setattr(compiled, "_threads", lambda: 2)
    n = 2 * compiled._JOBS_PER_THREAD
    envs = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", workload="imagenet", gpu="a40", num_recurrences=3, max_retries=2).unwrapped
    envs.reset(seed=8)
    envs.action_space.seed(8)
    actions = [envs.action_space.sample().astype(np.int64) for _ in range(12)]
    stalled = set()
    refill = BufferedDraw.refill_keeping

    def counting(self, index):
        if 0 < self.position[index] < 3:
            stalled.add(index)
        refill(self, index)

    monkeypatch.setattr(BufferedDraw, "refill_keeping", counting)
    play_both(envs.params, envs._state, actions, [np.zeros(n, dtype=bool)] * 12, block=3, reserve=0)
    assert min(stalled) < n // 2 <= max(stalled), "no job of each thread's part ran out of words in a step"


@pytest.mark.parametrize("bound", [3, 2**31 + 1, 2**32 - 5])
def test_the_kernels_lemire_draws_equal_generator_integers(bound):
    """Also at huge bounds, where Lemire's rejection step is taken often."""
    from zeus_gym.core.compiled_kernel import lemire

    words = np.random.default_rng(bound).integers(0, 2**32, size=(1, 4000), dtype=np.uint32)
    reference = np.random.default_rng(bound)
    cursor, draws = 0, []
    while True:
        value, cursor = lemire(words, np.zeros(1, dtype=np.int64), 0, cursor, bound)
        if value < 0:
            break
        draws.append(value)
    assert len(draws) > 1000
    assert draws == [int(reference.integers(0, bound)) for _ in draws]


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("observation", ["configs", "slots"])
def test_vector_env_with_numba_equals_numpy(zeus_trace_dir, mode, copy, observation):
    kwargs = dict(num_envs=12, vectorization_mode="vector_entry_point", workload=["librispeech", "squad"], gpu="rtx6000",
                  num_recurrences=3, max_retries=3, autoreset_mode=mode, copy=copy, observation=observation)
    numpy_envs, numba_envs = gym.make_vec(ENV_ID, **kwargs), gym.make_vec(ENV_ID, accelerator="numba", **kwargs)
    numpy_envs.action_space.seed(3)
    assert data_equivalence(numba_envs.reset(seed=11), numpy_envs.reset(seed=11), exact=True)
    ended = 0
    for _ in range(150):
        action = numpy_envs.action_space.sample()  # playable in each sub-environment's current job
        # copy=False reuses the buffers: compare each step before the next overwrites it.
        ours, theirs = numba_envs.step(action), numpy_envs.step(action)
        assert data_equivalence(ours, theirs, exact=True)
        ended += ours[2].sum()
    assert ended >= 12  # episodes ended and autoreset
    if not copy:
        first = numba_envs.step(numba_envs.action_space.sample())[0]
        second = numba_envs.step(numba_envs.action_space.sample())[0]
        assert all(first[key] is second[key] for key in first)


def test_large_batches_split_over_threads_give_the_same_steps(zeus_trace_dir, monkeypatch):
    monkeypatch.setattr(compiled, "_threads", lambda: 3)
    kwargs = dict(num_envs=800, vectorization_mode="vector_entry_point", workload="movielens-1m", gpu="p100", num_recurrences=2, max_retries=3)
    numpy_envs, numba_envs = gym.make_vec(ENV_ID, **kwargs), gym.make_vec(ENV_ID, accelerator="numba", **kwargs)
    numpy_envs.action_space.seed(0)
    assert data_equivalence(numba_envs.reset(seed=1), numpy_envs.reset(seed=1), exact=True)
    for _ in range(30):
        action = numpy_envs.action_space.sample()
        assert data_equivalence(numba_envs.step(action), numpy_envs.step(action), exact=True)


def test_accelerator_errors_name_the_choices(zeus_trace_dir, monkeypatch):
    with pytest.raises(ValueError, match=r"accelerator must be one of 'numpy', 'numba', got 'cuda'"):
        gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", accelerator="cuda")
    monkeypatch.setattr(compiled, "available", lambda: False)
    with pytest.raises(ValueError, match=r'needs numba, which is not installed: pip install "zeus-gym\[fast\]"'):
        gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="vector_entry_point", accelerator="numba")


@pytest.mark.parametrize("copy", [True, False])
def test_a_deep_copy_of_a_numba_vector_env_continues_as_the_original(zeus_trace_dir, copy):
    import copy as copying
    import pickle

    envs = gym.make_vec(ENV_ID, num_envs=6, vectorization_mode="vector_entry_point", accelerator="numba", copy=copy, num_recurrences=3, max_retries=3)
    envs.reset(seed=2)
    envs.action_space.seed(2)
    for _ in range(10):
        envs.step(envs.action_space.sample())
    twins = [copying.deepcopy(envs), pickle.loads(pickle.dumps(envs))]
    for _ in range(40):
        action = envs.action_space.sample()
        expected = copying.deepcopy(envs.step(action))  # copy=False: the next step overwrites it
        for twin in twins:
            assert data_equivalence(twin.step(action), expected, exact=True)
