"""FrugalAgent: its climb and its refusals on a hand-made trace, playable actions on every job,
seeded repeatability, selection by name, and its aims on the default benchmark.

Toy GPU (MAXPOWER 200 W), eta 0.5, so an epoch at a limit costs 0.5 J + 100 s; one training path
per batch size (epochs to target are exact):

| batch | 100 W: s, W -> epoch cost | 200 W: s, W -> epoch cost | epochs | best run cost |
|-------|---------------------------|---------------------------|--------|---------------|
| 8     | 10, 90 -> 1450            | 8, 150 -> 1400            | 5      | 7000          |
| 16    | 4, 90 -> 580              | 3.5, 160 -> 630           | 5      | 2900          |
| 32    | 6, 95 -> 885              | 4, 180 -> 760             | 5      | 3800 (= Default, b0) |
| 64    | 5, 95 -> 737.5            | 3, 190 -> 585             | 10     | 5850          |

With max_epochs 8, b0 = 32 needs 5 of them: little room for larger batch sizes, so the climb goes
down first. The right exploration from there: 16 is cheaper, so go on down; 8 is dearer than 16,
so stop there; 32 is dearer than 16, so the climb never goes up to 64. With early stopping (beta 2)
a run of 8 stops after 4 epochs (threshold 2 x 2925 = 5850, 4 x 1400 < 5850 < 5 x 1400) and is
retried. With max_epochs 20 (5 of 20: room to grow) it tries 64 first, then goes down as before.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import zeus_gym  # noqa: F401  (registers the env)
from zeus_gym import WORKLOADS, JobSpec
from zeus_gym.agents import AGENTS, FrugalAgent, load_agent
from zeus_gym.benchmark.grid import DEFAULT_AGENTS
from zeus_gym.cli import app
from zeus_gym.runner import run_episode

ENV_ID = "ZeusGym/RecurringJob-v2"
TRAIN = """dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch
toy,net,8,sgd,0.1,1,0.5,5
toy,net,16,sgd,0.1,1,0.5,5
toy,net,32,sgd,0.1,1,0.5,5
toy,net,64,sgd,0.1,1,0.5,10
"""
POWER = """dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power
toy,net,8,sgd,100,10,90
toy,net,8,sgd,200,8,150
toy,net,16,sgd,100,4,90
toy,net,16,sgd,200,3.5,160
toy,net,32,sgd,100,6,95
toy,net,32,sgd,200,4,180
toy,net,64,sgd,100,5,95
toy,net,64,sgd,200,3,190
"""
SPEC = JobSpec("toy", "net", "sgd", 0.5, 8, 32)
ROOMY = JobSpec("toy", "net", "sgd", 0.5, 20, 32)
GPUS = ("a40", "p100", "rtx6000", "v100")
PAIRS = list(itertools.product(WORKLOADS, GPUS))


@pytest.fixture
def toy_env(tmp_path):
    (tmp_path / "summary_train.csv").write_text(TRAIN)
    (tmp_path / "summary_power_toy.csv").write_text(POWER)
    return lambda spec=SPEC, **kwargs: gym.make(ENV_ID, workload=spec, gpu="toy", trace_dir=tmp_path, **kwargs)


def played(episode) -> list[tuple[int, int, bool]]:
    return [(step.batch_size, step.power_limit, step.profiled) for step in episode.history]


def test_climbs_down_from_b0_stops_at_the_first_dearer_batch_size_and_exploits(toy_env):
    episode = run_episode(toy_env(num_recurrences=200), FrugalAgent(), seed=0)
    assert episode.job_info["default_cost"] == 3800.0
    steps = episode.history
    assert played(episode)[:4] == [(32, 200, True), (16, 100, True), (8, 200, True), (16, 100, False)]
    assert [step.reached for step in steps[:4]] == [True, True, False, True]
    assert (steps[2].epochs, steps[2].cost) == (4, 5625.0)  # early-stopped, then retried at 16
    assert played(episode)[4:] == [(16, 100, False)] * 197  # 64 is never tried
    assert steps[3].cost == 2900.0
    assert episode.summary.recurrences == 200


def test_climbs_up_first_when_b0_leaves_room_below_max_epochs(toy_env):
    episode = run_episode(toy_env(ROOMY, num_recurrences=200), FrugalAgent(), seed=0)
    assert played(episode)[:5] == [(32, 200, True), (64, 200, True), (16, 100, True), (8, 200, True), (16, 100, False)]
    # The profiling epoch costs the mean of both limits (0.5 x 522.5 J + 100 x 4 s), then 9 x 585.
    assert (episode.history[1].reached, episode.history[1].epochs, episode.history[1].cost) == (True, 10, 661.25 + 9 * 585.0)
    assert played(episode)[5:] == [(16, 100, False)] * 196
    assert run_episode(toy_env(ROOMY, num_recurrences=200), FrugalAgent(grow_below=0.2), seed=0).history[1].batch_size == 16


def test_refuses_a_trial_the_episode_cannot_afford(toy_env):
    """16 recurrences: a trial's worst case (the early-stopping threshold, about two Default
    runs) would push the episode more than 2 % above Default's, so b0 is all it plays."""
    episode = run_episode(toy_env(num_recurrences=16), FrugalAgent(), seed=0)
    assert played(episode) == [(32, 200, True)] + [(32, 200, False)] * 15
    assert episode.summary.vs_default == pytest.approx((3862.5 + 15 * 3800.0) / (16 * 3800.0))
    generous = run_episode(toy_env(num_recurrences=16), FrugalAgent(budget=1.5), seed=0)
    assert played(generous)[1] == (16, 100, True)


def test_without_early_stopping_the_worst_case_is_max_epochs_at_a_pessimistic_epoch_cost(toy_env):
    """beta inf, 100 recurrences: trying 16 from 32 could run 8 epochs at twice 32's epoch cost
    (2 x 760: 3.2 Default runs), more than the 2 % budget; trying 64 at most 8 x 760 (1.6 runs),
    so the climb goes up instead. 64 never reaches the target (it needs 10 epochs) and is dropped.
    With 1000 recurrences 16 is affordable and the climb goes down as with early stopping."""
    short = run_episode(toy_env(num_recurrences=100, beta_knob=float("inf")), FrugalAgent(), seed=0)
    assert played(short) == [(32, 200, True), (64, 200, True)] + [(32, 200, False)] * 99
    assert (short.history[1].reached, short.history[1].epochs, short.history[1].cost) == (False, 8, 661.25 + 7 * 585.0)
    episode = run_episode(toy_env(num_recurrences=1000, beta_knob=float("inf")), FrugalAgent(), seed=0)
    assert played(episode)[:3] == [(32, 200, True), (16, 100, True), (8, 200, True)]
    assert all(step.reached for step in episode.history)  # no early stopping: 8 reaches, at 7000
    assert Counter(played(episode)[3:]) == {(16, 100, False): 997}


def test_a_b0_that_missed_after_max_epochs_is_dropped_and_the_climb_starts_beside_it(tmp_path):
    """b0 = 32 gets a second training path that never reaches the target (Default then expects
    13 epochs per recurrence: 9880). Seed 0 draws it first: b0 misses after all 8 epochs, the
    retry profiles 16, the climb goes on to 8 (which reaches: the threshold is twice the first
    recurrence, failed run included), 8 is dearer than 16, and 16 is played from then on."""
    (tmp_path / "summary_train.csv").write_text(TRAIN.replace("toy,net,32,sgd,0.1,1,0.5,5\n", "toy,net,32,sgd,0.1,1,0.5,5\ntoy,net,32,sgd,0.1,2,0.5,\n"))
    (tmp_path / "summary_power_toy.csv").write_text(POWER)
    env = gym.make(ENV_ID, workload=SPEC, gpu="toy", trace_dir=tmp_path, num_recurrences=200)
    episode = run_episode(env, FrugalAgent(), seed=0)
    assert episode.job_info["default_cost"] == 9880.0
    assert [(step.recurrence, step.attempt, step.reached, step.epochs) for step in episode.history[:2]] == [(1, 1, False, 8), (1, 2, True, 5)]
    assert played(episode) == [(32, 200, True), (16, 100, True), (8, 200, True)] + [(16, 100, False)] * 198


def test_refuses_envs_whose_runs_overlap():
    with pytest.raises(ValueError, match="runs overlap in this env"):
        FrugalAgent().reset({"concurrent_submissions": True}, 0)


def test_options_are_checked():
    assert FrugalAgent(optimism=1, budget=1.0).options["budget"] == 1.0
    for bad in (dict(budget=-1.0), dict(optimism=float("nan")), dict(cv_prior=float("inf")), dict(caution=True)):
        with pytest.raises(ValueError, match=f"FrugalAgent option {next(iter(bad))} must be a finite number >= 0"):
            FrugalAgent(**bad)


def test_selectable_by_name_and_in_the_default_benchmark(zeus_trace_dir):
    assert isinstance(load_agent("frugal"), FrugalAgent) and "frugal" in AGENTS
    assert "frugal" in DEFAULT_AGENTS.split(",")
    result = CliRunner().invoke(app, ["run", "--agent", "frugal", "--workload", "imagenet", "--gpu", "p100", "--seed", "1", "--trace-dir", str(zeus_trace_dir)])
    assert result.exit_code == 0, result.output
    assert "FrugalAgent on imagenet" in result.output and "vs Default" in result.output


@settings(max_examples=30, deadline=None)
@given(
    pair=st.sampled_from(PAIRS + [("movielens-1m", "rtx6000")] * 6),  # rtx6000 lacks configurations
    seed=st.integers(0, 2**31 - 1),
    eta=st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]),
    beta=st.sampled_from([1.2, 1.5, 2.0, float("inf")]),
)
def test_never_plays_an_unplayable_action(zeus_trace_dir, pair, seed, eta, beta):
    env = gym.make(ENV_ID, workload=pair[0], gpu=pair[1], eta_knob=eta, beta_knob=beta, trace_dir=zeus_trace_dir)
    observation, info = env.reset(seed=seed)
    playable = info["playable"]
    agent = FrugalAgent()
    agent.reset(info, seed)
    done = False
    while not done:
        action = agent.act(observation, info)
        assert playable[action[0], action[1]], (pair, action)
        observation, reward, done, truncated, info = env.step(action)
        agent.observe(action, observation, reward, done, truncated, info)


@pytest.mark.parametrize("pair", [("squad", "v100"), ("movielens-1m", "rtx6000")])
def test_seeded_runs_repeat_exactly(zeus_trace_dir, pair):
    env = gym.make(ENV_ID, workload=pair[0], gpu=pair[1], trace_dir=zeus_trace_dir)
    agent = FrugalAgent()
    first, again = run_episode(env, agent, seed=7), run_episode(env, agent, seed=7)
    assert first.history == again.history and first.summary == again.summary
    others = [run_episode(env, FrugalAgent(), seed=seed).history for seed in range(1, 4)]
    assert any(history != first.history for history in others)  # the seed matters


def test_never_tries_imagenet_64_on_p100(zeus_trace_dir):
    """24 recurrences and 64 never reaches the target: trying it could cost two Default runs."""
    env = gym.make(ENV_ID, workload="imagenet", gpu="p100", trace_dir=zeus_trace_dir)
    for seed in range(1, 6):
        assert {step.batch_size for step in run_episode(env, FrugalAgent(), seed=seed).history} == {128}


def test_aims_on_the_default_benchmark(zeus_trace_dir):
    """24 pairs, seeds 1-5, eta 0.5, beta 2: mean cost / Default at most 0.72 and no pair above
    1.01 (Zeus: 0.737 and 4 pairs above 1.01)."""
    per_pair = {}
    for workload, gpu in PAIRS:
        env = gym.make(ENV_ID, workload=workload, gpu=gpu, trace_dir=zeus_trace_dir)
        per_pair[workload, gpu] = statistics.fmean(run_episode(env, FrugalAgent(), seed).summary.vs_default for seed in range(1, 6))
    assert statistics.fmean(per_pair.values()) <= 0.72
    assert max(per_pair.values()) <= 1.01
    assert np.isfinite(list(per_pair.values())).all()
