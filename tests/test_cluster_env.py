"""ZeusGym/ClusterTrace-v0: checkers, determinism, delayed results, retries, runs that cannot
start, the event order, group selection and errors."""

from __future__ import annotations

import math
import warnings
import zlib
from collections import Counter

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from zeus_gym.agents import RandomAgent, ZeusAgent, config_action, default_action
from zeus_gym.agents.base import BaseAgent
from zeus_gym.cluster import ClusterTraceEnv, play_group, synthesize_groups

ENV_ID = "ZeusGym/ClusterTrace-v0"


def hand_group(rows: list[tuple[float, float, float]], dataset: str = "cifar100", group: str = "hand") -> pd.DataFrame:
    """One group from (start, end, runtime_ratio) rows."""
    start, end, ratio = zip(*rows)
    return pd.DataFrame({"group": group, "start_time": start, "end_time": end, "dataset": dataset, "runtime_ratio": ratio})


# Submission 2 starts while 1 runs and ends first; 3 and 4 start after everything ended.
OVERLAP = hand_group([(0.0, 100.0, 1.0), (10.0, 50.0, 2.0), (200.0, 300.0, 0.5), (400.0, 500.0, 1.0)])


class Scripted(BaseAgent):
    """Plays (batch size, power limit or None = profile) choices in order; b0 at its top limit after."""

    def __init__(self, choices):
        self.choices = list(choices)

    def act(self, observation, info):
        if self.choices:
            return config_action(self.job_info, *self.choices.pop(0))
        return default_action(self.job_info)


def play(env, agent, **reset):
    """(reset info, [(observation, reward, terminated, info) per step]) of one episode."""
    observation, info = env.reset(**reset)
    agent.reset(info, 0)
    first, steps, done = info, [], False
    while not done:
        action = agent.act(observation, info)
        observation, reward, done, truncated, info = env.step(action)
        assert not truncated
        steps.append((observation, reward, done, info))
    return first, steps


def top_limit(env) -> int:
    info = env.unwrapped.job_info
    return info["power_limits"][default_action(info)[1]]


# -- API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [dict(groups=synthesize_groups(12, seed=1), gpu="a40"),
                                    dict(groups=OVERLAP, gpu="p100", beta_knob=math.inf),
                                    dict(groups="synthetic", synthetic_groups=30, gpu="rtx6000", reference_seeding=True)])
def test_checkers_pass_without_warnings(zeus_trace_dir, kwargs):
    env = gym.make(ENV_ID, trace_dir=zeus_trace_dir, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
        sb3_check_env(env.unwrapped)


def rollout(env, seed: int, episodes: int) -> list:
    env.action_space.seed(seed)
    data = [env.reset(seed=seed)]
    for _ in range(episodes):
        done = False
        while not done:
            data.append(env.step(env.action_space.sample()))
            done = data[-1][2]
        data.append(env.reset())
    return data


def test_same_seed_same_rollout_and_reference_seeding(zeus_trace_dir):
    groups = synthesize_groups(20, seed=4)
    make = lambda **kw: gym.make(ENV_ID, groups=groups, gpu="v100", trace_dir=zeus_trace_dir, **kw)  # noqa: E731
    assert data_equivalence(rollout(make(), 3, 6), rollout(make(), 3, 6), exact=True)
    assert not data_equivalence(rollout(make(), 3, 6), rollout(make(), 4, 6), exact=True)
    # With reference seeding the runs of a group depend on its id only, not on the reset seed.
    env = make(reference_seeding=True)
    first = play_group(env, ZeusAgent(concurrency=True), "syn4-00003", seed=1)
    again = play_group(env, ZeusAgent(concurrency=True), "syn4-00003", seed=99)
    assert first.runs == again.runs and first.job_info["group_seed"] == zlib.adler32(b"syn4-00003")


def test_groups_by_id_index_option_or_drawn(zeus_trace_dir):
    groups = synthesize_groups(30, seed=2)
    env = ClusterTraceEnv(groups, gpu="a40", group="syn2-00007", trace_dir=zeus_trace_dir)
    assert env.reset(seed=0)[1]["group"] == "syn2-00007"
    assert env.reset(options={"group": 3})[1]["group"] == "syn2-00003"
    env = ClusterTraceEnv(groups, gpu="a40", trace_dir=zeus_trace_dir)
    drawn = {env.reset(seed=s)[1]["group"] for s in range(40)}
    assert len(drawn) > 15
    info = env.reset(options={"group": "syn2-00011"})[1]
    rows = groups[groups["group"] == "syn2-00011"]
    assert (info["dataset"], info["submissions"], info["num_recurrences"]) == (rows["dataset"].iat[0], len(rows), len(rows))
    assert info["concurrent_submissions"] and info["finished"] == [] and info["in_flight"] == 0 and info["time"] == rows["start_time"].iat[0]
    with pytest.raises(ValueError, match="no group 'nope'"):
        env.reset(options={"group": "nope"})
    with pytest.raises(ValueError, match="out of range"):
        ClusterTraceEnv(groups, gpu="a40", group=30, trace_dir=zeus_trace_dir)


def test_errors(zeus_trace_dir):
    env = ClusterTraceEnv(OVERLAP, gpu="v100", trace_dir=zeus_trace_dir)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.array([0, 0]))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.array([99, 0]))
    with pytest.raises(ValueError, match="2 integers"):
        env.step(np.array([0.5, 1.0]))
    while not env.step(default_action(env.job_info))[2]:
        pass
    with pytest.raises(gym.error.ResetNeeded, match="terminated"):
        env.step(default_action(env.job_info))
    with pytest.raises(ValueError, match="concurrency=True"):
        play_group(env, ZeusAgent())
    with pytest.raises(ValueError, match="not datasets"):
        ClusterTraceEnv(OVERLAP, gpu="v100", workloads={"mnist": "squad"}, trace_dir=zeus_trace_dir)
    with pytest.raises(ValueError, match="one GPU name"):
        ClusterTraceEnv(OVERLAP, gpu="all", trace_dir=zeus_trace_dir)
    with pytest.raises(ValueError, match="max_retries"):
        ClusterTraceEnv(OVERLAP, gpu="v100", max_retries=-1, trace_dir=zeus_trace_dir)


# -- semantics -----------------------------------------------------------------------------------


def test_a_decision_made_while_a_run_is_in_flight_does_not_see_its_outcome(zeus_trace_dir):
    env = ClusterTraceEnv(OVERLAP, gpu="v100", trace_dir=zeus_trace_dir)
    b0, top = env.job_info["b0"], top_limit(env)
    start, steps = play(env, Scripted([(b0, top)] * 4), seed=0)
    first_obs, _, _, second = steps[0]
    # Decision 2 (t = 10) comes while submission 1 runs: its outcome, already simulated, is hidden.
    assert (second["time"], second["in_flight"], second["submission"], second["retry"]) == (10.0, 1, 2, False)
    assert second["finished"] == [] and second["min_cost"] == math.inf and steps[0][1] == 0.0
    assert first_obs["in_flight"][0] == np.float32(1 / 4)
    for key in ("tries", "mean_cost", "reach_rate", "finished", "threshold"):
        assert not first_obs[key].any(), key
    # Submission 2 (ratio 2) ends at 50, before 1 (at 100): both are revealed at decision 3 (t = 200), in end order.
    obs, reward, done, third = steps[1]
    run2, run1 = third["finished"]
    assert (run2["submission"], run2["end_time"], run1["submission"], run1["end_time"]) == (2, 50.0, 1, 100.0)
    assert (third["time"], third["in_flight"], done) == (200.0, 0, False)
    assert run1["reached"] and run2["reached"]
    params = env.params
    b, p = run1["batch_index"], run1["power_index"]
    for run in (run1, run2):
        raw_energy, raw_time = params.energy_per_epoch[0, b, p] * run["epochs"], params.time_per_epoch[0, b, p] * run["epochs"]
        assert run["energy"] == raw_energy * run["runtime_ratio"] and run["time"] == raw_time * run["runtime_ratio"]
        assert run["cost"] == 0.5 * raw_energy + 0.5 * params.max_power[0] * raw_time  # not scaled
        assert run["scaled_cost"] == 0.5 * run["energy"] + 0.5 * params.max_power[0] * run["time"]
    assert reward == -(run2["scaled_cost"] + run1["scaled_cost"]) / params.default_cost[0]
    # min_cost: the cheapest single run that reached the target, not scaled.
    assert third["min_cost"] == min(run1["cost"], run2["cost"]) and third["threshold"] == 2.0 * third["min_cost"]
    assert obs["tries"].sum() == np.float32(2 / 4) and obs["finished"][0] == np.float32(2 / 4)
    # The last step settles every run still in flight.
    assert steps[-1][2] and steps[-1][3]["in_flight"] == 0 and [r["submission"] for r in steps[-1][3]["finished"]] == [4]
    assert start["submission"] == 1 and len(steps) == 4


def test_a_run_that_misses_is_retried_at_its_end_for_the_same_duration(zeus_trace_dir):
    env = ClusterTraceEnv(OVERLAP, gpu="v100", trace_dir=zeus_trace_dir)
    b0, top = env.job_info["b0"], top_limit(env)
    never = 2048  # cifar100 at batch size 2048 never reaches the target on the V100
    _, steps = play(env, Scripted([(never, top), (b0, top)]), seed=0)
    retry = steps[1][3]
    # Submission 2 (b0, in flight at t = 10) ends at 50 and reaches; 1 misses at 100: its retry is next.
    assert [(r["submission"], r["reached"]) for r in retry["finished"]] == [(2, True), (1, False)]
    assert (retry["time"], retry["retry"], retry["attempt"], retry["submission"], retry["in_flight"]) == (100.0, True, 2, 1, 0)
    assert steps[1][0]["retry"][0] == 1.0
    assert retry["threshold"] == 2.0 * retry["finished"][0]["cost"]
    # The retry (ratio and duration of its run: 100 -> 200) ends by 200, so it is reaped before submission 3.
    after = steps[2][3]
    (done,) = after["finished"]
    assert (done["submission"], done["attempt"], done["start_time"], done["end_time"], done["runtime_ratio"]) == (1, 2, 100.0, 200.0, 1.0)
    assert after["time"] == 200.0 and after["submission"] == 3


def test_runs_that_cannot_start_hold_their_slot_and_max_retries_ends_the_chain(zeus_trace_dir):
    sequential = hand_group([(0.0, 100.0, 1.0), (200.0, 300.0, 1.0)], dataset="squad")
    env = ClusterTraceEnv(sequential, gpu="a40", beta_knob=0.01, max_retries=1, trace_dir=zeus_trace_dir)
    _, steps = play(env, Scripted([]), seed=0)
    assert len(steps) == 3  # submission 1, submission 2, its one retry
    stuck = steps[1][3]["finished"][0]
    assert (stuck["ran"], stuck["reached"], stuck["energy"], stuck["time"], stuck["cost"], stuck["epochs"]) == (False, False, 0.0, 0.0, 0.0, 0)
    assert stuck["end_time"] == 300.0 and steps[1][3]["retry"] and steps[1][1] == 0.0
    last = steps[2][3]["finished"][0]
    assert (last["attempt"], last["start_time"], last["end_time"], last["abandoned"], last["ran"]) == (2, 300.0, 400.0, True, False)
    assert steps[2][2] and not stuck["abandoned"]
    env = ClusterTraceEnv(sequential, gpu="a40", beta_knob=0.01, max_retries=0, trace_dir=zeus_trace_dir)
    assert len(play(env, Scripted([]), seed=0)[1]) == 2


def test_event_order_and_bookkeeping_hold_on_random_play(zeus_trace_dir):
    """Invariants over many random episodes: every trace row runs once, runs are revealed in end
    order and never before they end, retries follow misses, and the rewards add up."""
    groups = synthesize_groups(40, seed=9)
    env = ClusterTraceEnv(groups, gpu="rtx6000", beta_knob=1.5, max_retries=30, trace_dir=zeus_trace_dir)
    counts = Counter()
    for group in env.groups.ids:
        rows = groups[groups["group"] == group]
        start, steps = play(env, RandomAgent(), options={"group": group}, seed=1)
        infos = [start] + [s[3] for s in steps]
        revealed = [run for info in infos for run in info["finished"]]
        assert [r["end_time"] for r in revealed] == sorted(r["end_time"] for r in revealed)
        firsts = [(r["start_time"], r["end_time"], r["runtime_ratio"]) for r in revealed if r["attempt"] == 1]
        assert sorted(firsts) == sorted(zip(rows["start_time"], rows["end_time"], rows["runtime_ratio"]))
        submitted = 0
        for k, (observation, reward, done, info) in enumerate(steps):
            assert env.observation_space.contains(observation)
            submitted += 1
            # Revealed runs ended by the next decision, and at or after the decision before it.
            for run in info["finished"]:
                assert infos[k]["time"] <= run["end_time"] <= info["time"]
            assert reward == -sum(r["scaled_cost"] for r in info["finished"]) / info["default_cost"]
            counts["in_flight"] += info["in_flight"] > 0
            seen = sum(len(i["finished"]) for i in infos[: k + 2])
            assert info["in_flight"] == submitted - seen
            missed = [r for r in info["finished"] if not r["reached"] and not r["abandoned"]]
            if missed:  # a miss is the last run revealed before its retry
                counts["retries"] += 1
                assert info["finished"][-1] is missed[-1] and info["retry"] and info["time"] == missed[-1]["end_time"]
                retry = next(r for r in revealed if (r["submission"], r["attempt"]) == (missed[-1]["submission"], missed[-1]["attempt"] + 1))
                assert (retry["start_time"], retry["end_time"]) == (missed[-1]["end_time"], 2 * missed[-1]["end_time"] - missed[-1]["start_time"])
            reached = [r["cost"] for i in infos[: k + 2] for r in i["finished"] if r["reached"]]
            assert info["min_cost"] == min(reached, default=math.inf)
        assert steps[-1][2] and steps[-1][3]["in_flight"] == 0 and len(revealed) == len(steps)
    assert counts["in_flight"] > 50 and counts["retries"] > 20, counts


def test_default_random_and_oracle_agents_play_groups(zeus_trace_dir):
    from zeus_gym.agents import DefaultAgent, OracleAgent

    env = gym.make(ENV_ID, groups=synthesize_groups(6, seed=0), gpu="v100", reference_seeding=True, trace_dir=zeus_trace_dir)
    for agent in (DefaultAgent(), RandomAgent(), OracleAgent(env), ZeusAgent(concurrency=True)):
        for group in range(6):
            episode = play_group(env, agent, group)
            summary = episode.summary
            assert summary.runs + summary.not_started == len(episode.runs) >= summary.submissions
            assert summary.cost == math.fsum(r["scaled_cost"] for r in episode.runs) > 0
    default = play_group(env, DefaultAgent(), 0)
    b0 = env.unwrapped.job_info["b0"]
    assert {line["batch_size"] for line in default.history_lines()} == {b0}
