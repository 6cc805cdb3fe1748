"""`agents/held_out.py` stopped by SIGTERM or Ctrl-C takes its fold workers down with it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability_helpers import SCRIPT_IN_FOREGROUND, descendants, is_running, wait_for

RECIPE = Path(__file__).resolve().parent.parent / "agents" / "held_out.py"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_recipe_leaves_no_worker_running(tmp_path, zeus_trace_dir, signum):
    output = tmp_path / "held_out"
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT_IN_FOREGROUND, str(RECIPE), "--timesteps", "100000", "--warm-start", "none", "--folds", "workload-squad",
         "--jobs", "1", "--output", str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # Stopped while the worker trains its fold (its folder appears when training starts).
    wait_for(lambda: (output / "workload-squad").exists(), "the fold's training", process, timeout=300)
    workers = descendants(process.pid)
    assert workers
    if signum == signal.SIGINT:  # Ctrl-C reaches the whole process group; here, the parent and its workers
        for pid in [process.pid, *workers]:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
    else:
        process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert err.strip().splitlines()[-1] == "interrupted: the finished folds are kept; re-run the same command to resume the others"
        wait_for(lambda: not any(is_running(pid) for pid in workers), "the workers to end", timeout=30)
    finally:  # a failed run must not leave its workers training for minutes
        for pid in workers:
            if is_running(pid):
                os.kill(pid, signal.SIGKILL)
    assert not (output / "workload-squad" / "policy" / "model.zip").exists()  # the fold did not finish
