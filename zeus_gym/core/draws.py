"""Uniform index draws from per-job numpy generators, as `step` consumes them."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from zeus_gym.core.sim import Draw


def generator_draw(generators: Sequence[np.random.Generator]) -> Draw:
    """`draw(bounds)` with job i drawing `generators[i].integers(0, bounds[i])`.

    A bound of 1 draws nothing, exactly like `Generator.integers(0, 1)`: single-path
    configurations must not advance the stream, or seeds would stop matching the reference.
    """

    def draw(bounds: np.ndarray) -> np.ndarray:
        return np.array([g.integers(0, n) if n > 1 else 0 for g, n in zip(generators, bounds.tolist())], dtype=np.int64)

    return draw
