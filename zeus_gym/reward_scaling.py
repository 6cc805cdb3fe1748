"""Reward scaling for training: SB3's `VecNormalize(norm_obs=False)`, bit for bit, for less.

Costs span orders of magnitude across jobs, so training divides rewards by the running standard
deviation of the discounted return, as `VecNormalize` does. At 8 envs VecNormalize cost about a
fifth of the environment's time per step: it deep-copies every observation (terminal ones too)
even when it does not normalize them, and updates its statistics with numpy reductions over 8
floats. `ScaledRewards` passes observations through (the envs here hand over fresh arrays each
step: the native vector env copies, the scalar backend and DummyVecEnv fill a new buffer) and
computes the same statistics on Python floats, in numpy's order of operations, so rewards and
saved statistics are those of VecNormalize exactly (tests/test_reward_scaling.py).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from zeus_gym.core.sums import pairwise_sum


class ScaledRewards(VecNormalize):
    """`VecNormalize(venv, norm_obs=False, norm_reward=True, gamma=gamma)`, observations untouched."""

    def __init__(self, venv: VecEnv, gamma: float) -> None:
        super().__init__(venv, norm_obs=False, norm_reward=True, gamma=gamma)

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.old_obs, self.old_reward = obs, rewards
        if self.training:
            self._update_reward(rewards)
        rewards = self.normalize_reward(rewards)
        self.returns[dones] = 0
        return obs, rewards, dones, infos

    def normalize_obs(self, obs: Any) -> Any:
        return obs

    def normalize_reward(self, reward: np.ndarray) -> np.ndarray:
        if reward.ndim != 1:  # a replay buffer's batch (off-policy algorithms): numpy's own way
            return super().normalize_reward(reward)
        # A step's rewards: VecNormalize's np.clip(reward / np.sqrt(var + epsilon), -clip,
        # clip).astype(float32), the same float64 division and correctly rounded square root.
        scale, bound = math.sqrt(float(self.ret_rms.var) + self.epsilon), self.clip_reward
        return np.array([min(max(r / scale, -bound), bound) for r in reward.tolist()], dtype=np.float32)

    def _update_reward(self, reward: np.ndarray) -> None:
        gamma = self.gamma
        returns = [value * gamma + r for value, r in zip(self.returns.tolist(), reward.tolist())]
        self.returns = np.array(returns)
        # RunningMeanStd.update: np.mean and np.var (a pairwise sum, then true division; the
        # squares of the deviations summed the same way), then update_from_moments on floats.
        n = len(returns)
        batch_mean = pairwise_sum(returns) / n
        batch_var = pairwise_sum([(value - batch_mean) * (value - batch_mean) for value in returns]) / n
        stats = self.ret_rms
        mean, var, count = float(stats.mean), float(stats.var), stats.count
        delta = batch_mean - mean
        total = count + n
        new_mean = mean + delta * n / total
        m_2 = var * count + batch_var * n + delta * delta * count * n / total
        # numpy float64 scalars, the types VecNormalize leaves (and saves) there
        stats.mean, stats.var, stats.count = np.float64(new_mean), np.float64(m_2 / total), total
