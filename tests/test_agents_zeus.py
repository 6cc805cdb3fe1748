"""The pieces of ZeusAgent against zeus==0.16.0's own classes on scripted and random feedback
(options the env parity tests leave at their defaults: window, priors, concurrency), and the
adapter loop's handling of profiles, runs that cannot start and mismatched power limits."""

from __future__ import annotations

import dataclasses
import warnings

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zeus_gym  # noqa: F401  (registers the environments)
from zeus_gym.agents import (
    JITPowerLimits, LegacyJob, PruningExplorer, ZeusAgent, ZeusBatchSizeOptimizer, ZeusOptimizerAgent,
)
from zeus_gym.runner import run_episode

optimizer = pytest.importorskip("zeus._legacy.policy.optimizer", reason="zeus==0.16.0 is a test dependency")
from zeus._legacy.job import Job  # noqa: E402

ENV_ID = "ZeusGym/RecurringJob-v2"


@st.composite
def pruning_jobs(draw: st.DrawFn) -> tuple[list[int], int, set[int]]:
    """Batch sizes, a start among them, and which of them reach the target (the start does)."""
    sizes = sorted(draw(st.sets(st.integers(1, 4096), min_size=1, max_size=9)))
    start = draw(st.sampled_from(sizes))
    reaching = {b for b in sizes if draw(st.booleans())} | {start}
    return sizes, start, reaching


@given(job=pruning_jobs(), data=st.data())
def test_pruning_hands_out_what_zeus_explores(job, data):
    sizes, start, reaching = job
    ours, theirs = PruningExplorer(sizes, start), optimizer.PruningExploreManager(sizes, start)
    while True:
        batch_size = ours.next_batch_size()
        try:
            expected = theirs.next_batch_size()
        except StopIteration as stop:
            assert batch_size is None and ours.done and ours.candidates == stop.value
            return
        assert batch_size == expected
        cost = data.draw(st.sampled_from([1.0, 2.0, 3.0, 5.0]))  # ties included
        ours.report(batch_size, cost, batch_size in reaching)
        theirs.report_batch_size_result(batch_size, cost, batch_size in reaching)


def test_pruning_order_on_a_hand_made_case():
    explorer = PruningExplorer([8, 16, 32, 64, 128], 32)
    outcomes = {32: (5.0, True), 16: (4.0, True), 8: (9.0, False), 64: (6.0, True), 128: (7.0, False)}
    order = []
    while (batch_size := explorer.next_batch_size()) is not None:
        order.append(batch_size)
        explorer.report(batch_size, *outcomes[batch_size])
    # Round 1 from 32: down 32, 16, 8 (miss), up 64, 128 (miss). Round 2 from 16 over [16, 32, 64].
    assert order == [32, 16, 8, 64, 128, 16, 32, 64]
    assert explorer.candidates == [16, 32, 64]


def test_pruning_rejects_out_of_order_use_and_prunes_nothing_after_an_empty_round():
    explorer = PruningExplorer([8, 16], 16)
    with pytest.raises(ValueError, match="start batch size 4"):
        PruningExplorer([8, 16], 4)
    assert explorer.next_batch_size() == 16
    with pytest.raises(RuntimeError, match="has not been reported"):
        explorer.next_batch_size()
    with pytest.raises(RuntimeError, match="expected the result of batch size 16, got 8"):
        explorer.report(8, 1.0, True)
    # A miss at the start ends the downward direction, and there is nothing above 16: the round
    # reached nothing. The reference fails there; here the next round starts over unpruned.
    explorer.report(16, 1.0, False)
    assert explorer.next_batch_size() == 16
    explorer.report(16, 1.0, False)
    assert explorer.next_batch_size() is None and explorer.candidates == [8, 16]


def legacy_job(sizes: list[int], start: int) -> tuple[Job, LegacyJob]:
    return Job("d", "n", "o", 0.5, 10, start), LegacyJob("d", "n", "o", 0.5, 10, start)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    job=pruning_jobs(),
    window_size=st.sampled_from([0, 2, 3, 5]),
    prior=st.sampled_from([(0.0, 0.0), (-3.0, 0.5), (2.0, 1e-3)]),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_batch_size_optimizer_predicts_what_zeus_predicts(job, window_size, prior, seed, data):
    """Same predictions over a long run of random costs (repeated values give zero variances;
    large ones stand for the 100 * beta * min_cost of runs that could not start)."""
    sizes, start, reaching = job
    options = dict(window_size=window_size, prior_mean=prior[0], prior_precision=prior[1], seed=seed)
    theirs = optimizer.PruningGTSBatchSizeOptimizer(**options, verbose=False)
    ours = ZeusBatchSizeOptimizer(**options)
    zeus_job, our_job = legacy_job(sizes, start)
    theirs.register_job(zeus_job, sizes)
    ours.register_job(our_job, sizes)
    costs = st.sampled_from([1.0, 1.0, 2.5, 3.0, 4.25, 400.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # zeus divides by a zero variance
        for _ in range(40):
            batch_size = ours.predict(our_job)
            assert batch_size == theirs.predict(zeus_job)
            # Misses are fixed per batch size while pruning (else a round may reach nothing, where
            # the reference fails), random afterwards.
            pruning = ours.bandit is None
            cost, reached = data.draw(costs), batch_size in reaching or (not pruning and data.draw(st.booleans()))
            ours.observe(our_job, batch_size, cost, reached)
            theirs.observe(zeus_job, batch_size, cost, reached)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(window_size=st.sampled_from([0, 30]), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_long_arms_predict_what_zeus_predicts(window_size, seed, data):
    """Over 150 runs on 3 batch sizes the arms outgrow the fits on Python floats (24 rewards), with
    and without a window: the numpy fits, their buffers refilled as they are read, agree too."""
    sizes = [8, 16, 32]
    options = dict(window_size=window_size, seed=seed)
    theirs = optimizer.PruningGTSBatchSizeOptimizer(**options, verbose=False)
    ours = ZeusBatchSizeOptimizer(**options)
    zeus_job, our_job = legacy_job(sizes, 16)
    theirs.register_job(zeus_job, sizes)
    ours.register_job(our_job, sizes)
    costs = st.floats(1.0, 5.0, allow_nan=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(150):
            batch_size = ours.predict(our_job)
            assert batch_size == theirs.predict(zeus_job)
            cost = data.draw(costs)
            ours.observe(our_job, batch_size, cost, True)
            theirs.observe(zeus_job, batch_size, cost, True)
    # 150 runs, a few of them pruning, over at most 3 arms: one arm had at least 48 rewards, so the
    # numpy path ran, and with window_size 30 on a window that no longer starts at the first reward.
    assert max(len(rewards) for rewards in ours.rewards.values()) > 30


def test_concurrency_skips_results_out_of_the_expected_order():
    sizes = [8, 16, 32, 64]
    zeus_job, our_job = legacy_job(sizes, 32)
    theirs = optimizer.PruningGTSBatchSizeOptimizer(concurrency=True, seed=3, verbose=False)
    ours = ZeusBatchSizeOptimizer(concurrency=True, seed=3)
    strict = ZeusBatchSizeOptimizer(seed=3)
    for bso, job in ((theirs, zeus_job), (ours, our_job), (strict, our_job)):
        bso.register_job(job, sizes)
    for step in range(30):
        batch_size = ours.predict(our_job)
        assert batch_size == theirs.predict(zeus_job)
        # A concurrent run at another batch size finishes first: pruning must not take it.
        stray = sizes[(sizes.index(batch_size) + 1) % len(sizes)]
        for bso, job in ((theirs, zeus_job), (ours, our_job)):
            bso.observe(job, stray, 7.0 + step % 3, True)
            bso.observe(job, batch_size, 5.0 + step % 2, True)
    assert ours.bandit is not None and ours.history == [(b, r) for b, r in theirs.history[zeus_job]]
    strict.predict(our_job)
    with pytest.raises(RuntimeError, match="expected the result of batch size 32, got 64"):
        strict.observe(our_job, 64, 1.0, True)


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([100, 150, 200, 250]), st.sampled_from([1.0, 2.0, 3.0])), max_size=30))
def test_jit_power_limits_choose_what_zeus_chooses(observations):
    ours, theirs = JITPowerLimits(), optimizer.JITPowerLimitOptimizer(verbose=False)
    for batch_size, limit, cost in observations:
        ours.observe(None, batch_size, limit, cost)
        theirs.observe("job", batch_size, limit, cost)
    for batch_size in range(4):
        assert ours.predict(None, batch_size) == theirs.predict("job", batch_size)


def test_legacy_job_carries_zeus_job_fields_and_is_hashable():
    names = [field.name for field in dataclasses.fields(LegacyJob)]
    assert names == [field.name for field in dataclasses.fields(Job)][: len(names)]
    job = LegacyJob("d", "n", "o", 0.5, 10, 32)
    assert {job: 1}[LegacyJob("d", "n", "o", 0.5, 10, 32)] == 1


class RecordingBSO:
    """Plays the given batch sizes in turn and records what it observes."""

    def __init__(self, *batch_sizes: int) -> None:
        self.batch_sizes, self.seen = batch_sizes, []

    def register_job(self, job, batch_sizes):
        self.job = job

    def predict(self, job):
        return self.batch_sizes[len(self.seen) % len(self.batch_sizes)]

    def observe(self, job, batch_size, cost, converged=None):
        self.seen.append((batch_size, cost, converged))


def test_a_profile_counts_even_when_the_run_cannot_start(zeus_trace_dir):
    """After one recurrence a tiny beta leaves no run an affordable epoch: the env still reports
    the profile, the power limit optimizer learns it, and the batch size optimizer observes
    100 * beta * min_cost (min_cost before the step) as a run that did not converge."""
    beta = 1e-3
    env = gym.make(ENV_ID, workload="librispeech", gpu="v100", beta_knob=beta, num_recurrences=2)
    info = env.unwrapped.job_info
    b, other = info["b0_index"] - 1, info["batch_sizes"][info["b0_index"] - 1]
    agent = ZeusOptimizerAgent(RecordingBSO(info["b0"], other), JITPowerLimits())
    first, second = run_episode(env, agent, seed=1, max_steps=2).history
    assert first.ran and first.reached and second.profiled and not second.ran
    assert agent.bso.seen[1] == (other, 100 * beta * first.cost, False)
    assert agent.plo.best_limit[other] == second.power_limit
    # The profile in the info of a profiling step whose run did not start.
    env.reset(seed=1)
    env.step([info["b0_index"], 0])
    *_, step_info = env.step([b, info["profile_action"]])
    expected = env.unwrapped.params.jobs[0].profile_epoch_cost[b]
    assert step_info["profiled"] and not step_info["ran"]
    assert np.array_equal(step_info["profile_epoch_cost"][: len(expected)], np.where(np.isnan(expected), np.inf, expected))


class HighestLimit(JITPowerLimits):
    """Prefers the highest limit profiled: not what a profiling run of the env does."""

    def observe(self, job, batch_size, power_limit, cost):
        self.best_limit[batch_size] = max(power_limit, self.best_limit.get(batch_size, 0))


def test_adapter_warns_when_the_power_limit_optimizer_disagrees_with_the_profile(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="librispeech", gpu="v100", num_recurrences=1)
    info = env.unwrapped.job_info
    with pytest.warns(UserWarning, match="chose 250 W, but a profiling run uses the limit with the lowest epoch cost"):
        run_episode(env, ZeusOptimizerAgent(RecordingBSO(info["b0"]), HighestLimit()), seed=1)


def test_zeus_agent_seeds_and_options(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="imagenet", gpu="v100")

    def runs(agent, seed):
        return [(s.batch_size, s.power_limit, s.energy) for s in run_episode(env, agent, seed=seed).history]

    assert runs(ZeusAgent(), 1) == runs(ZeusAgent(), 1) != runs(ZeusAgent(), 2)
    assert runs(ZeusAgent(window_size=3), 1) != runs(ZeusAgent(), 1)
    agent = ZeusAgent(window_size=4, prior_mean=-1.0, prior_precision=1e-12, concurrency=True)
    run_episode(env, agent, seed=1)
    bso = agent.bso
    assert (bso.window_size, bso.prior_mean, bso.prior_precision, bso.concurrency) == (4, -1.0, 1e-12, True)
    assert bso.bandit is not None and set(bso.bandit.arms) <= set(env.unwrapped.job_info["batch_sizes"])
