"""The custom-agent examples in the top-level agents/ folder load by file path and play episodes."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

import zeus_gym  # noqa: F401
from zeus_gym.agents import Agent, load_agent
from zeus_gym.runner import run_episode

UCB = f"{Path(__file__).resolve().parents[1] / 'agents' / 'ucb_bandit.py'}:UCBAgent"


def test_ucb_example_profiles_each_batch_size_once_then_settles(zeus_trace_dir):
    env = gym.make("ZeusGym/RecurringJob-v2", workload="librispeech", gpu="a40", num_recurrences=120)
    agent = load_agent(UCB)
    assert isinstance(agent, Agent)
    episode = run_episode(env, agent, seed=3)
    history = episode.history
    info = env.unwrapped.job_info
    sizes = info["batch_sizes"]
    outwards = sorted(range(len(sizes)), key=lambda b: abs(b - info["b0_index"]))
    assert [s.batch_size for s in history if s.profiled] == [sizes[b] for b in outwards]  # b0 first, each once
    limits = {s.batch_size: s.power_limit for s in history if s.profiled}
    assert all(s.power_limit == limits[s.batch_size] for s in history)  # and its limit reused
    pulls = np.bincount([sizes.index(s.batch_size) for s in history], minlength=len(sizes))
    assert pulls.max() > len(history) / 2  # most runs go to one arm
    assert episode.summary.recurrences == 120 and episode.summary.vs_default < 1
    again = run_episode(env, load_agent(UCB), seed=3)
    assert again.history == history
