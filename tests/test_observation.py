"""The v1 observation (`configs`, `globals`, `action_mask`) on the toy trace, by hand.

Toy job of tests/test_env_semantics.py (MAXPOWER 200 W, eta 0.5, a run costs 0.5 E + 100 T):
b0 = 16 at 200 W costs 950 per epoch and reaches the target in 3 epochs (default_cost 2850); at
100 W an epoch of batch size 16 costs 0.5 * 720 + 100 * 8 = 1160. Configuration k is flat action
b * (P + 1) + p with P = 2 limits, so (16, 200 W) is k = 4 and batch size 16's profile k = 5.
"""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zeus_gym  # noqa: F401
from zeus_gym.core.features import CONFIG_FEATURES, GLOBAL_FEATURES
from zeus_gym.wrappers import FlatActions
from tests.test_env_semantics import POWER, SPEC, TRAIN

F = len(CONFIG_FEATURES)
B16_W100, B16_W200, B16_PROFILE = 3, 4, 5


@pytest.fixture
def toy(tmp_path):
    (tmp_path / "summary_train.csv").write_text(TRAIN)
    (tmp_path / "summary_power_toy.csv").write_text(POWER)
    env = gym.make("ZeusGym/RecurringJob-v2", workload=SPEC, gpu="toy", trace_dir=tmp_path)
    return env


def rows(obs):
    return {name: obs["configs"].reshape(-1, F)[:, i] for i, name in enumerate(CONFIG_FEATURES)}


def test_fresh_observation_has_only_static_facts(toy):
    obs, info = toy.reset(seed=0)
    col = rows(obs)
    assert obs["action_mask"].tolist() == info["playable"].reshape(-1).astype(float).tolist() == col["playable"].tolist()
    assert col["is_profile"].tolist() == [0, 0, 1] * 3
    assert col["b0"].tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert col["power"][[B16_W100, B16_W200, B16_PROFILE]].tolist() == pytest.approx([0.1, 0.2, 0.0])
    assert col["batch"][B16_W200] == pytest.approx((4 + 1) / 17)
    for name in CONFIG_FEATURES[5:]:
        assert not col[name].any(), name
    assert obs["globals"].tolist() == pytest.approx([0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5, 1 / 12])  # 12 recurrences


def test_a_run_reveals_its_cost_per_epoch_and_epochs(toy):
    toy.reset(seed=0)
    obs, *_ = toy.step([1, 1])  # b0 at 200 W: 3 epochs, cost 2850
    col = rows(obs)
    k = B16_W200
    assert (col["tries"][k], col["mean_cost"][k], col["reach_rate"][k]) == pytest.approx((1 / 12, 1.0, 1.0))
    assert (col["epoch_cost_known"][k], col["epoch_cost"][k]) == (1.0, 1.0)
    assert (col["mean_epochs"][k], col["target_epochs"][k], col["estimate"][k]) == pytest.approx((0.3, 0.3, 1.0))
    # The same batch size at 100 W is not known yet, but its batch size's epochs are.
    assert (col["epoch_cost_known"][B16_W100], col["epoch_cost"][B16_W100], col["estimate"][B16_W100]) == (0, 0, 0)
    assert col["target_epochs"][B16_W100] == pytest.approx(0.3)
    # The profile action holds the batch size's totals.
    assert (col["tries"][B16_PROFILE], col["mean_cost"][B16_PROFILE]) == pytest.approx((1 / 12, 1.0))
    assert col["profiled"][B16_PROFILE] == 0
    glob = dict(zip(GLOBAL_FEATURES, obs["globals"].tolist()))
    assert (glob["progress"], glob["threshold_active"], glob["threshold"]) == pytest.approx((1 / 12, 1.0, 2.0))
    assert (glob["last_ran"], glob["last_reached"], glob["last_cost"], glob["last_profiled"]) == (1, 1, 1, 0)
    assert glob["inverse_recurrences"] == pytest.approx(1 / 12)


def test_a_profile_reveals_every_limit_of_the_batch_size(toy):
    toy.reset(seed=0)
    obs, *_ = toy.step([1, 2])  # profile 16: the rest runs at 200 W
    col = rows(obs)
    assert col["profiled"][[B16_W100, B16_W200, B16_PROFILE]].tolist() == [1, 1, 1]
    assert col["epoch_cost_known"][[B16_W100, B16_W200, B16_PROFILE]].tolist() == [1, 1, 1]
    assert col["epoch_cost"][[B16_W100, B16_W200, B16_PROFILE]].tolist() == pytest.approx([1160 / 950, 1.0, 1.0])
    assert col["estimate"][B16_W100] == pytest.approx(1160 * 3 / 2850)
    assert col["tries"][B16_W200] == pytest.approx(1 / 12)  # the run counts at the limit it used


def test_observation_is_one_contiguous_buffer(toy):
    obs, _ = toy.reset(seed=0)
    base = obs["configs"].base
    assert base is not None and all(value.base is base for value in obs.values())
    assert base.dtype == np.float32 and base.flags.c_contiguous


@pytest.mark.parametrize("workload, gpu", [("all", "all"), ("movielens-1m", "rtx6000")])
def test_checkers_pass_without_warnings(zeus_trace_dir, workload, gpu):
    env = gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu, slots=(15, 9)).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
        sb3_check_env(env)
        sb3_check_env(FlatActions(env))


def test_unknown_observation_layout_is_one_line_error(zeus_trace_dir):
    with pytest.raises(ValueError, match=r"observation must be one of 'configs', 'slots', got 'grid'"):
        gym.make("ZeusGym/RecurringJob-v2", observation="grid")


def _with_batch_total(per_limit):
    return np.concatenate([per_limit, per_limit.sum(axis=2, keepdims=True)], axis=2)


def configs_from_scratch(params, state):
    """The `configs` rows recomputed from the counters over every configuration: the definition
    that the core's incremental update (only the batch size a step ran) must equal."""
    job = state.job
    n, num_b, num_p = len(job), params.max_batch_sizes, params.max_power_limits
    grid = (n, num_b, num_p)
    tries = _with_batch_total(state.tries.reshape(grid))
    at_least_one = np.maximum(tries, 1.0)
    profiled = state.profiled
    batch_reached = state.reached.reshape(grid).sum(axis=2)
    target = state.reached_epochs / np.maximum(batch_reached, 1.0)
    max_epochs = params.max_epochs[job][:, None, None]
    known = profiled[:, :, None] | (tries > 0)
    known[:, :, num_p] = profiled
    dynamic = (
        tries / params.num_recurrences[job][:, None, None],
        _with_batch_total(state.cost_sum.reshape(grid)) / at_least_one,
        _with_batch_total(state.reached.reshape(grid)) / at_least_one,
        np.broadcast_to(profiled[:, :, None], tries.shape),
        known,
        np.where(known, params.config_epoch_ratio[job], 0.0),
        _with_batch_total(state.epochs_sum.reshape(grid)) / at_least_one / max_epochs,
        np.broadcast_to(target[:, :, None] / max_epochs, tries.shape),
        np.where(known & (batch_reached > 0)[:, :, None], params.config_epoch_cost[job] * target[:, :, None], 0.0),
    )
    configs = np.zeros((n, num_b * (num_p + 1), F), dtype=np.float32)
    configs[..., :5] = params.config_static[job]
    for column, value in enumerate(dynamic, start=5):
        configs[..., column] = value.reshape(n, -1)
    return configs.reshape(n, -1)


@pytest.mark.parametrize("workload, gpu", [("all", "all"), ("movielens-1m", "rtx6000"), ("procedural", "all")])
def test_incremental_rows_equal_the_definition(zeus_trace_dir, workload, gpu):
    envs = gym.make_vec("ZeusGym/RecurringJob-v2", num_envs=8, workload=workload, gpu=gpu, slots=(15, 9), num_recurrences=6,
                        max_retries=3, vectorization_mode="vector_entry_point")
    obs, _ = envs.reset(seed=3)
    envs.action_space.seed(3)
    for _ in range(150):
        obs, *_ = envs.step(envs.action_space.sample())
        assert np.array_equal(obs["configs"], configs_from_scratch(envs.unwrapped.params, envs.unwrapped._state))
