"""Baselines: Default costs what the env says it should, the Oracle's choice equals a brute-force
search of the raw traces, grid search tries everything once, random play is seeded and playable."""

from __future__ import annotations

import dataclasses
import itertools
import math

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest

import zeus_gym
from zeus_gym.agents import (
    Agent, DefaultAgent, GridSearchAgent, OracleAgent, RandomAgent, ZeusAgent, expected_costs, top_limit_index,
)
from zeus_gym.runner import run_episode

ENV_ID = "ZeusGym/RecurringJob-v2"
GPUS = ("a40", "p100", "rtx6000", "v100")
# b0 misses the target on some paths: recurrences need retries (Default's cost is E[run] / P(reach)).
RETRYING = dataclasses.replace(zeus_gym.WORKLOADS["cifar100"], max_epochs=42, cap_b0=False, b0=512)


def recurrence_costs(env: gym.Env, agent: Agent, seeds: range) -> np.ndarray:
    """The cost of every recurrence of one episode per seed."""
    costs = []
    for seed in seeds:
        episode = run_episode(env, agent, seed=seed)
        total = 0.0
        for step in episode.history:
            total += step.step_cost
            if step.reached or step.fallback:
                costs.append(total)
                total = 0.0
    return np.array(costs)


@pytest.mark.parametrize("workload, gpu", [*zip(zeus_gym.WORKLOADS, itertools.cycle(GPUS)), pytest.param(RETRYING, "v100", id="cifar100-retrying-v100")])
def test_default_mean_cost_is_the_expected_default_cost(zeus_trace_dir, workload, gpu):
    """Without early stopping (beta inf) Default's recurrences are i.i.d. with mean default_cost."""
    env = gym.make(ENV_ID, workload=workload, gpu=gpu, beta_knob=math.inf, num_recurrences=400)
    costs = recurrence_costs(env, DefaultAgent(), range(4))
    expected = env.unwrapped.job_info["default_cost"]
    standard_error = costs.std(ddof=1) / math.sqrt(len(costs))
    assert abs(costs.mean() - expected) <= 4.5 * standard_error + 1e-12 * expected
    if workload is RETRYING:  # the case is meant to retry
        assert run_episode(env, DefaultAgent(), seed=0).summary.steps > 400


def brute_force_oracle(trace_dir, spec: zeus_gym.JobSpec, gpu: str, eta: float) -> tuple[int, int, float]:
    """(batch size, power limit, mean cost) of the cheapest configuration whose every training
    run reaches the target, searched in the raw CSVs with pandas."""
    train = pd.read_csv(trace_dir / "summary_train.csv")
    power = pd.read_csv(trace_dir / f"summary_power_{gpu}.csv")
    keys = ["dataset", "network", "batch_size", "optimizer"]
    max_power = power.merge(train[keys].drop_duplicates(), on=keys).power_limit.max()
    runs = train[
        (train.dataset == spec.dataset) & (train.network == spec.network)
        & (train.optimizer == spec.optimizer) & (train.target_metric == spec.target_metric)
    ].merge(power, on=keys)
    best = None
    for (batch_size, limit), group in runs.groupby(["batch_size", "power_limit"]):
        epochs = group.target_epoch
        if epochs.isna().any() or (epochs > spec.max_epochs).any():
            continue
        time = group.time_per_epoch * epochs
        cost = (eta * time * group.average_power + (1 - eta) * max_power * time).mean()
        if best is None or cost < best[2]:
            best = (int(batch_size), int(limit), float(cost))
    return best


@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_oracle_choice_equals_brute_force_search(zeus_trace_dir, eta):
    for workload, gpu in itertools.product(zeus_gym.WORKLOADS, GPUS):
        env = gym.make(ENV_ID, workload=workload, gpu=gpu, eta_knob=eta)
        agent = OracleAgent(env)
        _, info = env.reset(seed=0)
        agent.reset(info, 0)
        b, p = agent.act({}, info)
        batch_size, limit, cost = brute_force_oracle(zeus_trace_dir, env.unwrapped.job_info["workload"], gpu, eta)
        assert (info["batch_sizes"][b], info["power_limits"][p]) == (batch_size, limit), (workload, gpu)
        assert agent.choice[2] == pytest.approx(cost, rel=1e-12)


def test_expected_costs_agree_with_the_env_and_the_oracle_is_what_it_costs(zeus_trace_dir):
    env = gym.make(ENV_ID, workload=RETRYING, gpu="a40", beta_knob=math.inf, num_recurrences=300)
    job, info = env.unwrapped.params.jobs[0], env.unwrapped.job_info
    cost, always = expected_costs(job, 0.5)
    b0 = info["b0_index"]
    assert cost[b0, top_limit_index(info, b0)] == pytest.approx(info["default_cost"], rel=1e-12)
    assert not always[b0].any() and always.any()
    assert np.isinf(cost[~job.feasible]).all()
    agent = OracleAgent(env)
    costs = recurrence_costs(env, agent, range(3))
    assert abs(costs.mean() - agent.choice[2]) <= 4.5 * costs.std(ddof=1) / math.sqrt(len(costs)) + 1e-12 * agent.choice[2]


def test_grid_search_tries_each_configuration_once_then_exploits_the_cheapest(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="movielens-1m", gpu="rtx6000", beta_knob=math.inf)
    agent = GridSearchAgent()
    episode = run_episode(env, agent, seed=3)
    info = env.unwrapped.job_info
    measured = [(info["batch_sizes"][b], info["power_limits"][p]) for b, p in np.argwhere(info["playable"][:, :-1])]
    tried = [(step.batch_size, step.power_limit) for step in episode.history]
    first = (info["b0"], max(limit for b, limit in measured if b == info["b0"]))
    assert tried[0] == first  # b0 at its top limit sets the early-stopping threshold
    assert tried[: len(measured)] == [first] + [config for config in measured if config != first]
    reached = [(step.step_cost, config) for step, config in zip(episode.history, tried) if step.reached]
    best = min(reached[: sum(1 for step in episode.history[: len(measured)] if step.reached)])[1]
    assert set(tried[len(measured):]) == {best}


def test_random_agent_is_seeded_and_plays_every_playable_action(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="movielens-1m", gpu="rtx6000", num_recurrences=300)
    playable = env.unwrapped.job_info["playable"]

    def actions(seed: int) -> list[tuple[int, int]]:
        agent = RandomAgent()
        agent.reset(env.unwrapped.job_info, seed)
        return [tuple(agent.act({}, {})) for _ in range(3000)]

    first = actions(5)
    assert first == actions(5) and first != actions(6)
    assert set(first) == {tuple(a) for a in np.argwhere(playable)}  # profiling included
    assert run_episode(env, RandomAgent(), seed=1).summary.recurrences == 300


@pytest.mark.parametrize("workload, gpu", [("movielens-1m", "rtx6000"), ("squad", "a40")])
def test_built_in_agents_follow_the_protocol_and_finish_episodes(zeus_trace_dir, workload, gpu):
    env = gym.make(ENV_ID, workload=workload, gpu=gpu, num_recurrences=12)
    for agent in (ZeusAgent(), DefaultAgent(), OracleAgent(env), GridSearchAgent(), RandomAgent()):
        assert isinstance(agent, Agent)
        episode = run_episode(env, agent, seed=7)
        assert episode.summary.recurrences == 12
        again = run_episode(env, agent, seed=7)  # reset starts the same episode afresh
        assert (again.history, again.summary) == (episode.history, episode.summary)
