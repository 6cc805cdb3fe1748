"""`zeus-gym benchmark --backend ray`: the cases of a grid as Ray tasks over chunks of cases.

What travels how: the trace files and the agents' own files (a `file.py:Class`'s file, a trained
policy's folder) are put into Ray's object store once; a worker process copies them to its
machine the first time it needs them (`zeus_gym.backends.ray_runtime.local_copy`) and plays the
cases on that copy, so the workers need zeus-gym (the same version: checked on every result)
but not the traces. Each task gets its chunk of cases and the grid, and returns the rows; the
driver appends them to the results file exactly as it does local workers' rows.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

import zeus_gym
from zeus_gym.backends.ray_chunks import ChunkResult, TaskLost, failure_of, reraise, run_chunks, task_timer
from zeus_gym.backends.ray_runtime import ShippedFiles, local_copy, ray_cpus, ray_session, ship_files
from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.benchmark.results import agent_files
from zeus_gym.benchmark.run import CaseFailed
from zeus_gym.benchmark.worker import run_case
from zeus_gym.traces.report import file_statuses

Row = dict[str, Any]
# An agent whose files travel: (prefix, path in the shipped folder, suffix) of its spec there.
LocalSpec = tuple[str, str, str]


class ChunkLost(CaseFailed):
    """A Ray task of cases failed without a result (its worker died more than Ray retries)."""

    def __init__(self, cases: list[Case], error: TaskLost) -> None:
        which = f"case {cases[0].describe()}" if len(cases) == 1 else f"cases {cases[0].describe()} to {cases[-1].describe()}"
        RuntimeError.__init__(self, f"{error} ({which})")
        self.details = error.details
        self.user_error = False


def trace_files(trace_dir: Path) -> dict[str, bytes]:
    """The trace files (those the folder's config hashes), under traces/ in the shipped folder."""
    return {f"traces/{status.name}": (trace_dir / status.name).read_bytes() for status in file_statuses(trace_dir)}


def agent_shipment(spec: str, folder: str) -> tuple[dict[str, bytes], LocalSpec | None]:
    """An agent's own files, under `folder` in the shipped folder, and how the agent is named on
    a worker's copy (None: nothing to ship; a `package.module:Class` must be importable there)."""
    target, _, name = spec.rpartition(":")
    if spec.startswith("sb3:"):
        local: LocalSpec = ("sb3:", folder, "")
    elif target.endswith(".py") or "/" in target or "\\" in target:
        local = ("", f"{folder}/{Path(target).name}", f":{name}")
    else:
        return {}, None
    return {f"{folder}/{path.name}": path.read_bytes() for path in agent_files(spec)}, local


def local_spec(spec: str, local: LocalSpec | None, root: Path) -> str:
    """The agent's spec on a worker's copy of the shipped folder at `root`."""
    if local is None:
        return spec
    prefix, path, suffix = local
    return f"{prefix}{root / path}{suffix}"


def shipped_files(grid: Grid, trace_dir: Path) -> tuple[dict[str, bytes], dict[str, LocalSpec]]:
    """The files the workers need (the traces, the agents' files) and each such agent's spec there."""
    files, specs = trace_files(trace_dir), {}
    for number, spec in enumerate(grid.agents):
        agent, local = agent_shipment(spec, f"agents/{number}")
        if local is not None:
            files.update(agent)
            specs[spec] = local
    return files, specs


def play_chunk(cases: list[Case], grid: Grid, shipped: ShippedFiles, specs: dict[str, LocalSpec]) -> ChunkResult:
    """The rows of `cases`, played on this worker's copy of the shipped files (a Ray task)."""
    timer = task_timer()
    root = local_copy(shipped)
    rows: list[Row] = []
    for index, case in enumerate(cases):
        here = case._replace(agent=local_spec(case.agent, specs.get(case.agent), root))
        try:
            row = run_case(here, grid, root / "traces")
        except Exception as error:
            return ChunkResult(rows, timer(), zeus_gym.__version__, failure_of(index, error))
        rows.append({**row, "agent": case.agent})  # the row of the case as the grid names it
    return ChunkResult(rows, timer(), zeus_gym.__version__)


def _rows(ray: Any, cases: list[Case], grid: Grid, shipped: ShippedFiles, specs: dict[str, LocalSpec]) -> Iterator[Row]:
    try:
        for chunk, result in run_chunks(ray, play_chunk, cases, (grid, shipped, specs), lambda: ray_cpus(ray)):
            if result.version != zeus_gym.__version__:
                raise ValueError(f"the Ray workers run zeus-gym {result.version}, this process {zeus_gym.__version__}: "
                                 f"install zeus-gym {zeus_gym.__version__} on every node of the cluster")
            yield from result.outputs
            if result.failure is not None:
                error = reraise(result.failure)
                raise CaseFailed(chunk[result.failure.index], error, remote=True) from error
    except TaskLost as error:
        raise ChunkLost(error.items, error) from None


@contextlib.contextmanager
def ray_rows(cases: list[Case], grid: Grid, trace_dir: Path, address: str | None) -> Iterator[Iterator[Row]]:
    """The rows of `cases` as their tasks finish, on the Ray cluster at `address` (None: a new
    local instance). Leaving the block ends the Ray session it started, and with it the tasks still running."""
    with ray_session(address) as ray:
        files, specs = shipped_files(grid, trace_dir)
        rows = _rows(ray, cases, grid, ship_files(ray, files), specs)
        try:
            yield rows
        finally:
            rows.close()  # nothing more is submitted (an error, Ctrl-C)
