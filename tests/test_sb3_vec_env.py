"""The SB3 adapter over the native vector env equals SB3's DummyVecEnv over single envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

import zeus_gym  # noqa: F401
from zeus_gym.sb3 import make_sb3_vec_env, unbatch_infos

KWARGS = dict(workload="movielens-1m", gpu="rtx6000", num_recurrences=3, max_retries=4)


def plain(data):
    """SB3 returns OrderedDict observations; compare them as plain dicts."""
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(plain(value) for value in data)
    return data


def rollout(venv, actions: np.ndarray) -> list:
    venv.seed(11)
    data = [(venv.reset(), list(venv.reset_infos))]
    for a in actions:
        data.append((*venv.step(a), list(venv.reset_infos)))
    return plain(data)


@pytest.mark.parametrize("num_envs", [1, 4])
@pytest.mark.parametrize("backend", ["scalar", "vector"])
def test_adapter_equals_dummy_vec_env(zeus_trace_dir, num_envs, backend):
    ours = make_sb3_vec_env(num_envs, backend=backend, **KWARGS)
    theirs = DummyVecEnv([lambda: gym.make("ZeusGym/RecurringJob-v2", **KWARGS) for _ in range(num_envs)])
    ours.action_space.seed(0)
    actions = np.array([[ours.action_space.sample() for _ in range(num_envs)] for _ in range(60)])
    a, b = rollout(ours, actions), rollout(theirs, actions)
    assert sum(step[2].sum() for step in a[1:]) >= num_envs  # episodes ended
    for i, (x, y) in enumerate(zip(a, b)):
        assert data_equivalence(x, y, exact=True), f"step {i} differs"


def test_unbatch_infos_follows_the_masks():
    infos = {"a": np.array([1, 0, 3]), "_a": np.array([True, False, True]), "b": {"c": np.array([0.5, 1.5, 0.0]), "_c": np.array([False, True, False])}, "_b": np.array([False, True, False])}
    assert unbatch_infos(infos, 3) == [{"a": 1}, {"b": {"c": 1.5}}, {"a": 3}]


def test_ppo_trains_on_the_adapter(zeus_trace_dir):
    venv = make_sb3_vec_env(8, workload="squad", gpu="a40", num_recurrences=5)
    model = PPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=512)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (8, 2)


def test_unbatch_infos_of_full_columns_gives_python_scalars_per_env():
    infos = {"a": np.array([1, 2]), "_a": np.array([True, True]), "b": np.array([0.5, np.inf]), "_b": np.array([True, True]),
             "c": np.array([True, False]), "_c": np.array([True, True]), "d": np.arange(4.0).reshape(2, 2), "_d": np.array([True, True])}
    out = unbatch_infos(infos, 2)
    assert [type(v) for v in out[0].values()] == [int, float, bool, np.ndarray] and list(out[1]) == ["a", "b", "c", "d"]
    assert [out[i].pop("d").tolist() for i in (0, 1)] == [[0.0, 1.0], [2.0, 3.0]]
    assert out == [{"a": 1, "b": 0.5, "c": True}, {"a": 2, "b": np.inf, "c": False}]
    del infos["d"], infos["_d"]
    infos["_b"] = np.array([True, False])  # one key missing for one env: the masked path
    assert unbatch_infos(infos, 2) == [{"a": 1, "b": 0.5, "c": True}, {"a": 2, "c": False}]
