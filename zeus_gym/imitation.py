"""Behaviour cloning: warm-start a MaskablePPO policy by imitating an agent (Zeus by default).

PPO from a uniform policy first spends many episodes on configurations that never reach the
target. Cloning a good agent's decisions first (the cross-entropy of its flat actions under the
policy, on the observations it met) starts PPO from that agent's behaviour instead. The teacher
is any agent `zeus-gym run --agent` takes; it plays single envs built like the training env
(procedural jobs included), seeded apart from the training env's seeds.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

from zeus_gym.agents.loading import load_agent
from zeus_gym.core.features import CONFIG_FEATURES

TEACHER_SEED = 1_000_000  # far from the training env's seeds (seed + i) and the evaluation seeds


def teacher_demonstrations(env: gym.Env, teacher: str, steps: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(observations, flat actions) of `teacher` playing whole episodes of `env` until `steps`."""
    observations: list[dict[str, np.ndarray]] = []
    actions: list[int] = []
    episode = 0
    grid = env.unwrapped.action_space.nvec
    while len(actions) < steps:
        agent = load_agent(teacher, env)
        observation, info = env.reset(seed=seed + episode)
        agent.reset(info, seed + episode)
        done = False
        while not done:
            action = agent.act(observation, info)
            observations.append({key: value.copy() for key, value in observation.items()})
            actions.append(int(action[0]) * int(grid[1]) + int(action[1]))
            observation, reward, terminated, truncated, info = env.step(action)
            agent.observe(action, observation, reward, terminated, truncated, info)
            done = terminated or truncated
        episode += 1
    stacked = {key: np.stack([o[key] for o in observations]) for key in observations[0]}
    return stacked, np.array(actions, dtype=np.int64)


def exploration_weights(observations: dict[str, np.ndarray], actions: np.ndarray) -> np.ndarray:
    """Per-sample weights (mean 1) giving the teacher's explorations (a configuration it had not
    run yet) as much weight in all as its other decisions.

    A good teacher explores in a few steps of a long episode (Frugal: about 4 % of its actions), so
    an unweighted fit learns to exploit and, greedy, never takes the first exploring step: cloned
    Frugal then plays Default's configuration for ever."""
    rows = observations["configs"].reshape(len(actions), observations["action_mask"].shape[1], -1)
    tries = rows[np.arange(len(actions)), actions, CONFIG_FEATURES.index("tries")]
    explore = tries == 0
    share = float(explore.mean())
    if share in (0.0, 1.0):
        return np.ones(len(actions))
    return np.where(explore, 0.5 / share, 0.5 / (1.0 - share))


def clone(model: BaseAlgorithm, observations: dict[str, np.ndarray], actions: np.ndarray, *, epochs: int = 10,
          batch_size: int = 512, learning_rate: float = 1e-3, seed: int = 0, weights: np.ndarray | None = None) -> list[float]:
    """Fit `model`'s policy to (observations, actions) with its own optimizer (at
    `learning_rate`, then restored); the mean (`weights`-weighted) negative log-likelihood of each epoch."""
    weights = np.ones(len(actions)) if weights is None else np.asarray(weights, dtype=np.float64)
    policy = model.policy
    rng = np.random.default_rng(seed)
    saved = [group["lr"] for group in policy.optimizer.param_groups]
    for group in policy.optimizer.param_groups:
        group["lr"] = learning_rate
    masks = observations["action_mask"] > 0.5
    losses = []
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = rng.permutation(len(actions))
        total = 0.0
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            obs = {key: th.as_tensor(value[rows]) for key, value in observations.items()}
            _, log_prob, _ = policy.evaluate_actions(obs, th.as_tensor(actions[rows]), action_masks=masks[rows])
            weight = th.as_tensor(weights[rows], dtype=log_prob.dtype)
            loss = -(weight * log_prob).sum() / weight.sum()
            policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            policy.optimizer.step()
            total += float(loss.detach()) * len(rows)
        losses.append(total / len(actions))
    policy.set_training_mode(False)
    for group, lr in zip(policy.optimizer.param_groups, saved):
        group["lr"] = lr
    return losses


def warm_start(model: BaseAlgorithm, env_kwargs: dict[str, Any], teacher: str, steps: int, epochs: int, seed: int,
               balance: bool = True) -> dict[str, Any]:
    """Clone `teacher` into `model` on `steps` steps of `RecurringJob-v1(**env_kwargs)` (`balance`:
    with `exploration_weights`)."""
    start = time.perf_counter()
    env = gym.make("ZeusGym/RecurringJob-v1", **env_kwargs)
    observations, actions = teacher_demonstrations(env, teacher, steps, TEACHER_SEED + seed)
    demonstration = time.perf_counter() - start  # the teacher's env steps and its own decisions
    weights = exploration_weights(observations, actions) if balance else None
    losses = clone(model, observations, actions, epochs=epochs, seed=seed, weights=weights)
    return {"teacher": teacher, "steps": int(len(actions)), "epochs": epochs, "balance": balance, "loss": losses,
            "demonstration_seconds": demonstration}
