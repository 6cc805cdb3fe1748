"""`zeus-gym cluster --backend ray`: the groups as Ray tasks over chunks of groups.

What travels how: the trace files and the agent's own file go into Ray's object store once, as
for the benchmark (`zeus_gym.benchmark.ray_backend`); so does the parsed group table (a worker
process fetches it once, for its env: a group file, or upstream's Alibaba file, need not be on the
workers). A task returns each group's row and, with --history, the agent's run history; the driver
writes the history files and appends the rows, so it stays the only writer of every output.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator

import zeus_gym
from zeus_gym.backends.ray_chunks import ChunkResult, failure_of, reraise, run_chunks, task_timer
from zeus_gym.backends.ray_runtime import ShippedFiles, local_copy, ray_cpus, ray_session, ship_files
from zeus_gym.benchmark.ray_backend import LocalSpec, agent_shipment, local_spec, trace_files
from zeus_gym.cluster.env import ClusterTraceEnv
from zeus_gym.cluster.groups import GroupTable
from zeus_gym.cluster.run import Row, Settings, group_result, groups_fingerprint, make_env, write_history

_ENVS: dict[tuple[Settings, str], ClusterTraceEnv] = {}  # per worker process: (settings there, groups' SHA-256)


def play_group_chunk(groups: list[str], settings: Settings, shipped: ShippedFiles, table: list, fingerprint: str,
                     agent: LocalSpec | None) -> ChunkResult:
    """(row, history lines or None) of each group, on this worker's copy of the shipped files (a Ray task)."""
    timer = task_timer()
    root = local_copy(shipped)
    here = replace(settings, trace_dir=str(root / "traces"), agent=local_spec(settings.agent, agent, root), history=None)
    env = _ENVS.get((here, fingerprint))
    if env is None:
        import ray

        env = _ENVS[(here, fingerprint)] = make_env(here, ray.get(table[0]))
    outputs: list[tuple[Row, list[dict[str, Any]] | None]] = []
    for index, group in enumerate(groups):
        try:
            row, episode = group_result(env, here.agent, group)
        except Exception as error:
            return ChunkResult(outputs, timer(), zeus_gym.__version__, failure_of(index, error))
        outputs.append((row, None if settings.history is None else episode.history_lines()))
    return ChunkResult(outputs, timer(), zeus_gym.__version__)


def _batches(ray: Any, groups: list[str], settings: Settings, arguments: tuple[Any, ...]) -> Iterator[list[Row]]:
    for _, result in run_chunks(ray, play_group_chunk, groups, (settings, *arguments), lambda: ray_cpus(ray)):
        if result.version != zeus_gym.__version__:
            raise ValueError(f"the Ray workers run zeus-gym {result.version}, this process {zeus_gym.__version__}: "
                             f"install zeus-gym {zeus_gym.__version__} on every node of the cluster")
        rows = []
        for row, lines in result.outputs:
            if settings.history is not None:  # before the row is durable, as a local worker does
                write_history(settings.history, row["group"], lines)
            rows.append(row)
        if rows:
            yield rows
        if result.failure is not None:
            raise reraise(result.failure)


@contextlib.contextmanager
def ray_batches(groups: list[str], settings: Settings, table: GroupTable, trace_dir: Path,
                address: str | None) -> Iterator[tuple[Iterator[list[Row]], int]]:
    """The rows of `groups`, a chunk at a time as their tasks finish, on the Ray cluster at
    `address` (None: a new local instance); and the cluster's CPUs. Leaving the block ends the Ray
    session it started, and with it the tasks still running."""
    with ray_session(address) as ray:
        files, agent = agent_shipment(settings.agent, "agents/0")
        shipped = ship_files(ray, {**trace_files(trace_dir), **files})
        batches = _batches(ray, groups, settings, (shipped, [ray.put(table)], groups_fingerprint(settings, table), agent))
        try:
            yield batches, ray_cpus(ray)
        finally:
            batches.close()  # nothing more is submitted (an error, Ctrl-C)
