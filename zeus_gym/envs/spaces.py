"""An action space whose `sample()` only returns configurations the traces have measured."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class ConfigurationSpace(spaces.MultiDiscrete):
    """`MultiDiscrete([B, P + 1])` that samples uniformly among playable (batch, power) pairs.

    Some GPUs lack measurements for a few configurations (e.g. batch size 4 of movielens-1m on
    the RTX6000 below 250 W). Playing one is an error, so random exploration and the standard
    env checkers must never draw one; on complete grids this is the plain uniform sampler.
    """

    def __init__(self, playable: np.ndarray, seed: int | np.random.Generator | None = None) -> None:
        playable = np.asarray(playable, dtype=bool)
        super().__init__(np.array(playable.shape, dtype=np.int64), seed=seed)
        self.playable = playable
        self._flat = np.flatnonzero(playable)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        """A uniform playable action (with `mask`/`probability`, MultiDiscrete's own sampler)."""
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        flat = self._flat[self.np_random.integers(len(self._flat))]
        return np.array(np.unravel_index(flat, self.playable.shape), dtype=self.dtype)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConfigurationSpace) and super().__eq__(other) and np.array_equal(self.playable, other.playable)

    def __repr__(self) -> str:
        return f"ConfigurationSpace({self.nvec.tolist()}, playable={int(self.playable.sum())}/{self.playable.size})"
