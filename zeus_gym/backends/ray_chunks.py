"""Ray tasks over chunks of a list of items (cases, groups), sized as they finish.

One task per episode is Ray's documented anti-pattern: an episode takes milliseconds, a task costs
about a millisecond of scheduling and a round trip. So each task plays a chunk, and the chunk size
follows the measured time per item so that a task runs for about TASK_SECONDS: the first tasks are
small (the cost per item is not known yet, and the progress bar moves at once), the later ones
grow; near the end chunks shrink again so that every CPU has work until the last item. Chunks are
consecutive items, so a worker's cached envs serve most of a chunk.

Only a bounded number of tasks is in flight (IN_FLIGHT_PER_CPU per CPU of the cluster, recounted
every RECOUNT_SECONDS so that machines joining mid-run get work): results stream back while the
rest waits on the driver, and an interrupted run gives up little.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterator, Sequence, TypeVar

TASK_SECONDS = 1.0  # Ray's guidance: a task should run for at least about a second
FIRST_CHUNK = 4  # items in the first tasks, before anything is measured
MAX_CHUNK = 2000  # what a worker that dies must redo stays bounded
IN_FLIGHT_PER_CPU = 2  # one running, one queued on each CPU: no idle gap between tasks
MAX_RETRIES = 3  # Ray re-runs a task whose worker process or node died this many times
WAIT_SECONDS = 0.2  # the driver wakes up this often, so Ctrl-C and SIGTERM act at once
RECOUNT_SECONDS = 10.0  # how often the driver asks Ray how many CPUs the cluster has

Item = TypeVar("Item")


@dataclass
class ChunkResult:
    """What a task returns: one output per item it finished, in order, the seconds it spent on
    them, the zeus-gym version of its worker, and the error of the item that raised (if one did,
    the outputs stop there)."""

    outputs: list[Any]
    seconds: float
    version: str
    failure: Failure | None = None


@dataclass
class Failure:
    """An item that raised in a task: its index in the chunk, the exception (or a stand-in if it
    cannot be pickled) and the worker's traceback."""

    index: int
    error: BaseException
    traceback: str


class TaskLost(RuntimeError):
    """A task failed without a result: its worker died more than MAX_RETRIES times, or Ray
    could not run it (its error, as Ray tells it, is the message)."""

    def __init__(self, items: Sequence[Any], error: BaseException) -> None:
        lines = str(error).strip().splitlines()
        hint = ""
        if "No module named 'zeus_gym'" in str(error):
            hint = " (the Ray workers cannot import zeus_gym: install zeus-gym, of this version, on every node)"
        super().__init__(f"a Ray task playing {len(items)} item(s) failed: {type(error).__name__}: {lines[0] if lines else ''}{hint}")
        self.items = list(items)
        self.details = str(error)


@dataclass
class ChunkSizer:
    """Chunk sizes from the measured seconds per item (mean over the finished tasks)."""

    cpus: int
    seconds: float = 0.0
    items: int = 0

    def record(self, items: int, seconds: float) -> None:
        """A task finished `items` items in `seconds`."""
        self.items += items
        self.seconds += seconds

    def next_size(self, remaining: int) -> int:
        """How many of the `remaining` items the next task gets."""
        if self.items == 0 or self.seconds <= 0:
            size = FIRST_CHUNK
        else:
            size = round(TASK_SECONDS * self.items / self.seconds)
        tail = math.ceil(remaining / (IN_FLIGHT_PER_CPU * self.cpus))  # every CPU busy until the end
        return max(1, min(size, tail, MAX_CHUNK, remaining))


def run_chunks(ray: ModuleType, task: Callable[..., ChunkResult], items: Sequence[Item], arguments: tuple[Any, ...],
               cpus: Callable[[], int]) -> Iterator[tuple[list[Item], ChunkResult]]:
    """Run `task(chunk, *arguments)` over chunks of `items` on Ray; yield each chunk with its
    result as it finishes. Leaving early (an error, Ctrl-C, the caller stopping) submits nothing
    more; the results of the tasks in flight are given up, those yielded are the caller's to keep.

    The tasks in flight are not `ray.cancel`led: cancelling a task while its result arrives can
    crash the driver on a failed internal check of Ray's task manager (a race Ray has fixed in
    parts, still seen here with Ray 2.60). The driver shutting Ray down (`ray_session`) ends its
    job, and with it the job's tasks; a driver that stays connected lets at most
    IN_FLIGHT_PER_CPU tasks of about TASK_SECONDS per CPU run out."""
    remote = ray.remote(num_cpus=1, max_retries=MAX_RETRIES)(task)
    sizer = ChunkSizer(cpus())
    pending: dict[Any, list[Item]] = {}
    position, counted = 0, time.monotonic()
    while position < len(items) or pending:
        if time.monotonic() - counted > RECOUNT_SECONDS:  # machines may join (or leave) the cluster mid-run
            sizer.cpus, counted = cpus(), time.monotonic()
        while position < len(items) and len(pending) < IN_FLIGHT_PER_CPU * sizer.cpus:
            chunk = list(items[position: position + sizer.next_size(len(items) - position)])
            position += len(chunk)
            pending[remote.remote(chunk, *arguments)] = chunk
        done, _ = ray.wait(list(pending), num_returns=1, timeout=WAIT_SECONDS)
        for ref in done:
            chunk = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as error:
                raise TaskLost(chunk, error) from None
            sizer.record(len(result.outputs) + (result.failure is not None), result.seconds)
            yield chunk, result


def task_timer() -> Callable[[], float]:
    """Seconds since this call (what a task reports as its time)."""
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


class RemoteTraceback(Exception):
    """The traceback text of an exception raised in a Ray task (as the `__cause__` of the
    exception the driver re-raises, the way concurrent.futures reports a worker's traceback)."""


def failure_of(index: int, error: Exception) -> Failure:
    """A failure that can travel back: the exception itself if it pickles, else a RuntimeError
    with its type and message."""
    import pickle
    import traceback

    text = "".join(traceback.format_exception(error))
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        error = RuntimeError(f"{type(error).__name__}: {error}")
    return Failure(index, error, text)


def reraise(failure: Failure) -> BaseException:
    """The failed item's exception, with the worker's traceback as its cause."""
    error = failure.error
    error.__cause__ = RemoteTraceback(failure.traceback)
    return error
