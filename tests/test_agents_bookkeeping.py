"""The agents' bookkeeping shortcuts equal the numpy calls they replace, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from zeus_gym.agents.thompson import GaussianThompson, sum_and_variance

rewards = st.lists(st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False), min_size=1, max_size=300)


@settings(max_examples=300, deadline=None)
@given(rewards)
def test_sum_and_variance_equal_numpy(values):
    array = np.array(values)
    assert sum_and_variance(array.copy()) == (np.add.reduce(array), np.var(array))


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
