"""One run per output folder: an advisory lock that the kernel releases when its holder dies.

`benchmark`, `cluster` and `train` write into a folder that a second run on the same folder would
corrupt (duplicate rows, half-overwritten models). Each holds `lock_folder(folder)` while it runs:
an exclusive `fcntl.flock` on `<folder>/.zeus-gym.lock`, taken without waiting. The file also
records the holder's PID, so a refused run can say who holds it. The lock belongs to the open file
description, so a killed run (even by SIGKILL) never leaves a stale lock: the file may remain,
with the dead run's PID in it, but nothing holds it and the next run takes it at once.

Where `fcntl` does not exist (Windows) the folder is not locked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".zeus-gym.lock"


class FolderLocked(ValueError):
    """Another live process is running in this output folder (a ValueError: the commands report
    it in one line, like any other unusable --output)."""


def _holder(fd: int) -> str:
    """What the lock file says about its holder ("PID 123 (zeus-gym benchmark)"), best effort."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        text = os.pread(fd, 4096, 0).decode("utf-8").strip()
        if text:
            pid, _, what = text.partition(" ")
            return f"PID {pid}" + (f" ({what})" if what else "")
    return "another process"


@contextlib.contextmanager
def lock_folder(folder: Path, purpose: str) -> Iterator[Path]:
    """Hold the output folder's lock for the block (creating the folder); refuse at once with
    `FolderLocked`, naming the holder's PID, if a live process holds it. `purpose` ("zeus-gym
    benchmark", ...) is written next to our PID for the message another run would get."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    if fcntl is None:  # pragma: no cover - Windows
        yield path
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise FolderLocked(
                f"{folder} is in use by {_holder(fd)}, which is running there now: wait for it to "
                "finish, or use another output folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {purpose}\n".encode("utf-8"), 0)
        yield path
    finally:
        # Closing the descriptor releases the lock; the file stays (removing it would race with a
        # run that opened it and is about to lock it).
        os.close(fd)
