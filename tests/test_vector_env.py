"""The native vector env equals single envs under SyncVectorEnv, step for step, across autoresets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import zeus_gym  # noqa: F401
from zeus_gym.core.draws import BufferedDraw, GeneratorDraw
from zeus_gym.envs import RecurringJobVectorEnv

ENV_ID = "ZeusGym/RecurringJob-v2"
SHORT = dict(num_recurrences=3, max_retries=4)


def play(envs, actions: np.ndarray, seed) -> list:
    data = [envs.reset(seed=seed)]
    data += [envs.step(a) for a in actions]
    return data


def sampled_actions(envs, steps: int, seed: int) -> np.ndarray:
    envs.action_space.seed(seed)
    return np.array([envs.action_space.sample() for _ in range(steps)])


@pytest.mark.parametrize("num_envs", [1, 3, 16])
@pytest.mark.parametrize("workload, gpu", [("librispeech", "v100"), ("movielens-1m", "rtx6000")])
@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
@pytest.mark.parametrize("env_id", [ENV_ID, "ZeusGym/RecurringJob-v0"])
@pytest.mark.filterwarnings("ignore:.*is out of date:DeprecationWarning")
def test_vector_env_equals_sync_vector_env(zeus_trace_dir, num_envs, workload, gpu, mode, env_id):
    kwargs = dict(workload=workload, gpu=gpu, **SHORT)
    native = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    sync = SyncVectorEnv([lambda: gym.make(env_id, **kwargs) for _ in range(num_envs)], autoreset_mode=mode)
    assert isinstance(native, RecurringJobVectorEnv)
    assert native.single_observation_space == sync.single_observation_space
    assert native.single_action_space == sync.single_action_space
    actions = sampled_actions(native, 120, seed=num_envs)
    ours, theirs = play(native, actions, seed=7), play(sync, actions, seed=7)
    assert sum(step[2].sum() for step in ours[1:]) >= num_envs  # episodes ended and autoreset
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert data_equivalence(a, b, exact=True), f"step {i} differs"


def test_seed_lists_and_partial_resets(zeus_trace_dir):
    envs = RecurringJobVectorEnv(num_envs=3, autoreset_mode="disabled", **SHORT)
    single = gym.make(ENV_ID, **SHORT)
    obs, info = envs.reset(seed=[5, 6, 7])
    assert info["_b0"].all()
    single.reset(seed=6)
    ended = np.zeros(3, dtype=bool)
    for a in sampled_actions(envs, 40, seed=1):
        if ended.any():
            with pytest.raises(RuntimeError, match="reset them"):
                envs.step(a)
            obs, info = envs.reset(options={"reset_mask": ended})
            assert info["_b0"].tolist() == ended.tolist()
            if ended[1]:
                single.reset()
        _, rewards, ended, _, infos = envs.step(a)
        _, reward, terminated, _, info = single.step(a[1])
        assert (rewards[1], ended[1], infos["energy"][1]) == (reward, terminated, info["energy"])


def test_invalid_actions_name_the_sub_environment(zeus_trace_dir):
    envs = RecurringJobVectorEnv(num_envs=2, workload="movielens-1m", gpu="rtx6000")
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="sub-environment 1: .*no measurement of batch size 4"):
        envs.step(np.array([[1, 1], [0, 0]]))
    with pytest.raises(ValueError, match="shape \\(2, 2\\)"):
        envs.step(np.array([1, 1]))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.uint64])
@pytest.mark.parametrize("accelerator", ["numpy", "numba"])
def test_actions_of_any_integer_dtype_step_as_int64_ones(zeus_trace_dir, dtype, accelerator):
    """Across autoresets (whose sub-environments' actions are replaced), and with the same errors."""
    kwargs = dict(num_envs=3, vectorization_mode="vector_entry_point", workload="librispeech", gpu="v100", accelerator=accelerator, **SHORT)
    ours, int64 = gym.make_vec(ENV_ID, **kwargs), gym.make_vec(ENV_ID, **kwargs)
    actions = sampled_actions(ours, 60, seed=2)
    assert data_equivalence(play(ours, actions.astype(dtype), seed=4), play(int64, actions.astype(np.int64), seed=4), exact=True)
    with pytest.raises(ValueError, match="sub-environment 0: action \\[200, 1\\] is out of range"):
        ours.step(np.array([[200, 1], [0, 0], [0, 0]], dtype=dtype))
    if dtype == np.uint64:
        with pytest.raises(ValueError, match=f"sub-environment 2: action \\[0, {2**64 - 1}\\] is out of range \\(indices must be below 2\\*\\*63\\)"):
            ours.step(np.array([[0, 0], [0, 0], [0, 2**64 - 1]], dtype=dtype))


def test_same_seed_same_rollout(zeus_trace_dir):
    make = lambda: RecurringJobVectorEnv(num_envs=4, **SHORT)  # noqa: E731
    actions = sampled_actions(make(), 60, seed=0)
    assert data_equivalence(play(make(), actions, 3), play(make(), actions, 3), exact=True)
    assert not data_equivalence(play(make(), actions, 3), play(make(), actions, 4), exact=True)


@pytest.mark.parametrize("high", [12, 2**31 + 1, 2**32 - 5])
def test_buffered_draws_equal_generator_integers(high):
    """Also at huge bounds, where Lemire's rejection step is taken often."""
    rng = np.random.default_rng(high)
    ours = BufferedDraw([np.random.default_rng(s) for s in range(5)], block=7)
    reference = GeneratorDraw([np.random.default_rng(s) for s in range(5)])
    for _ in range(200):
        bounds = rng.integers(1, high, size=5)
        assert (ours(bounds) == reference(bounds)).all()


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_env_contract(zeus_trace_dir, mode):
    """Gymnasium has no vector-env checker; these are the single-env checker's rules, batched."""
    from gymnasium.utils.passive_env_checker import data_shares_objects

    envs = gym.make_vec(ENV_ID, num_envs=5, autoreset_mode=mode, **SHORT)
    assert envs.metadata["autoreset_mode"] == mode
    obs, info = envs.reset(seed=0)
    assert envs.observation_space.contains(obs)
    previous = (obs, info)
    for actions in sampled_actions(envs, 30, seed=0):
        assert envs.action_space.contains(actions)
        step = envs.step(actions)
        obs, rewards, terminations, truncations, infos = step
        assert envs.observation_space.contains(obs)
        assert rewards.dtype == np.float64 and terminations.dtype == truncations.dtype == np.bool_
        assert rewards.shape == terminations.shape == (5,)
        assert not data_shares_objects(previous, (obs, infos))
        previous = (obs, infos)
        if mode == AutoresetMode.DISABLED and terminations.any():
            envs.reset(options={"reset_mask": terminations})


def test_copy_false_reuses_buffers_with_equal_values(zeus_trace_dir):
    fresh, reused = RecurringJobVectorEnv(num_envs=4, **SHORT), RecurringJobVectorEnv(num_envs=4, copy=False, **SHORT)
    fresh.reset(seed=1)
    first, _ = reused.reset(seed=1)
    for actions in sampled_actions(fresh, 30, seed=2):
        a, b = fresh.step(actions), reused.step(actions)
        assert b[0] is first
        assert data_equivalence(a, b, exact=True)
