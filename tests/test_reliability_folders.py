"""Output folders (issue 12, part 1), in process: the folder lock, cluster results keyed by group,
results without their configuration; the workers' watchdog on their run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zeus_gym.benchmark import lifeline
from zeus_gym.benchmark.results import ConfigMismatch
from zeus_gym.cluster.run import RESULTS_FILE, Settings, read_rows, run_cluster
from zeus_gym.cluster.summary import summary_frame
from zeus_gym.cluster.synth import synthesize_groups, write_groups
from zeus_gym.folder_lock import LOCK_FILE, FolderLocked, lock_folder


def test_a_held_folder_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    with lock_folder(tmp_path / "out", "zeus-gym benchmark"):
        # flock belongs to the open file: a second open, even in this process, is refused.
        with pytest.raises(FolderLocked, match=rf"out is in use by PID {os.getpid()} \(zeus-gym benchmark\), which is running"):
            with lock_folder(tmp_path / "out", "zeus-gym cluster"):
                pass  # pragma: no cover
    with lock_folder(tmp_path / "out", "zeus-gym cluster"):  # released at the end of the block
        assert (tmp_path / "out" / LOCK_FILE).read_text() == f"{os.getpid()} zeus-gym cluster\n"


def test_the_lock_of_a_killed_holder_never_blocks(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    code = ("import sys, time; from pathlib import Path; from zeus_gym.folder_lock import lock_folder\n"
            "with lock_folder(Path(sys.argv[1]), 'zeus-gym train'):\n    print('locked', flush=True); time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderLocked, match=f"PID {holder.pid} \\(zeus-gym train\\)"):
            with lock_folder(folder, "zeus-gym benchmark"):
                pass  # pragma: no cover
    finally:
        holder.kill()
        holder.wait()
    assert (folder / LOCK_FILE).read_text().startswith(f"{holder.pid} ")  # stale file, no lock
    with lock_folder(folder, "zeus-gym benchmark"):
        pass


def test_a_folder_lock_is_a_one_line_value_error(tmp_path: Path) -> None:
    # The commands turn ValueErrors into one stderr line (exit 1): so is a busy folder.
    assert issubclass(FolderLocked, ValueError)


# -- cluster results ------------------------------------------------------------------------------


@pytest.fixture()
def cluster_run(zeus_trace_dir: Path, tmp_path: Path):
    groups = write_groups(synthesize_groups(12, seed=5), tmp_path / "groups.csv")
    settings = Settings(groups=str(groups), synthetic_groups=0, synthetic_seed=0, gpu="v100", eta=0.5, beta=2.0, agent="zeus",
                        max_retries=None, trace_dir=str(zeus_trace_dir), history=None)
    folder = tmp_path / "out"
    table, rows, ran, _ = run_cluster(settings, folder, workers=1)
    assert ran == len(table) == len(rows) == 12
    return settings, folder, (folder / RESULTS_FILE).read_bytes()


def test_a_repeated_identical_cluster_line_is_repaired_not_summed(cluster_run) -> None:
    settings, folder, original = cluster_run
    lines = original.splitlines(keepends=True)
    (folder / RESULTS_FILE).write_bytes(b"".join([*lines, lines[3], lines[0]]))  # two killed concurrent runs
    assert len(read_rows(folder / RESULTS_FILE)) == 12
    table, rows, ran, _ = run_cluster(settings, folder, workers=1)
    assert ran == 0 and len(rows) == 12
    assert int(summary_frame(rows).set_index("dataset").loc["all", "groups"]) == 12
    assert (folder / RESULTS_FILE).read_bytes() == original


def test_the_repair_happens_when_a_run_resumes_even_if_it_is_interrupted(cluster_run) -> None:
    _, folder, original = cluster_run
    lines = original.splitlines(keepends=True)
    (folder / RESULTS_FILE).write_bytes(b"".join([*lines[:5], lines[2]]))
    assert len(read_rows(folder / RESULTS_FILE, repair=True)) == 5
    assert (folder / RESULTS_FILE).read_bytes() == b"".join(lines[:5])


def test_two_different_lines_of_one_group_are_refused(cluster_run) -> None:
    settings, folder, original = cluster_run
    lines = original.splitlines(keepends=True)
    changed = json.loads(lines[4])
    changed["cost"] *= 2
    (folder / RESULTS_FILE).write_bytes(b"".join([*lines, (json.dumps(changed) + "\n").encode()]))
    with pytest.raises(ValueError, match=rf"lines 5 and 13 hold different results of group {changed['group']!r}"):
        run_cluster(settings, folder, workers=1)


def test_cluster_results_without_their_configuration_are_refused(cluster_run) -> None:
    settings, folder, original = cluster_run
    (folder / "config.json").unlink()
    other = Settings(**{**settings.__dict__, "agent": "default"})
    with pytest.raises(ConfigMismatch, match=f"has a {RESULTS_FILE} but no config.json"):
        run_cluster(other, folder, workers=1)
    assert (folder / RESULTS_FILE).read_bytes() == original  # untouched


def test_a_cluster_run_refuses_a_folder_in_use(cluster_run) -> None:
    settings, folder, _ = cluster_run
    with lock_folder(folder, "zeus-gym cluster"):
        with pytest.raises(FolderLocked, match=f"PID {os.getpid()}"):
            run_cluster(settings, folder, workers=1)


# -- the workers' watchdog --------------------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_watchdog_ends_a_process_once_the_watched_one_is_gone(tmp_path: Path) -> None:
    # parent starts child and sleeps; child watches parent (no PR_SET_PDEATHSIG), reports its PID.
    child_code = ("import sys, time; from zeus_gym.benchmark import lifeline\n"
                  "pid = int(sys.argv[1]); lifeline.watch_parent(pid, lifeline.start_time(pid), interval=0.05)\n"
                  "print('watching', flush=True); time.sleep(600)\n")
    parent_code = ("import subprocess, sys, os, time\n"
                   "child = subprocess.Popen([sys.executable, '-c', sys.argv[1], str(os.getpid())], stdout=subprocess.PIPE, text=True)\n"
                   "assert child.stdout.readline().strip() == 'watching'; print(child.pid, flush=True); time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", parent_code, child_code], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert lifeline.is_alive(child, lifeline.start_time(child))
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while lifeline.start_time(child) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = lifeline.start_time(child) is not None
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive, "the watching process outlived the watched one by 5 s"


def test_a_pid_reused_by_another_process_is_not_the_watched_one() -> None:
    me = os.getpid()
    assert lifeline.is_alive(me, lifeline.start_time(me))
    assert not lifeline.is_alive(me, "0")  # same PID, another start time: not our run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_die_with_parent_is_available_on_linux() -> None:
    code = "from zeus_gym.benchmark import lifeline; print(lifeline.die_with_parent())"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "True"
