"""`zeus-gym run`: the summary, the JSON Lines history, custom agents, and one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import gymnasium as gym
import pytest
from typer.testing import CliRunner

import zeus_gym  # noqa: F401
from zeus_gym.agents import ZeusAgent
from zeus_gym.cli import app
from zeus_gym.runner import HISTORY_KEYS, run_episode

from test_agents_parity import reference_history

UCB = Path(__file__).resolve().parents[1] / "agents" / "ucb_bandit.py"


def invoke(*args: str, trace_dir: Path):
    return CliRunner().invoke(app, ["run", *args, "--trace-dir", str(trace_dir)])


def test_zeus_history_is_the_reference_history(zeus_trace_dir, tmp_path):
    path = tmp_path / "h.jsonl"
    result = invoke("--agent", "zeus", "--workload", "librispeech", "--gpu", "v100", "--seed", "1", "--history", str(path), trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    for text in ("ZeusAgent on librispeech/deepspeech2/adamw@40.0, v100", "vs Default", "vs Oracle", f"{path} (211 runs)"):
        assert text in result.output
    lines = path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert all(list(record) == list(HISTORY_KEYS) for record in records)
    for line, record in zip(lines, records):
        for key in ("energy", "time", "cost"):
            assert f'"{key}": {record[key]!r}' in line  # repr-exact: the same bits come back
    env = gym.make("ZeusGym/RecurringJob-v2", workload="librispeech", gpu="v100")
    assert records == run_episode(env, ZeusAgent(), seed=1).history_lines()
    expected, gave_up = reference_history(zeus_trace_dir, ("librispeech", "v100", 0.5, 2.0, None, 1))
    assert not gave_up
    assert [(r["batch_size"], r["power_limit"], r["energy"], r["time"], r["reached"]) for r in records] == list(expected)
    assert (records[0]["recurrence"], records[0]["attempt"]) == (1, 1)
    for before, after in zip(records, records[1:]):  # a retry, or attempt 1 of the next recurrence
        same = after["recurrence"] == before["recurrence"]
        assert (after["recurrence"], after["attempt"]) == ((before["recurrence"], before["attempt"] + 1) if same else (before["recurrence"] + 1, 1))
        assert before["reached"] != same


def test_options_reach_the_env(zeus_trace_dir, tmp_path):
    path = tmp_path / "h.jsonl"
    result = invoke("--agent", "default", "--workload", "squad", "--gpu", "a40", "--eta", "1", "--beta", "inf", "--seed", "3", "--recurrences", "7", "--history", str(path), trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    assert "DefaultAgent on squad/bert_base_uncased/adamw@84.0, a40 (eta 1.0, beta inf, seed 3)" in result.output
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["recurrence"] for r in records] == list(range(1, 8))
    energy = sum(r["energy"] for r in records)
    assert math.isclose(sum(r["cost"] for r in records), energy, rel_tol=1e-12)  # eta 1: cost is energy


def test_custom_job_and_b0(zeus_trace_dir):
    result = invoke(
        "--dataset", "librispeech", "--network", "deepspeech2", "--optimizer", "adamw", "--target-metric", "40.0",
        "--max-epochs", "16", "--b0", "96", "--recurrences", "5", trace_dir=zeus_trace_dir,
    )
    assert result.exit_code == 0, result.output
    assert "librispeech/deepspeech2/adamw@40.0, v100" in result.output
    assert invoke("--workload", "imagenet", "--b0", "128", "--recurrences", "2", trace_dir=zeus_trace_dir).exit_code == 0


def test_custom_agents_by_file_and_by_module(zeus_trace_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(UCB.parents[1])  # the repository root, as in the README
    result = invoke("--agent", "agents/ucb_bandit.py:UCBAgent", "--workload", "imagenet", "--gpu", "a40", trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    assert "UCBAgent on imagenet" in result.output
    (tmp_path / "my_agent_module.py").write_text(UCB.read_text())
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke("--agent", "my_agent_module:UCBAgent", "--recurrences", "3", trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    assert "UCBAgent on librispeech" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agent", "nope"], "error: unknown agent 'nope': use one of zeus, frugal, default, oracle, grid, random"),
        (["--agent", "agents/none.py:Agent"], "error: no agent file 'agents/none.py'"),
        (["--agent", "zeus_gym.agents:Missing"], "error: agent 'zeus_gym.agents:Missing': 'zeus_gym.agents' has no class 'Missing'"),
        (["--workload", "mnist"], "error: unknown workload 'mnist'"),
        (["--gpu", "h100"], "error: unknown gpu 'h100'"),
        (["--eta", "2"], "error: Invalid value for '--eta': Input should be less than or equal to 1"),
        (["--beta", "nan"], "error: Invalid value for '--beta': nan is not > 0"),
        (["--seed", "-1"], "error: Invalid value for '--seed': Input should be greater than or equal to 0"),
        (["--recurrences", "0"], "error: Invalid value for '--recurrences'"),
        (["--dataset", "cifar100"], "error: a custom job needs --network, --optimizer, --target-metric, --max-epochs, --b0 too"),
        (["--workload", "squad", "--dataset", "squad"], "error: give either --workload or a custom job"),
        (["--workload", "squad", "--b0", "3"], "error: default batch size b0=3 is not feasible"),
    ],
)
def test_bad_options_print_one_line(zeus_trace_dir, args, message):
    result = invoke(*args, trace_dir=zeus_trace_dir)
    assert result.exit_code == (2 if "Invalid value" in message else 1)  # click's usage errors exit 2
    assert result.output.startswith(message) and result.output.count("\n") == 1, result.output
    assert "Traceback" not in result.output


def test_default_recurrences_are_two_b_p(zeus_trace_dir):
    result = invoke("--agent", "oracle", "--workload", "sentiment140", "--gpu", "p100", trace_dir=zeus_trace_dir)
    info = gym.make("ZeusGym/RecurringJob-v2", workload="sentiment140", gpu="p100").unwrapped.job_info
    assert info["num_recurrences"] == 2 * len(info["batch_sizes"]) * len(info["power_limits"])
    assert f"recurrences  {info['num_recurrences']} in" in result.output
