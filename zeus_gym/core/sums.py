"""numpy's float64 summation on Python floats, bit for bit.

A numpy reduction costs a few µs of call overhead, more than the additions of the short sums the
simulation and the training wrappers make (a batch size's few power limits, 8 envs' returns);
these functions make the same additions in the same order on Python floats instead.
"""

from __future__ import annotations


def pairwise_sum(values: list[float]) -> float:
    """`np.add.reduce` of a 1-D float64 array, on its values as Python floats, bit for bit:
    numpy starts from its identity 0.0 and adds the pairwise sum of its float64 loops (fewer
    than 8 terms in order; up to 128 in 8 interleaved partial sums, combined as a tree, then
    the tail in order; beyond, the two halves split at a multiple of 8). A numpy reduction costs
    a few µs of call overhead, more than the additions of one batch size's few limits (tested
    equal to numpy on random arrays of every size up to 300)."""
    return 0.0 + _pairwise_range(values, 0, len(values))


def _pairwise_range(v: list[float], start: int, n: int) -> float:
    """The pairwise part of `pairwise_sum` over `v[start:start + n]` (no leading 0.0 added)."""
    if n < 8:
        total = 0.0
        for value in v[start : start + n]:
            total += value
        return total
    if n <= 128:
        r0, r1, r2, r3, r4, r5, r6, r7 = v[start : start + 8]
        stop = start + n - n % 8
        for i in range(start + 8, stop, 8):
            r0 += v[i]
            r1 += v[i + 1]
            r2 += v[i + 2]
            r3 += v[i + 3]
            r4 += v[i + 4]
            r5 += v[i + 5]
            r6 += v[i + 6]
            r7 += v[i + 7]
        total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for value in v[stop : start + n]:
            total += value
        return total
    half = n // 2
    half -= half % 8
    return _pairwise_range(v, start, half) + _pairwise_range(v, start + half, n - half)
