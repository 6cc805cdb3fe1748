"""run_episode: one record per step, totals that add up, history lines, fallback runs, JSON Lines."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest

import zeus_gym  # noqa: F401
from zeus_gym.agents import BaseAgent, DefaultAgent, ZeusAgent, top_limit_index
from zeus_gym.runner import HISTORY_KEYS, StepRecord, format_summary, run_episode

ENV_ID = "ZeusGym/RecurringJob-v0"


def test_history_and_summary_add_up(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="imagenet", gpu="a40", num_recurrences=25, beta_knob=1.2)
    episode = run_episode(env, ZeusAgent(), seed=4)
    history, summary = episode.history, episode.summary
    assert summary.steps == len(history) and summary.recurrences == 25
    assert [step.recurrence for step in history] == sorted(step.recurrence for step in history)
    assert all(step.attempt == 1 for i, step in enumerate(history) if i == 0 or history[i - 1].reached or history[i - 1].fallback)
    assert summary.energy == pytest.approx(sum(step.energy + step.fallback_energy for step in history), rel=1e-12)
    assert summary.cost == pytest.approx(sum(step.step_cost for step in history), rel=1e-12)
    assert summary.vs_default == summary.cost / (25 * env.unwrapped.job_info["default_cost"])
    assert summary.vs_oracle == summary.cost / (25 * summary.oracle_cost)
    assert summary.oracle_cost <= env.unwrapped.job_info["default_cost"]
    lines = episode.history_lines()
    assert len(lines) == sum(step.ran for step in history) == summary.runs
    assert all(list(line) == list(HISTORY_KEYS) for line in lines)
    text = format_summary(summary)
    for word in ("ZeusAgent", "imagenet", "a40", "energy", "vs Default", "vs Oracle"):
        assert word in text


def test_fallback_is_a_history_line_and_runs_that_did_not_start_are_not(zeus_trace_dir):
    """With a tiny beta no run after the first can afford an epoch: after max_retries attempts
    the env finishes the recurrence with b0 at its top limit, which is a run of the history."""
    env = gym.make(ENV_ID, workload="librispeech", gpu="v100", beta_knob=1e-3, max_retries=2, num_recurrences=2)
    episode = run_episode(env, DefaultAgent(), seed=0)
    steps = episode.history
    assert [(s.recurrence, s.attempt, s.ran, s.fallback) for s in steps] == [(1, 1, True, False), (2, 1, False, False), (2, 2, False, True)]
    info = env.unwrapped.job_info
    top = info["power_limits"][top_limit_index(info, info["b0_index"])]
    lines = episode.history_lines()
    assert [(line["recurrence"], line["attempt"], line["batch_size"], line["power_limit"], line["reached"]) for line in lines] == [
        (1, 1, info["b0"], top, True), (2, 3, info["b0"], top, True)]
    assert (lines[1]["energy"], lines[1]["time"], lines[1]["cost"]) == (steps[2].fallback_energy, steps[2].fallback_time, steps[2].fallback_cost)
    assert episode.summary.not_started == 2 and episode.summary.fallbacks == 1 and episode.summary.runs == 2


def test_write_history_is_json_lines_with_repr_exact_floats(zeus_trace_dir, tmp_path):
    env = gym.make(ENV_ID, workload="squad", gpu="p100", num_recurrences=15)
    episode = run_episode(env, ZeusAgent(), seed=2)
    path = tmp_path / "h.jsonl"
    assert episode.write_history(path) == len(episode.history_lines())
    text = path.read_text().splitlines()
    parsed = [json.loads(line) for line in text]
    assert parsed == episode.history_lines()
    for line, record in zip(text, parsed):
        assert list(record) == list(HISTORY_KEYS)
        for key in ("energy", "time", "cost"):
            assert f'"{key}": {record[key]!r}' in line  # the shortest repr, parsed back to the same bits


def test_max_steps_stops_the_episode_early(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="squad", gpu="p100")
    episode = run_episode(env, ZeusAgent(), seed=1, max_steps=5)
    assert episode.summary.steps == 5 and episode.summary.recurrences <= 5


class Recorder(BaseAgent):
    """Checks the calls the runner makes."""

    def reset(self, job_info, seed):
        super().reset(job_info, seed)
        self.calls = [("reset", seed)]
        self.last_info = job_info

    def act(self, observation, info):
        assert info is self.last_info  # job_info first, then the last step's info
        assert set(observation) >= {"progress", "attempt", "threshold"}
        self.calls.append("act")
        return np.array([self.job_info["b0_index"], self.job_info["profile_action"]])

    def observe(self, action, observation, reward, terminated, truncated, info):
        assert list(action) == [self.job_info["b0_index"], self.job_info["profile_action"]]
        assert reward == -info["step_cost"] / info["default_cost"]
        self.calls.append("observe")
        self.last_info = info


def test_runner_drives_the_protocol(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="sentiment140", gpu="v100", num_recurrences=3, beta_knob=math.inf)
    agent = Recorder()
    episode = run_episode(env, agent, seed=11)
    assert agent.calls[0] == ("reset", 11)
    assert agent.calls[1:] == ["act", "observe"] * episode.summary.steps
    assert agent.job_info["batch_sizes"] == env.unwrapped.job_info["batch_sizes"]
    assert isinstance(episode.history[0], StepRecord) and episode.history[0].profiled
