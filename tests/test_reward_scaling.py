"""ScaledRewards (zeus_gym.reward_scaling) is SB3's VecNormalize(norm_obs=False) bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.vec_env import VecNormalize

from zeus_gym.reward_scaling import ScaledRewards
from zeus_gym.training import TrainConfig, make_training_env


@pytest.mark.parametrize("algo", ["maskable-ppo", "ppo"])
def test_reward_scaling_passes_observations_as_plain_vec_normalize_does(zeus_trace_dir, algo):
    """ScaledRewards skips VecNormalize's observation copy: the same observations, rewards, dones
    and terminal observations over episodes and autoresets, and still new arrays every step."""
    config = TrainConfig(algo=algo, timesteps=1, workloads=["all", "procedural"], gpus=["all"], n_envs=3, seed=4,
                         trace_dir=str(zeus_trace_dir), num_recurrences=5, max_retries=3)
    fast = make_training_env(config).venv
    plain = VecNormalize(make_training_env(config).venv.venv, norm_obs=False, norm_reward=True,
                         gamma=config.hyperparameters.get("gamma", 0.99))
    rng = np.random.default_rng(0)
    fast.action_space.seed(0)  # ppo: any action (InvalidActionPenalty), flat or per dimension
    previous, obs_plain = fast.reset(), plain.reset()
    dones_seen = 0
    for _ in range(40):
        if algo == "maskable-ppo":
            actions = np.array([rng.choice(np.flatnonzero(mask)) for mask in obs_plain["action_mask"]])
        else:
            actions = np.array([fast.action_space.sample() for _ in range(fast.num_envs)])
        obs_fast, rewards_fast, dones_fast, infos_fast = fast.step(actions)
        obs_plain, rewards_plain, dones_plain, infos_plain = plain.step(actions)
        for key in obs_plain:
            np.testing.assert_array_equal(obs_fast[key], obs_plain[key])
            assert not np.shares_memory(obs_fast[key], previous[key])  # SB3 keeps the last observation
        np.testing.assert_array_equal(rewards_fast, rewards_plain)
        np.testing.assert_array_equal(dones_fast, dones_plain)
        for info_fast, info_plain in zip(infos_fast, infos_plain):
            assert info_fast.keys() == info_plain.keys()
            for key in info_plain.get("terminal_observation", {}):
                np.testing.assert_array_equal(info_fast["terminal_observation"][key], info_plain["terminal_observation"][key])
        dones_seen += int(dones_plain.sum())
        previous = obs_fast
    assert dones_seen >= 3
    assert (fast.ret_rms.mean, fast.ret_rms.var, fast.ret_rms.count) == (plain.ret_rms.mean, plain.ret_rms.var, plain.ret_rms.count)



@pytest.fixture(scope="module")
def small_venv(zeus_trace_dir):
    config = TrainConfig(algo="maskable-ppo", timesteps=1, workloads=["squad"], gpus=["a40"], n_envs=1, trace_dir=str(zeus_trace_dir))
    return make_training_env(config).venv.venv


rewards = st.floats(min_value=-1e4, max_value=0.0, width=32)


@settings(max_examples=60, deadline=None)
@given(steps=st.integers(1, 40).flatmap(lambda n: st.lists(st.tuples(st.lists(rewards, min_size=n, max_size=n),
                                                                      st.lists(st.booleans(), min_size=n, max_size=n)),
                                                            min_size=1, max_size=12)),
       gamma=st.sampled_from([0.99, 0.9, 1.0]))
def test_running_statistics_and_scaled_rewards_are_vec_normalize_s(small_venv, steps, gamma):
    """Any number of envs (numpy's pairwise sums change order at 8 and 128 terms: up to 40 here)."""
    fast = ScaledRewards(small_venv, gamma=gamma)
    plain = VecNormalize(small_venv, norm_obs=False, norm_reward=True, gamma=gamma)
    n = len(steps[0][0])
    fast.returns, plain.returns = np.zeros(n), np.zeros(n)
    for step_rewards, dones in steps:
        reward, done = np.array(step_rewards, dtype=np.float32), np.array(dones)
        fast._update_reward(reward)
        plain._update_reward(reward)
        np.testing.assert_array_equal(fast.returns, plain.returns)
        assert (fast.ret_rms.mean, fast.ret_rms.var, fast.ret_rms.count) == (plain.ret_rms.mean, plain.ret_rms.var, plain.ret_rms.count)
        scaled, expected = fast.normalize_reward(reward), plain.normalize_reward(reward)
        assert scaled.dtype == expected.dtype == np.float32
        np.testing.assert_array_equal(scaled, expected)
        fast.returns[done] = 0
        plain.returns[done] = 0
    batch = np.array([step_rewards for step_rewards, _ in steps], dtype=np.float32)[:, :, None]  # a replay buffer's shape
    np.testing.assert_array_equal(fast.normalize_reward(batch), plain.normalize_reward(batch))
