"""An action space whose `sample()` only returns configurations the traces have measured."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space


class ConfigurationSpace(spaces.MultiDiscrete):
    """`MultiDiscrete([B, P + 1])` (or `(N, 2)` batched) that samples uniformly among playable
    (batch, power) pairs.

    Some GPUs lack measurements for a few configurations (e.g. batch size 4 of movielens-1m on
    the RTX6000 below 250 W). Playing one is an error, so random exploration and the standard
    env checkers must never draw one; on complete grids this is the plain uniform sampler.
    """

    def __init__(self, playable: np.ndarray, num_envs: int | None = None, seed: int | np.random.Generator | None = None) -> None:
        playable = np.asarray(playable, dtype=bool)
        nvec = np.array(playable.shape, dtype=np.int64)
        super().__init__(nvec if num_envs is None else np.tile(nvec, (num_envs, 1)), seed=seed)
        self.playable = playable
        self.num_envs = num_envs
        self._flat = np.flatnonzero(playable)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Uniform playable action(s) (with `mask`/`probability`, MultiDiscrete's own sampler)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        flat = self._flat[self.np_random.integers(len(self._flat), size=self.num_envs)]
        return np.stack(np.unravel_index(flat, self.playable.shape), axis=-1).astype(self.dtype)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ConfigurationSpace)
            and super().__eq__(other)
            and np.array_equal(self.playable, other.playable)
        )

    def __repr__(self) -> str:
        batch = "" if self.num_envs is None else f", num_envs={self.num_envs}"
        return f"ConfigurationSpace({self.playable.shape}, playable={int(self.playable.sum())}/{self.playable.size}{batch})"


@batch_space.register(ConfigurationSpace)
def _batch_configuration_space(space: ConfigurationSpace, n: int = 1) -> ConfigurationSpace:
    if space.num_envs is not None:
        raise ValueError("a batched ConfigurationSpace cannot be batched again")
    return ConfigurationSpace(space.playable, num_envs=n, seed=copy.deepcopy(space.np_random))
