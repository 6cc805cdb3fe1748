"""The policy's `derived_config_features` place each configuration in Frugal's hill climb over batch
sizes, from the observation alone."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch as th

import zeus_gym  # noqa: F401
from zeus_gym.agents.frugal import FrugalAgent
from zeus_gym.policies import DERIVED_CONFIG_FEATURES, DERIVED_GLOBALS, derived_config_features, derived_globals
from zeus_gym.workloads import WORKLOADS

ENV_ID = "ZeusGym/RecurringJob-v2"
FRONTIER, BEYOND, ABOVE, GAP = (DERIVED_CONFIG_FEATURES.index(name) for name in ("frontier", "beyond_failure", "above_b0", "edge_gap"))


def features(obs: dict[str, np.ndarray]) -> np.ndarray:
    """(K, 3) derived features of one observation."""
    configs = th.as_tensor(obs["configs"].reshape(1, len(obs["action_mask"]), -1))
    return derived_config_features(configs)[0].numpy()


def profile_rows(env: gym.Env) -> np.ndarray:
    """Flat action of each batch size's profile action, by batch index."""
    columns = int(env.unwrapped.action_space.nvec[1])
    return np.arange(int(env.unwrapped.action_space.nvec[0])) * columns + columns - 1


def by_batch(env: gym.Env, obs: dict[str, np.ndarray], column: int) -> list[int]:
    """The playable batch indices whose profile row has `column` set."""
    rows = profile_rows(env)
    values = features(obs)[rows, column]
    playable = obs["action_mask"][rows] > 0.5
    return [int(b) for b in np.flatnonzero((values > 0.5) & playable)]


def test_the_climb_on_cifar100_where_the_clone_went_wrong():
    """cifar100 / V100 (b0 = 1024, index 7): the clone tried 4096 after b0, then 2048, then went on."""
    env = gym.make(ENV_ID, workload="cifar100", gpu="v100")
    obs, info = env.reset(seed=102)
    profile = int(env.unwrapped.action_space.nvec[1]) - 1
    assert by_batch(env, obs, FRONTIER) == [7]  # before any run: b0
    obs, _, _, _, info = env.step(np.array([7, profile]))
    assert by_batch(env, obs, FRONTIER) == [6, 8]  # its neighbours, not 4096
    assert float(derived_globals(th.as_tensor(obs["configs"].reshape(1, len(obs["action_mask"]), -1)),
                                 th.as_tensor(obs["globals"][None]))[0, DERIVED_GLOBALS.index("b0_epochs")]) > 0.5  # so: down first
    obs, _, _, _, info = env.step(np.array([9, profile]))  # 4096 misses the target
    assert not info["reached"]
    assert by_batch(env, obs, BEYOND) == [9]
    assert by_batch(env, obs, FRONTIER) == [6]  # the climb up ended at the failure
    rows = features(obs)
    columns = profile + 1
    assert (rows[9 * columns : 10 * columns, BEYOND] == 1).all()  # every power limit of the failed batch size
    assert set(rows[:, ABOVE][obs["action_mask"] > 0.5]) == {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("workload", list(WORKLOADS))
@pytest.mark.parametrize("gpu", ["a40", "p100", "rtx6000", "v100"])
def test_every_trial_of_frugal_is_on_the_frontier_and_none_beyond_a_failure(zeus_trace_dir, workload, gpu):
    """Frugal's own explorations over a whole episode: each tries a batch size the features mark
    as the climb's next, and none that they mark as past a failure."""
    env = gym.make(ENV_ID, workload=workload, gpu=gpu, trace_dir=zeus_trace_dir)
    obs, info = env.reset(seed=7)
    agent = FrugalAgent()
    agent.reset(info, seed=7)
    trials = 0
    profile = int(env.unwrapped.action_space.nvec[1]) - 1
    done = False
    while not done:
        action = agent.act(obs, info)
        if action[1] == profile:
            trials += 1
            assert int(action[0]) in by_batch(env, obs, FRONTIER)
            assert int(action[0]) not in by_batch(env, obs, BEYOND)
            gaps = features(obs)[profile_rows(env)[by_batch(env, obs, FRONTIER)], GAP]
            chosen = features(obs)[profile_rows(env)[int(action[0])], GAP]
            # The cheaper edge first: never from an edge clearly (5 %) dearer than the other's
            # (Frugal's own estimates of near ties differ a little from the observation's).
            assert chosen <= gaps.min() + 0.05
        new_obs, reward, terminated, truncated, info = env.step(action)
        agent.observe(action, new_obs, reward, terminated, truncated, info)
        obs, done = new_obs, terminated or truncated
    assert trials >= 1  # b0's profile run at least


def test_the_edge_gap_points_the_climb_on_past_the_cheapest_edge():
    """movielens-1m / V100 (b0 = 1024, index 8): after b0 and 2048 reached, 2048 is the cheaper
    edge, so the climb goes on to 4096 (cloned Frugal without `edge_gap` turned back to 512)."""
    env = gym.make(ENV_ID, workload="movielens-1m", gpu="v100")
    obs, _ = env.reset(seed=101)
    profile = int(env.unwrapped.action_space.nvec[1]) - 1
    for b in (8, 9):
        obs, _, _, _, info = env.step(np.array([b, profile]))
        assert info["reached"]
    assert by_batch(env, obs, FRONTIER) == [7, 10]
    gaps = features(obs)[profile_rows(env)[[7, 10]], GAP]
    assert gaps[1] == 0.0 and gaps[0] > 0.1


def test_the_features_permute_with_the_rows():
    env = gym.make(ENV_ID, workload="cifar100", gpu="a40")
    obs, info = env.reset(seed=3)
    profile = int(env.unwrapped.action_space.nvec[1]) - 1
    for b in (7, 6, 9):
        obs, *_ = env.step(np.array([b, profile]))
    num_configs = len(obs["action_mask"])
    configs = th.as_tensor(obs["configs"].reshape(1, num_configs, -1))
    order = th.as_tensor(np.random.default_rng(0).permutation(num_configs))
    assert th.equal(derived_config_features(configs[:, order]), derived_config_features(configs)[:, order])
