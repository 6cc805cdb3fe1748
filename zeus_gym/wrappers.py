"""Wrappers for algorithms that need other action spaces (see the README's training recipes)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class PlayableDiscrete(spaces.Discrete):
    """`Discrete(B * (P + 1))` whose `sample()` draws only the current job's playable actions."""

    def __init__(self, playable: np.ndarray, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(playable.size, seed=seed)
        self.playable = playable.reshape(-1)

    def sample(self, mask: Any = None, probability: Any = None) -> np.int64:
        """A uniform playable action (with `mask`/`probability`, Discrete's own sampler)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        return super().sample(mask=self.playable.astype(np.int8))


class FlatActions(gym.ActionWrapper):
    """One `Discrete` action per (batch size, power limit) slot: `a = b * (P + 1) + p`.

    For DQN (which needs `Discrete`) and for sb3-contrib's MaskablePPO, whose masks (from
    `action_masks()`) can then mark the exact playable pairs of the current job."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._grid = tuple(env.action_space.nvec)
        self.action_space = PlayableDiscrete(env.unwrapped.action_space.playable)

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self.action_space.playable = self.env.unwrapped.action_space.playable.reshape(-1)
        return obs, info

    def action(self, action: int) -> np.ndarray:
        return np.array(np.unravel_index(int(action), self._grid), dtype=np.int64)

    def action_masks(self) -> np.ndarray:
        """The flat playable mask of the current job."""
        return self.env.unwrapped.action_masks()


class InvalidActionPenalty(gym.Wrapper):
    """Turns an unplayable action into a penalty instead of an error, for algorithms without
    action masks (PPO, A2C, DQN): the run does not happen, the observation is unchanged, the
    reward is `-penalty`, and `info["invalid_action"]` is True. After `max_invalid` invalid
    actions in a row the episode is truncated, so no policy can stall forever."""

    def __init__(self, env: gym.Env, penalty: float = 1.0, max_invalid: int = 100) -> None:
        super().__init__(env)
        if penalty < 0 or max_invalid < 1:
            raise ValueError(f"penalty must be >= 0 and max_invalid >= 1, got {penalty}, {max_invalid}")
        self.penalty, self.max_invalid = penalty, max_invalid
        self._invalid = 0
        self._last_obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._last_obs, info = self.env.reset(**kwargs)
        self._invalid = 0
        return self._last_obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        flat = self.env.action(action) if isinstance(self.env, gym.ActionWrapper) else np.asarray(action)
        b, p = (int(v) for v in np.asarray(flat).reshape(-1)[:2])
        mask = self.env.unwrapped.action_space.playable
        if not (0 <= b < mask.shape[0] and 0 <= p < mask.shape[1] and mask[b, p]):
            self._invalid += 1
            obs = {key: value.copy() for key, value in self._last_obs.items()}
            return obs, -self.penalty, False, self._invalid >= self.max_invalid, {"invalid_action": True}
        self._invalid = 0
        self._last_obs, reward, terminated, truncated, info = self.env.step(action)
        return self._last_obs, reward, terminated, truncated, {**info, "invalid_action": False}
