"""The agents' bookkeeping shortcuts equal the numpy calls they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from zeus_gym.agents.permutation import PermutationDraws
from zeus_gym.agents.thompson import GaussianThompson, short_sum_and_variance, sum_and_variance

rewards = st.lists(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(rewards)
def test_sum_and_variance_equal_numpy(values):
    array = np.array(values)
    assert sum_and_variance(array.copy()) == (np.add.reduce(array), np.var(array))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_short_sum_and_variance_equal_numpy(values):
    array = np.array(values)
    assert short_sum_and_variance(values) == (np.add.reduce(array), np.var(array))


@settings(max_examples=100, deadline=None)
@given(st.lists(rewards, min_size=2, max_size=6), st.integers(0, 2**32 - 1), st.floats(0, 10), st.floats(-5, 5))
def test_thompson_draws_equal_numpy_normal(per_arm, seed, prior_precision, prior_mean):
    """Predictions equal the textbook `rng.normal(mean, sqrt(1 / precision))` on the same stream."""
    arms = [2**i for i in range(len(per_arm))]
    bandit = GaussianThompson(arms, prior_mean=prior_mean, prior_precision=prior_precision, seed=seed)
    for arm, values in zip(arms, per_arm):
        array = np.array(values)
        variance = np.var(array)
        with np.errstate(over="ignore"):  # a tiny variance's precision may overflow to inf
            bandit.fit(arm, array, np.inf if variance == 0.0 else np.reciprocal(variance))
    shadow = np.random.default_rng(seed)
    for _ in range(5):
        order = shadow.choice(np.array(arms), len(arms), replace=False)
        explore = [int(arm) for arm in order if bandit.count[arms.index(int(arm))] < 2]
        with np.errstate(all="ignore"):
            expected = explore[0] if explore else arms[int(np.argmax(shadow.normal(bandit.mean, np.sqrt(np.reciprocal(bandit.precision)))))]
        assert bandit.predict() == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2**20), min_size=1, max_size=40, unique=True), st.integers(0, 2**32 - 1))
def test_an_index_permutation_draws_the_arm_permutation(arms, seed):
    """`predict` draws `choice(n, n)` and indexes the arms: the permutation, and the stream after it,
    of the reference's `choice(arms, n)`."""
    ours, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    for _ in range(3):
        order = [arms[i] for i in ours.choice(len(arms), len(arms), replace=False).tolist()]
        assert order == reference.choice(np.array(arms), len(arms), replace=False).tolist()
    assert ours.random() == reference.random()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**63), st.lists(st.tuples(st.integers(0, 40), st.booleans()), min_size=1, max_size=8))
def test_permutations_from_raw_draws_equal_choice(seed, sizes):
    """`PermutationDraws` gives `choice(n, n)`'s permutations, or with `skip` only advances the
    stream, as `choice` leaves it: the normal draws between them and the 32-bit draws after them
    (which would read a buffered half) are equal too."""
    drawn, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    draws = PermutationDraws(drawn)
    for n, made in sizes:
        expected = reference.choice(n, n, replace=False).tolist()
        if made:
            assert draws(n) == expected
        else:
            assert draws.skip(n) is None
        assert drawn.standard_normal(2).tolist() == reference.standard_normal(2).tolist()
    assert draws.fast  # no word was near a rejection: numpy's choice never ran
    assert drawn.integers(0, 2**32, size=3).tolist() == reference.integers(0, 2**32, size=3).tolist()
    assert drawn.bit_generator.state["state"] == reference.bit_generator.state["state"]


# PCG64 as numpy steps it: state = state * multiplier + increment (mod 2**128), then the output
# is the XOR of the state's halves rotated right by its top 6 bits.
_MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341
_MASK_64, _MASK_128 = 2**64 - 1, 2**128 - 1


def _output(state: int) -> int:
    value, rotation = ((state >> 64) ^ state) & _MASK_64, state >> 122
    return ((value >> rotation) | (value << (64 - rotation))) & _MASK_64


def _generator_whose_next_draw_is(output: int, increment: int, after_draws: int = 0) -> np.random.Generator:
    """A default_rng whose raw 64-bit draw after `after_draws` others is `output` (a state solved for it)."""
    high = 0x5DEECE66D << 20  # any high half; its top 6 bits set the rotation
    rotation = high >> 58
    value = ((output << rotation) | (output >> (64 - rotation))) & _MASK_64 if rotation else output
    after = (high << 64) | (high ^ value)
    before = after
    for _ in range(after_draws + 1):
        before = ((before - increment) * pow(_MULTIPLIER, -1, 2**128)) & _MASK_128
    rng = np.random.default_rng()
    rng.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": before, "inc": increment}, "has_uint32": 0, "uinteger": 0}
    return rng


def test_the_pcg64_model_matches_numpy():
    """The model the next two tests solve states with is numpy's PCG64."""
    rng = np.random.default_rng(7)
    state = rng.bit_generator.state["state"]
    stepped = (state["state"] * _MULTIPLIER + state["inc"]) & _MASK_128
    assert rng.bit_generator.random_raw() == _output(stepped)
    assert _generator_whose_next_draw_is(0xDEADBEEF12345678, 2 * 12345 + 1).bit_generator.random_raw() == 0xDEADBEEF12345678
    assert _generator_whose_next_draw_is(0xDEADBEEF12345678, 2 * 12345 + 1, 2).bit_generator.random_raw(3)[2] == 0xDEADBEEF12345678


@pytest.mark.parametrize("made", [True, False], ids=["made", "skipped"])
@pytest.mark.parametrize(("output", "after_draws", "n", "rejected"), [
    (0x9E3779B9_00000000, 0, 2, False),  # low half 0: Floyd's first word is near a rejection, not rejected (range 2)
    (0x00000000_9E3779B9, 0, 3, True),  # high half 0: Floyd's second word (range 3) is rejected, one more word drawn
    (0x80000000_9E3779B9, 0, 4, False),  # high half 2**31: the check at range 3 passes, the draw goes on
    (0x9E3779B9_00000000, 1, 3, True),  # the shuffle's first word (range 3) is rejected
    (0x9E3779B9_00000000, 2, 4, True),  # n = 4: the shuffle's second word (word 5, range 3) is rejected
])
def test_a_word_near_a_rejection_goes_back_to_numpy(output, after_draws, n, rejected, made):
    """Words Lemire's method might reject: the generator is rewound and numpy's choice draws; an
    odd count of words (a real rejection) leaves a half buffered, and later permutations come from
    numpy's choice until none is. The same when the first permutation is skipped, not made."""
    increment = 2 * 987654321 + 1
    drawn, reference = (_generator_whose_next_draw_is(output, increment, after_draws) for _ in range(2))
    draws = PermutationDraws(drawn)
    for k, size in enumerate((n, 5, 3, 6, 2, 4)):
        expected = reference.choice(size, size, replace=False).tolist()
        if made or k > 0:
            assert draws(size) == expected
        else:
            draws.skip(size)
        assert drawn.standard_normal(3).tolist() == reference.standard_normal(3).tolist()
        assert drawn.bit_generator.state["has_uint32"] == reference.bit_generator.state["has_uint32"]
    assert drawn.integers(0, 2**32, size=3).tolist() == reference.integers(0, 2**32, size=3).tolist()
    first = _generator_whose_next_draw_is(output, increment, after_draws)
    first.choice(n, n, replace=False)
    assert bool(first.bit_generator.state["has_uint32"]) is rejected  # the case is the one it claims
