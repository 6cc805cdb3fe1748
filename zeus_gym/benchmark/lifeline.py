"""Worker processes that do not outlive the run that started them, however it dies.

A `kill -9` of a benchmark or cluster run used to leave its workers, the fork server and the
resource tracker alive for good: the workers wait on their call queue, whose write end they hold
themselves, and each holds the fork server's "alive" pipe open, so nothing ever reaches EOF.

Two mechanisms, so that neither a race nor a platform without the first leaves an orphan:

- Linux: `prctl(PR_SET_PDEATHSIG, SIGKILL)` in the fork server (see `forkserver_hook`) and in
  each worker: the kernel kills the fork server when the run dies, and each worker when the fork
  server dies. The resource tracker then reads EOF on its pipe (its last writer is gone), cleans
  up and exits by itself.
- Everywhere: a daemon thread in each worker checks every `WATCH_INTERVAL` seconds that the run's
  process still exists (same PID and start time) and ends the worker if not. It also covers the
  window before `prctl` runs, in which a parent's death would otherwise go unnoticed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.25  # s: a worker ends at most this long (plus scheduling) after the run dies


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux; False elsewhere
    or if the call fails)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux /proc), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name (which may hold spaces and parentheses): state is field 3,
    # starttime field 22.
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in "ZX" else fields[19]


def is_alive(pid: int, started: str | None) -> bool:
    """True while process `pid` exists and (where /proc tells) is the one that started at `started`."""
    if started is not None:
        return start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_parent(pid: int, started: str | None, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Start a daemon thread that ends this process (`os._exit`) once process `pid` is gone."""

    def watch() -> None:
        while is_alive(pid, started):
            time.sleep(interval)
        os._exit(1)  # the run is gone: nobody will read this worker's results

    thread = threading.Thread(target=watch, name="zeus-gym-parent-watch", daemon=True)
    thread.start()
    return thread


def imported_by_forkserver() -> bool:
    """True while this module is being imported by multiprocessing's fork server (its preload)."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.replace("\\", "/").endswith("multiprocessing/forkserver.py"):
            return True
        frame = frame.f_back
    return False
