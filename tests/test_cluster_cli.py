"""`zeus-gym cluster`, `zeus-gym traces synth-groups` and `zeus-gym traces fetch-groups` end to end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zeus_gym.agents import DefaultAgent, ZeusAgent
from zeus_gym.cli import app
from zeus_gym.cluster import ClusterTraceEnv, play_group, read_groups
from zeus_gym.cluster.run import ROW_KEYS, read_rows
from zeus_gym.cluster.synth import DATASETS
from zeus_gym.traces.registry import ALIBABA_FILE
from zeus_gym.traces.testing import serve_folder

from reliability_helpers import CLI_IN_FOREGROUND


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def group_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("groups") / "groups.csv"
    result = invoke("traces", "synth-groups", "--groups", "14", "--seed", "3", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert "14 SYNTHETIC groups" in result.output and "6 datasets" in result.output
    return path


def cluster_args(groups: Path | str, out: Path, trace_dir: Path, *extra: str) -> list[str]:
    return ["cluster", "--groups", str(groups), "--gpu", "a40", "--output", str(out), "--trace-dir", str(trace_dir), *extra]


def test_synth_groups_is_seeded_and_valid(group_file, tmp_path):
    again = tmp_path / "again.csv.xz"
    assert invoke("traces", "synth-groups", "--groups", "14", "--seed", "3", "--output", str(again)).exit_code == 0
    assert read_groups(again).equals(read_groups(group_file))
    result = invoke("traces", "synth-groups", "--groups", "0", "--output", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and "error: Invalid value for '--groups'" in result.output


def test_a_small_group_file_end_to_end(group_file, tmp_path, zeus_trace_dir):
    out, history = tmp_path / "out", tmp_path / "history"
    result = invoke(*cluster_args(group_file, out, zeus_trace_dir, "--workers", "2", "--histories", str(history)))
    assert result.exit_code == 0, result.output
    assert "14 groups played" in result.output and "0 resumed" in result.output
    for dataset in (*DATASETS, "**all**"):
        assert f"| {dataset} |" in result.output
    assert (out / "summary.md").read_text() in result.output
    rows = read_rows(out / "results.jsonl")
    env = ClusterTraceEnv(group_file, gpu="a40", reference_seeding=True, trace_dir=zeus_trace_dir)
    assert [row["group"] for row in rows] == env.groups.ids
    for row in rows:
        assert list(row) == list(ROW_KEYS)
        # Each row is the group played in this process, bit for bit: the agent and Default.
        zeus, default = play_group(env, ZeusAgent(concurrency=True), row["group"]), play_group(env, DefaultAgent(), row["group"])
        assert (row["energy"], row["time"], row["cost"], row["runs"]) == (zeus.summary.energy, zeus.summary.time, zeus.summary.cost, zeus.summary.runs)
        assert (row["default_energy"], row["default_cost"]) == (default.summary.energy, default.summary.cost)
        lines = [json.loads(line) for line in (history / f"{row['group']}.jsonl").read_text().splitlines()]
        assert lines == zeus.history_lines() and len(lines) == row["runs"]

    # Re-running resumes (nothing left to do); another configuration in the same folder is refused.
    again = invoke(*cluster_args(group_file, out, zeus_trace_dir, "--histories", str(history)))
    assert again.exit_code == 0 and "0 groups played" in again.output and "14 resumed" in again.output
    changed = invoke(*cluster_args(group_file, out, zeus_trace_dir, "--histories", str(history), "--eta", "0.3"))
    assert changed.exit_code == 1 and "eta" in changed.output and "another configuration" in changed.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agent", "grid"], "cannot play the cluster scenario"),
        (["--agent", "nope"], "unknown agent 'nope'"),
        (["--gpu", "h100"], "unknown gpu 'h100'"),
        (["--beta", "0"], "error: Invalid value for '--beta': 0 is not > 0"),
        (["--max-retries", "-1"], "error: Invalid value for '--max-retries'"),
    ],
)
def test_bad_options_print_one_line(group_file, tmp_path, zeus_trace_dir, args, message):
    result = invoke(*cluster_args(group_file, tmp_path / "out", zeus_trace_dir, *args))
    assert result.exit_code == (2 if "Invalid value" in message else 1)
    assert message in result.output and result.output.count("\n") == 1 and "Traceback" not in result.output


def test_bad_group_files_print_one_line(tmp_path, zeus_trace_dir):
    bad = tmp_path / "bad.csv"
    bad.write_text("group,start_time,end_time,dataset,runtime_ratio\ng,5,4,squad,1\n")
    result = invoke(*cluster_args(bad, tmp_path / "out", zeus_trace_dir))
    assert result.exit_code == 1 and "line 2: end_time 4.0 is before start_time 5.0" in result.output
    result = invoke(*cluster_args(tmp_path / "missing.csv", tmp_path / "out", zeus_trace_dir))
    assert result.exit_code == 1 and "no group file" in result.output


def test_fetch_groups_refuses_a_file_that_is_not_upstreams(group_file, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / ALIBABA_FILE).write_bytes(group_file.read_bytes())
    with serve_folder(served) as mirror:
        result = invoke("traces", "fetch-groups", "--output", str(tmp_path / "dest"), "--base-url", mirror.url)
    assert result.exit_code == 1 and "git blob id" in result.output and "discarded" in result.output
    assert not (tmp_path / "dest" / ALIBABA_FILE).exists()


# An agent slow enough (40 ms per group) that the run is still going when the test interrupts it.
SLOW_AGENT = '''
import time
from zeus_gym.agents import DefaultAgent

class SlowDefault(DefaultAgent):
    def reset(self, job_info, seed):
        time.sleep(0.04)
        super().reset(job_info, seed)
'''


def test_an_interrupted_run_resumes_to_the_uninterrupted_results(group_file, tmp_path, zeus_trace_dir):
    agent = tmp_path / "slow.py"
    agent.write_text(SLOW_AGENT)
    args = cluster_args(group_file, tmp_path / "interrupted", zeus_trace_dir, "--agent", f"{agent}:SlowDefault")
    results = tmp_path / "interrupted" / "results.jsonl"
    command = [sys.executable, "-c", CLI_IN_FOREGROUND, *args, "--workers", "2"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 60
    while (not results.exists() or results.read_text().count("\n") < 3) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    kept = read_rows(results)
    assert 3 <= len(kept) < 14 and f"interrupted: {len(kept)} groups are in" in stderr
    with open(results, "a") as file:  # a crash in the middle of an append leaves a torn line
        file.write('{"group": "syn3-00013", "dataset": ')
    resumed = invoke(*args)
    assert resumed.exit_code == 0, resumed.output
    assert f"{14 - len(kept)} groups played" in resumed.output and f"{len(kept)} resumed" in resumed.output
    fresh = invoke(*cluster_args(group_file, tmp_path / "fresh", zeus_trace_dir, "--agent", f"{agent}:SlowDefault", "--workers", "1"))
    assert fresh.exit_code == 0, fresh.output
    assert results.read_bytes() == (tmp_path / "fresh" / "results.jsonl").read_bytes()


def test_summary_table_has_real_headers_and_one_number_format():
    import re

    import pandas as pd

    from zeus_gym.cluster.run import Settings
    from zeus_gym.cluster.summary import summary_markdown

    summary = pd.DataFrame([dict(dataset="squad", groups=1234, submissions=5678, runs=6000, retries=3, energy=123456789.0, energy_vs_default=0.91234,
                                 time=7200.0, time_vs_default=1.0, cost=2.5e8, cost_vs_default=0.95)])
    settings = Settings("synthetic", 10, 0, "v100", 0.5, 2.0, "zeus", None, None, None)
    lines = summary_markdown(summary, settings).splitlines()
    assert lines[2] == ("| dataset | groups | submissions | runs | retries | energy (MJ) | energy / Default | GPU time (h) | "
                        "GPU time / Default | cost (MJ) | cost / Default |")
    assert lines[4] == "| squad | 1,234 | 5,678 | 6,000 | 3 | 123.46 | 0.912 | 2.00 | 1.000 | 250.00 | 0.950 |"
    totals, ratios = lines[4].split(" | ")[5::2], lines[4].strip(" |").split(" | ")[6::2]
    assert all(re.fullmatch(r"[\d,]+\.\d\d", cell) for cell in totals) and all(re.fullmatch(r"\d\.\d{3}", cell) for cell in ratios)
