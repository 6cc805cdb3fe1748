"""Uniform index draws from per-job numpy generators, as `step` consumes them."""

from __future__ import annotations

from typing import Sequence

import numpy as np



class GeneratorDraw:
    """`draw(bounds)` with job i drawing `generators[i].integers(0, bounds[i])`.

    A bound of 1 draws nothing, exactly like `Generator.integers(0, 1)`: single-path
    configurations must not advance the stream, or seeds would stop matching the reference.
    A class rather than a closure, so that an env holding one can be deep-copied and pickled.
    """

    __slots__ = ("generators",)

    def __init__(self, generators: Sequence[np.random.Generator]) -> None:
        self.generators = list(generators)

    def __call__(self, bounds: np.ndarray) -> np.ndarray:
        return np.array([g.integers(0, n) if n > 1 else 0 for g, n in zip(self.generators, bounds.tolist())], dtype=np.int64)


class ScalarDraw:
    """`draw(bound)` of one job (the SCALARS backend): `generator.integers(0, bound)`, or 0."""

    __slots__ = ("generator",)

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator

    def __call__(self, bound: int) -> int:
        return self.generator.integers(0, bound) if bound > 1 else 0


class BufferedDraw:
    """`draw(bounds)` for N generators without a Python call per job and step.

    `Generator.integers(0, n)` (n < 2**32) is Lemire's method on the generator's 32-bit stream:
    take a word w, return (w * n) >> 32 unless (w * n) mod 2**32 < (2**32 - n) mod n, in which case
    take another word. Words are fetched in blocks with `integers(0, 2**32, dtype=uint32)`, which
    reads the same stream, so the draws are those of `GeneratorDraw`, one for one.
    """

    def __init__(self, generators: Sequence[np.random.Generator], block: int = 1024) -> None:
        self.generators = list(generators)
        self.block = block
        self.words = np.zeros((len(self.generators), block), dtype=np.uint32)
        self.position = np.full(len(self.generators), block)

    def reseed(self, index: int, generator: np.random.Generator) -> None:
        """Use `generator` for job `index` from now on, dropping its buffered words."""
        self.generators[index] = generator
        self.position[index] = self.block

    def _refill(self, jobs: np.ndarray) -> None:
        for i in jobs.tolist():  # one generator call per `block` draws of a job
            self.words[i] = self.generators[i].integers(0, 2**32, size=self.block, dtype=np.uint32)
            self.position[i] = 0

    def refill_keeping(self, index: int) -> None:
        """Refill job `index`'s buffer now, keeping the words it has not consumed at its front
        (the stream is unchanged: the new words are the ones that follow them)."""
        kept = self.words[index, self.position[index] :].copy()
        self.words[index, : len(kept)] = kept
        self.words[index, len(kept) :] = self.generators[index].integers(0, 2**32, size=self.block - len(kept), dtype=np.uint32)
        self.position[index] = 0

    def _next_words(self, jobs: np.ndarray) -> np.ndarray:
        self._refill(jobs[self.position[jobs] >= self.block])
        words = self.words[jobs, self.position[jobs]].astype(np.uint64)
        self.position[jobs] += 1
        return words

    def __call__(self, bounds: np.ndarray) -> np.ndarray:
        out = np.zeros(len(bounds), dtype=np.int64)
        jobs = np.flatnonzero(bounds > 1)
        if jobs.size == 0:
            return out
        n = bounds[jobs].astype(np.uint64)
        product = self._next_words(jobs) * n
        # Lemire's rejection test needs (2**32 - n) % n only where the low word is below n.
        suspect = np.flatnonzero((product & np.uint64(0xFFFFFFFF)) < n)
        while suspect.size:  # probability below n / 2**32 per draw
            m = n[suspect]
            rejected = suspect[(product[suspect] & np.uint64(0xFFFFFFFF)) < (np.uint64(2**32) - m) % m]
            product[rejected] = self._next_words(jobs[rejected]) * n[rejected]
            suspect = rejected[(product[rejected] & np.uint64(0xFFFFFFFF)) < n[rejected]]
        out[jobs] = (product >> np.uint64(32)).astype(np.int64)
        return out
