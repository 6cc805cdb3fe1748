"""Run a benchmark into its output folder: resume, parallel workers, progress and summary."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import queue
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from zeus_gym.agents import load_agent
from zeus_gym.benchmark import lifeline, summary
from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.benchmark.results import (
    RESULTS_FILE, ResultsWriter, folder_config, open_folder, read_results, row_case, write_sorted,
)
from zeus_gym.benchmark.worker import case_env, init_worker, run_case
from zeus_gym.folder_lock import lock_folder
from zeus_gym.traces import resolve_trace_dir

Row = dict[str, Any]


class CaseFailed(RuntimeError):
    """A case raised; `details` is its traceback."""

    def __init__(self, case: Case, error: BaseException, remote: bool) -> None:
        super().__init__(f"{case.describe()} failed: {type(error).__name__}: {error}")
        # A worker's traceback arrives as the text of __cause__, wrapped in triple quotes.
        text = str(error.__cause__) if remote else "".join(traceback.format_exception(error))
        self.details = text.strip().strip('"').strip()
        self.user_error = isinstance(error, ValueError)


def check_agents(grid: Grid, trace_dir: Path) -> None:
    """Load every agent once in the parent: a bad spec fails before any folder or worker exists."""
    first = grid.cases()[0]
    for spec in grid.agents:
        load_agent(spec, case_env(first._replace(agent=spec), grid, trace_dir))


def worker_context() -> multiprocessing.context.BaseContext:
    """How to start workers: "forkserver" where there is one. A worker forked straight from this
    process would copy the locks its other threads hold (torch's thread pool once a trained
    policy is loaded, say) and could wait for one forever; the fork server is a clean process
    that has the worker module imported already, so a worker starts in milliseconds and only
    parses the traces (once: the loader caches per process)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()  # spawn, where there is no fork
    context = multiprocessing.get_context("forkserver")
    # The hook makes the fork server die with this process (see `lifeline`).
    # pandas: the workers parse the traces with it (a fifth of a second each, paid once here instead).
    context.set_forkserver_preload(["zeus_gym.benchmark.forkserver_hook", "zeus_gym.benchmark.worker", "pandas"])
    return context


def start_fork_server() -> None:
    """Start the fork server the workers will come from now, so that its imports (half a second)
    run beside this process's own set-up (reading the traces, loading the agents) rather than after it."""
    if worker_context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


@contextlib.contextmanager
def worker_pool(workers: int, cases: int, *, one_here: bool = True) -> Iterator[ProcessPoolExecutor | None]:
    """Up to `workers` started worker processes; None, to play in this process, when one would do
    and `one_here` (a helper that works beside this process sets it False)."""
    count = min(workers, cases)
    if count < 1 or (count == 1 and one_here):
        yield None
        return
    before = set(multiprocessing.active_children())
    me = os.getpid()
    pool = ProcessPoolExecutor(count, mp_context=worker_context(), initializer=init_worker, initargs=(me, lifeline.start_time(me)))
    try:
        yield pool
    except BaseException:
        # Ctrl-C or a failed case: the cases in flight are given up, so stop their workers rather
        # than wait for them (a stuck agent would make the exit hang too).
        for process in multiprocessing.active_children():
            if process not in before:
                process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def play_batches(cases: list[Case], grid: Grid, trace_dir: Path, pool: ProcessPoolExecutor | None) -> Iterator[list[Row]]:
    """The rows of `cases` in batches: each batch holds every case that had finished when it was
    asked for (one row at a time in this process), so that the results file syncs once per batch."""
    if pool is None:
        for case in cases:
            try:
                yield [run_case(case, grid, trace_dir)]
            except Exception as error:
                raise CaseFailed(case, error, remote=False) from error
        return
    pending: dict[Future, Case] = {pool.submit(run_case, case, grid, trace_dir): case for case in cases}
    for done in finished_batches(pending):
        batch = []
        for future in done:
            case = pending.pop(future)
            try:
                batch.append(future.result())
            except Exception as error:
                raise CaseFailed(case, error, remote=True) from error
        yield batch


def finished_batches(futures: Iterable[Future]) -> Iterator[list[Future]]:
    """`futures` in batches as they finish, each batch every future that had finished when it was
    asked for. A callback per future feeds a queue: `concurrent.futures.wait` would instead hang a
    waiter on every pending future at every call, quadratic in the grid (a tenth of the parent's
    time on the default grid, taken from the workers' cores)."""
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    left = 0
    for future in futures:
        future.add_done_callback(finished.put)
        left += 1
    while left:
        batch = [finished.get()]
        while True:
            try:
                batch.append(finished.get_nowait())
            except queue.Empty:
                break
        left -= len(batch)
        yield batch


@contextlib.contextmanager
def local_rows(cases: list[Case], grid: Grid, trace_dir: Path, workers: int) -> Iterator[Iterator[Row]]:
    """The rows of `cases` in batches as they finish, from up to `workers` local worker processes."""
    with worker_pool(workers, len(cases)) as pool:
        yield play_batches(cases, grid, trace_dir, pool)


@contextlib.contextmanager
def ray_batches(cases: list[Case], grid: Grid, trace_dir: Path, address: str | None) -> Iterator[Iterator[list[Row]]]:
    """`ray_rows` one row per batch."""
    from zeus_gym.benchmark.ray_backend import ray_rows  # Ray is an optional extra

    with ray_rows(cases, grid, trace_dir, address) as rows:
        yield ([row] for row in rows)


def refuse_foreign_rows(path: Path, rows: list[Row], cases: set[Case]) -> None:
    """Refuse a results file with a row of a case outside the folder's grid: resuming would count
    it as done (and summarize it) although the grid never asked for it."""
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        if row_case(row) not in cases:
            raise ValueError(f"{path}, line {number}: {row_case(row).describe()} is not a case of this folder's grid "
                             "(config.json): it was not written by zeus-gym benchmark; delete that line to resume")


def run_benchmark(grid: Grid, folder: Path, *, trace_dir: Path | None = None, workers: int = 1,
                  on_row: Callable[[int, int], None] | None = None, backend: str = "local",
                  ray_address: str | None = None) -> tuple[Grid, list[Row], int]:
    """Run the cases of `grid` not yet in `folder`; returns the folder's grid, all its rows, and how
    many were run now. `on_row(done, total)` is called once before the first case, then after
    each case is durable. `backend` "ray" plays the cases on the Ray cluster at `ray_address`
    (None: a new local instance) instead of `workers` local processes: same rows, same file."""
    root = resolve_trace_dir(trace_dir)
    check_agents(grid, root)
    # Held from before the folder is read until its results are final: a second run on the same
    # folder is refused at once instead of playing the grid again into the same file.
    with lock_folder(folder, "zeus-gym benchmark"):
        grid = Grid.from_json(open_folder(folder, folder_config(grid, root)))
        path = folder / RESULTS_FILE
        rows = read_results(path, repair=True)
        order = grid.cases()
        refuse_foreign_rows(path, rows, set(order))
        finished = {row_case(row) for row in rows}
        todo = [case for case in order if case not in finished]
        if backend == "ray" and todo:
            finished_rows = ray_batches(todo, grid, root, ray_address)
        else:
            finished_rows = local_rows(todo, grid, root, workers)
        with finished_rows as played:
            if on_row is not None:
                on_row(len(rows), len(order))
            writer = ResultsWriter(path)
            try:
                for batch in played:
                    writer.append_many(batch)
                    for row in batch:
                        rows.append(row)
                        if on_row is not None:
                            on_row(len(rows), len(order))
            finally:
                writer.close()
        write_sorted(path, rows, order)
    return grid, rows, len(todo)


def write_summary(folder: Path, grid: Grid, rows: list[Row]) -> str:
    """Write summary.md and summary.csv; returns the Markdown."""
    cells = summary.summarize(rows, grid)
    text = summary.markdown(cells, grid)
    (folder / "summary.md").write_text(text, encoding="utf-8")
    summary.write_csv(cells, folder / "summary.csv")
    return text


def default_case(grid: Grid, agent: str | None = None, workload: str | None = None, gpu: str | None = None,
                 seed: int | None = None, eta: float | None = None, beta: float | None = None) -> Case:
    """The case the per-case figures show: given values, else the grid's first (Zeus's choices if it ran)."""
    chosen = Case(
        agent=agent or ("zeus" if "zeus" in grid.agents else grid.agents[0]),
        workload=workload or grid.workloads[0],
        gpu=gpu or grid.gpus[0],
        seed=grid.seeds[0] if seed is None else seed,
        eta=grid.etas[0] if eta is None else eta,
        beta=grid.betas[0] if beta is None else beta,
    )
    if chosen not in set(grid.cases()):
        raise ValueError(f"{chosen.describe()} is not a case of this benchmark")
    return chosen
