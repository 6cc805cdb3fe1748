"""An action space whose `sample()` only returns configurations the traces have measured."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space


class ConfigurationSpace(spaces.MultiDiscrete):
    """`MultiDiscrete([B, P + 1])` that samples uniformly among playable (batch, power) pairs.

    `playable` is a (B, P + 1) mask, or (N, B, P + 1) for N environments (shape `(N, 2)`). Some
    GPUs lack measurements for a few configurations (e.g. batch size 4 of movielens-1m on the
    RTX6000 below 250 W), and in multi-job envs each job has its own; playing one that is not
    playable is an error, so random exploration and the standard env checkers never draw one.
    On complete grids this is the plain uniform sampler. Envs update the mask at reset.
    """

    def __init__(self, playable: np.ndarray, seed: int | np.random.Generator | None = None) -> None:
        playable = np.asarray(playable, dtype=bool)
        grid = np.array(playable.shape[-2:], dtype=np.int64)
        super().__init__(grid if playable.ndim == 2 else np.tile(grid, (playable.shape[0], 1)), seed=seed)
        self._grid_size = int(grid.prod())
        self.set_playable(playable)

    def set_playable(self, playable: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Replace the mask (same shape), or with `rows` only those environments' masks."""
        if rows is None:
            self.playable = np.array(playable, dtype=bool)
            self._cumulative = np.cumsum(self.playable.reshape(-1, self._grid_size), axis=1)
        else:
            self.playable[rows] = playable
            self._cumulative[rows] = np.cumsum(self.playable[rows].reshape(-1, self._grid_size), axis=1)
        if not (self._cumulative[:, -1] > 0).all():
            raise ValueError("every environment needs at least one playable action")

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """Uniform playable action(s) (with `mask`/`probability`, MultiDiscrete's own sampler)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        counts = self._cumulative[:, -1]
        picks = self.np_random.integers(counts)  # the k-th playable action of each environment
        flat = (self._cumulative <= picks[:, None]).sum(axis=1)
        action = np.stack(np.unravel_index(flat, self.playable.shape[-2:]), axis=-1).astype(self.dtype)
        return action[0] if self.playable.ndim == 2 else action

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigurationSpace) and super().__eq__(other) and np.array_equal(self.playable, other.playable)

    def __repr__(self) -> str:
        return f"ConfigurationSpace(shape={self.shape}, playable={int(self.playable.sum())}/{self.playable.size})"


@batch_space.register(ConfigurationSpace)
def _batch_configuration_space(space: ConfigurationSpace, n: int = 1) -> ConfigurationSpace:
    if space.playable.ndim != 2:
        raise ValueError("a batched ConfigurationSpace cannot be batched again")
    return ConfigurationSpace(np.broadcast_to(space.playable, (n, *space.playable.shape)), seed=copy.deepcopy(space.np_random))
