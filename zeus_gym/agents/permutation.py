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

import numpy as np

_LOW_32 = 0xFFFFFFFF


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
            order = shuffled_range(self.bits.random_raw(n - 1).view(np.uint32).tolist(), n)
            if order is not None:
                return order
            self.bits.advance(-(n - 1))  # back to before this call, no half buffered, as it was
        order = self.rng.choice(n, n, replace=False).tolist()
        # A rejected word makes the count of words odd, leaving a half buffered.
        self.fast = self._fast_possible and not self.bits.state["has_uint32"]
        return order


def shuffled_range(words: list[int], n: int) -> list[int] | None:
    """The permutation `choice(n, n)` makes of the 2(n - 1) 32-bit `words`; None if Lemire's
    method might reject one of them (then more words, or other ones, are needed)."""
    for i in range(1, n):  # Floyd's words: checked, not used
        if (words[i - 1] * (i + 1)) & _LOW_32 <= i:
            return None
    order = list(range(n))
    for k, i in enumerate(range(n - 1, 0, -1), n - 1):
        scaled = words[k] * (i + 1)
        if scaled & _LOW_32 <= i:
            return None
        j = scaled >> 32
        order[i], order[j] = order[j], order[i]
    return order
