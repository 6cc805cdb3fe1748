"""Real processes: a folder is used by one run at a time, a run killed by SIGKILL leaves no process
behind and resumes to the bytes of an uninterrupted run (benchmark, cluster, train)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from reliability_helpers import (
    command_line, descendants, is_running, kill_hard, line_count, run, slow_agent, start, wait_for,
)
from zeus_gym.cluster.synth import synthesize_groups, write_groups
from zeus_gym.folder_lock import LOCK_FILE

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; the lock and PR_SET_PDEATHSIG are Linux's")


@pytest.fixture(autouse=True)
def _traces(zeus_trace_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZEUS_GYM_TRACE_DIR", str(zeus_trace_dir))


@pytest.fixture(scope="module")
def groups_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_groups(synthesize_groups(200, seed=3), tmp_path_factory.mktemp("groups") / "groups.csv")


def holds_lock(folder: Path, pid: int) -> bool:
    """The lock file names `pid` (written right after the lock is taken)."""
    try:
        return (folder / LOCK_FILE).read_text().split(" ", 1)[0] == str(pid)
    except (FileNotFoundError, IndexError):
        return False


def _benchmark(folder: Path, agent: str) -> tuple[str, ...]:
    return ("benchmark", folder, f"{agent},zeus,default", 2)


def _cluster(folder: Path, agent: str, groups: Path) -> tuple[str, ...]:
    return ("cluster", folder, groups, agent, 2)


def _run_args(kind: str, folder: Path, agent: str, groups: Path) -> tuple[str, ...]:
    return _benchmark(folder, agent) if kind == "benchmark" else _cluster(folder, agent, groups)


RESULTS = {"benchmark": "results.csv", "cluster": "results.jsonl"}


@pytest.mark.parametrize("kind", ["benchmark", "cluster"])
def test_a_second_run_on_a_busy_folder_is_refused_and_a_killed_runs_lock_never_blocks(
    kind: str, tmp_path: Path, groups_file: Path
) -> None:
    agent = slow_agent(tmp_path, delay=0.05)
    folder = tmp_path / "out"
    first = start(*_run_args(kind, folder, agent, groups_file))
    try:
        wait_for(lambda: holds_lock(folder, first.pid) and line_count(folder / RESULTS[kind]) >= 3, "the first run's results", first)
        began = time.monotonic()
        second = run(*_run_args(kind, folder, agent, groups_file))
        assert second.returncode == 3, second.stderr
        assert f"is in use by PID {first.pid} (zeus-gym {kind})" in second.stderr
        assert first.poll() is None, "the first run must still be running when the second is refused"
        # Refused at once: the second run never waits for the first (which has seconds left).
        assert time.monotonic() - began < 60
    finally:
        kill_hard(first)
    # The dead run's lock file is still there, with its PID; it does not block.
    assert holds_lock(folder, first.pid)
    third = run(*_run_args(kind, folder, agent, groups_file))
    assert third.returncode == 0, third.stderr
    assert "started" in third.stdout


def test_a_second_training_run_on_a_busy_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    first = start("train", folder, 10_000_000)
    try:
        wait_for(lambda: holds_lock(folder, first.pid), "the first training run to hold its folder", first, timeout=180)
        second = run("train", folder, 64)
        assert second.returncode == 3, second.stderr
        assert f"is in use by PID {first.pid} (zeus-gym train)" in second.stderr
        assert first.poll() is None
        assert not (folder / "model.zip").exists()
    finally:
        kill_hard(first)


@pytest.mark.parametrize("kind", ["benchmark", "cluster"])
def test_sigkill_of_the_parent_leaves_no_process_alive_after_5_s(kind: str, tmp_path: Path, groups_file: Path) -> None:
    agent = slow_agent(tmp_path, delay=0.05)
    folder = tmp_path / "out"
    parent = start(*_run_args(kind, folder, agent, groups_file))
    family: list[int] = []
    try:
        wait_for(lambda: line_count(folder / RESULTS[kind]) >= 3, "the first results", parent)
        family = descendants(parent.pid)
        described = {pid: command_line(pid) for pid in family}
        # Two workers, the fork server and the resource tracker: the test only means something
        # if they were there to be orphaned.
        assert sum("forkserver" in line for line in described.values()) >= 3, described
        assert any("resource_tracker" in line for line in described.values()), described
        kill_hard(parent)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(map(is_running, family)):
            time.sleep(0.05)
        alive = {pid: described[pid] for pid in family if is_running(pid)}
        assert not alive, f"still alive 5 s after the parent's SIGKILL: {alive}"
    finally:
        if parent.poll() is None:
            kill_hard(parent)
        for pid in family:  # never leave them to the rest of the suite
            if is_running(pid):
                os.kill(pid, 9)


@pytest.mark.parametrize("kind", ["benchmark", "cluster"])
def test_resume_after_sigkill_is_byte_identical_to_an_uninterrupted_run(kind: str, tmp_path: Path, groups_file: Path) -> None:
    agent = slow_agent(tmp_path, delay=0.03)
    whole, interrupted = tmp_path / "whole", tmp_path / "interrupted"
    complete = run(*_run_args(kind, whole, agent, groups_file))
    assert complete.returncode == 0, complete.stderr
    total = line_count(whole / RESULTS[kind])

    first = start(*_run_args(kind, interrupted, agent, groups_file))
    try:
        wait_for(lambda: line_count(interrupted / RESULTS[kind]) >= 5, "some results", first)
    finally:
        kill_hard(first)
    partial = line_count(interrupted / RESULTS[kind])
    assert 5 <= partial < total, "the kill must land mid-run"
    resumed = run(*_run_args(kind, interrupted, agent, groups_file))
    assert resumed.returncode == 0, resumed.stderr
    for name in (RESULTS[kind], "config.json"):
        assert (interrupted / name).read_bytes() == (whole / name).read_bytes(), name
