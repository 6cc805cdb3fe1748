"""Acceptance 2: Ctrl-C (or kill) a real `zeus-gym benchmark` process, re-run it, and get an uninterrupted run's results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zeus_gym.benchmark import read_results
from zeus_gym.cli import app

from reliability_helpers import CLI_IN_FOREGROUND

# An agent slow enough (50 ms per episode) that the run is still going when the test interrupts it.
SLOW_AGENT = '''
import time
from zeus_gym.agents import DefaultAgent

class SlowDefault(DefaultAgent):
    def reset(self, job_info, seed):
        time.sleep(0.05)
        super().reset(job_info, seed)
'''
TOTAL = 2 * 4 * 3


def grid_args(agent_file: Path, out: Path, trace_dir: Path) -> list[str]:
    return [
        "benchmark", "--agents", f"random,{agent_file}:SlowDefault", "--workloads", "squad,librispeech",
        "--gpus", "a40,v100", "--seeds", "1-3", "--recurrences", "6", "--no-plots",
        "--output", str(out), "--trace-dir", str(trace_dir),
    ]


def rows_written(path: Path) -> int:
    return max(path.read_text().count("\n") - 1, 0) if path.exists() else 0


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_interrupted_run_resumes_to_the_uninterrupted_results(zeus_trace_dir, tmp_path, signal_number):
    agent_file = tmp_path / "slow_agent.py"
    agent_file.write_text(SLOW_AGENT)
    out = tmp_path / "interrupted"
    command = [sys.executable, "-c", CLI_IN_FOREGROUND, *grid_args(agent_file, out, zeus_trace_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 60
    while rows_written(out / "results.csv") < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal_number)  # Ctrl-C: to the parent (workers ignore it); or a plain kill
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    kept = read_results(out / "results.csv")
    assert 4 <= len(kept) < TOTAL
    assert f"interrupted: {len(kept)} of {TOTAL} cases are in" in stderr and "run the same command again to resume" in stderr

    # A crash in the middle of an append leaves a torn line: the next run cuts it off.
    with open(out / "results.csv", "a") as file:
        file.write("random,squad,a40,3,0.5,2.0,6,6,")
    resumed = CliRunner().invoke(app, grid_args(agent_file, out, zeus_trace_dir) + ["--workers", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert f"{TOTAL - len(kept)} cases run" in resumed.output and f"{len(kept)} resumed" in resumed.output

    clean = tmp_path / "uninterrupted"
    fresh = CliRunner().invoke(app, grid_args(agent_file, clean, zeus_trace_dir) + ["--workers", "1"])
    assert fresh.exit_code == 0, fresh.output
    # Same bytes: no case lost, none twice, same values, whatever the interruption and the worker count.
    assert (out / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()
    assert (out / "config.json").read_bytes() == (clean / "config.json").read_bytes()
    assert len(read_results(clean / "results.csv")) == TOTAL
