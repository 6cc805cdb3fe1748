"""What long-running commands share: a progress bar on stderr, and SIGTERM handled as Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        """The task's speed."""
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.1f} {self.unit}/s" if speed else f"- {self.unit}/s", style="progress.data.speed")


@contextlib.contextmanager
def progress_bar(label: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress callback `(done, total)` drawing items done, rate, elapsed and remaining time."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), RateColumn(unit), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with contextlib.ExitStack() as stack:
        progress: list[tuple[Progress, TaskID]] = []

        def update(done: int, total: int) -> None:
            if not progress:  # shown from the first call, once the options and the folder are known good
                bar = stack.enter_context(Progress(*columns, console=Console(stderr=True)))
                # The resumed items are there from the start: they do not count in the rate.
                progress.append((bar, bar.add_task(label, total=total, completed=done)))
            bar, task = progress[0]
            bar.update(task, completed=done)

        yield update


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (`kill`, a batch system's time limit) stops a run as Ctrl-C does: the finished cases
    stay, the workers are stopped (rather than orphaned by a dead parent)."""
    if threading.current_thread() is not threading.main_thread():  # only there can handlers be set
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def elapsed_since(start: float) -> str:
    """Wall time since `start` (a perf_counter value), in s or min."""
    seconds = time.perf_counter() - start
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
