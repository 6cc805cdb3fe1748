"""Real processes for the reliability tests: start a zeus-gym run (tests/reliability_child.py),
wait for what it writes, find its descendants in /proc, kill it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

CHILD = Path(__file__).with_name("reliability_child.py")
# `zeus-gym` as a terminal's foreground command gets Ctrl-C: a shell that starts the tests in the
# background (`pytest &`, without job control) makes its children ignore SIGINT, and Python then
# keeps ignoring it, so a signalled run would finish instead of stopping.
_SIGINT_HANDLER = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
CLI_IN_FOREGROUND = _SIGINT_HANDLER + "from zeus_gym.cli import app; app()"
# The same for a script: `python -c SCRIPT_IN_FOREGROUND script.py args...`.
SCRIPT_IN_FOREGROUND = _SIGINT_HANDLER + "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
# An agent whose every episode takes 50 ms more: runs last long enough to be interrupted mid-way
# at a point that does not depend on how loaded the machine is.
SLOW_AGENT = '''
import time

from zeus_gym.agents import RandomAgent


class SlowRandom(RandomAgent):
    def reset(self, job_info, seed=None):
        time.sleep(DELAY)
        return super().reset(job_info, seed)
'''


def slow_agent(folder: Path, delay: float = 0.05) -> str:
    """Write the slow agent into `folder` and return its `path.py:Class` spec."""
    path = folder / "slow_agent.py"
    path.write_text(SLOW_AGENT.replace("DELAY", repr(delay)))
    return f"{path}:SlowRandom"


def start(*args: str | Path) -> subprocess.Popen:
    """Start a run in its own process (stdout and stderr piped, text)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(CHILD.parent.parent), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, str(CHILD), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run one to its end."""
    process = start(*args)
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen | None = None, timeout: float = 120) -> None:
    """Poll `condition` every 10 ms; fail if it is not met in time or `process` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def line_count(path: Path) -> int:
    """Complete lines in a file (0 if it does not exist)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # [state, ppid, ...]


def descendants(pid: int) -> list[int]:
    """Every live descendant of a process (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def is_running(pid: int) -> bool:
    """True while a process exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
    except OSError:
        return "?"


def kill_hard(process: subprocess.Popen) -> None:
    """SIGKILL a run and reap it. Its pipes are closed unread: orphaned workers would hold them
    open, and waiting for their end would wait for the orphans."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
