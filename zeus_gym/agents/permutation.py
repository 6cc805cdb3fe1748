"""`Generator.choice(n, n, replace=False)` computed from the generator's raw draws, bit for bit.

Zeus's bandit draws one such permutation per prediction, and `choice`'s Python-level work (about
6 µs) costs more than the rest of a prediction. What it draws, for a PCG64 generator with no
32-bit half buffered: 2(n - 1) 32-bit words, each 64-bit draw giving its low then its high half.
The first n - 1 go to Floyd's sampling, whose result when all n are taken is 0, 1, ..., n - 1 in
order whatever the words (only their rejection matters); the other n - 1 shuffle that list by
Fisher-Yates from the end, word w mapped to [0, i] by Lemire's multiply-shift `(w * (i + 1)) >> 32`.
Lemire's method rejects a word only if the low half of the product is below the range: this
happens with probability below n / 2**32, and then the generator is rewound and numpy's own
`choice` draws. Tested equal to `choice` (the permutations and the generator's stream after them).
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

_WORD = np.dtype(np.uint32)


class _Ranges(NamedTuple):
    """The ranges choice(n, n)'s 2(n - 1) words are mapped to: Floyd's 2..n, then the shuffle's
    n..2; as uint32 (a product of uint32 arrays wraps to the low half Lemire's check reads) and
    as Python ints; and the bytes of 2(n - 1) False (no word rejected)."""

    words: np.ndarray
    shuffle: list[int]
    none: bytes


_RANGES: dict[int, _Ranges] = {}


def _ranges(n: int) -> _Ranges:
    ranges = _RANGES.get(n)
    if ranges is None:
        words = np.array([*range(2, n + 1), *range(n, 1, -1)], dtype=np.uint32)
        words.flags.writeable = False
        ranges = _RANGES[n] = _Ranges(words, list(range(n, 1, -1)), bytes(2 * (n - 1)))
    return ranges


class PermutationDraws:
    """Draws `rng.choice(n, n, replace=False).tolist()` from `rng`, consuming its stream as that
    call does. One difference: after a fast draw, the generator's `state` dict keeps 0 where
    numpy leaves a stale copy of the last high half in `uinteger` (never read while
    `has_uint32` is 0, so no later draw differs)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.bits = rng.bit_generator
        # Raw draws viewed as 32-bit words put the low half first on little-endian machines only.
        self._fast_possible = type(self.bits) is np.random.PCG64 and sys.byteorder == "little"
        self.fast = self._fast_possible and not self.bits.state["has_uint32"]

    def __call__(self, n: int) -> list[int]:
        """A random permutation of range(n), as `rng.choice(n, n, replace=False)` draws it."""
        if self.fast and n >= 1:
            if n == 1:
                return [0]  # choice draws nothing: the range of its only draw is 0
            words, ranges = self.bits.random_raw(n - 1).view(_WORD), _ranges(n)
            if not may_reject(words, ranges):
                return shuffled_range(words.tolist(), ranges, n)
            self.bits.advance(-(n - 1))  # back to before this call, no half buffered, as it was
        return self._from_numpy(n)

    def skip(self, n: int) -> None:
        """Advance the stream as `self(n)` does, without making the permutation (the bandit reads
        it only while an arm is under-explored; the words still decide whether one is rejected)."""
        if self.fast and n >= 1:
            if n == 1 or not may_reject(self.bits.random_raw(n - 1).view(_WORD), _ranges(n)):
                return
            self.bits.advance(-(n - 1))
        self._from_numpy(n)

    def _from_numpy(self, n: int) -> list[int]:
        order = self.rng.choice(n, n, replace=False).tolist()
        # A rejected word makes the count of words odd, leaving a half buffered.
        self.fast = self._fast_possible and not self.bits.state["has_uint32"]
        return order


def may_reject(words: np.ndarray, ranges: _Ranges) -> bool:
    """Whether Lemire's method might reject one of the uint32 `words` mapped to their `ranges`:
    the low half of a product below its range (numpy then draws again, or not: it decides)."""
    # Compared as bytes: `.any()` costs as much as the rest of the check on arrays this small.
    return np.less(np.multiply(words, ranges.words), ranges.words).tobytes() != ranges.none


def shuffled_range(words: list[int], ranges: _Ranges, n: int) -> list[int]:
    """The permutation `choice(n, n)` makes of its 2(n - 1) 32-bit `words` when none is rejected."""
    # Floyd's words are not used; each shuffle word w picks (w * (i + 1)) >> 32, i from n - 1 down.
    order = list(range(n))
    for i, span, word in zip(range(n - 1, 0, -1), ranges.shuffle, words[n - 1 :]):
        j = (word * span) >> 32
        order[i], order[j] = order[j], order[i]
    return order
