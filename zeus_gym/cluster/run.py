"""`zeus-gym cluster`: every group of a group file, in worker processes, into a resumable folder.

The folder holds `config.json` (what was run: groups and their SHA-256, GPU, knobs, agent,
zeus-gym version, trace hashes; a run into a folder of another configuration is refused) and
`results.jsonl`, one JSON line per finished group with the agent's and Default's totals. Only the
parent writes it: each batch of lines is appended with one `os.write` and `os.fsync` before it
counts as done, so a crash or Ctrl-C loses at most the groups in flight and at worst leaves a torn
last line, which the next run cuts off before it resumes. At the end the file is rewritten in group
order (temp file, fsync, rename), so a resumed run ends with the same bytes as an uninterrupted one.
Floats are JSON `repr`s: they read back bit for bit. The worker pool, its Ctrl-C handling and the
folder check are the benchmark's (`zeus_gym.benchmark`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import zeus_gym
from zeus_gym.agents import Agent, DefaultAgent, ZeusAgent, load_agent
from zeus_gym.benchmark.results import complete_lines, open_folder, trace_hashes
from zeus_gym.benchmark.run import worker_pool
from zeus_gym.cluster.env import ClusterTraceEnv
from zeus_gym.cluster.groups import GroupTable, load_groups
from zeus_gym.cluster.play import GroupEpisode, play_group, write_history_lines
from zeus_gym.folder_lock import lock_folder
from zeus_gym.traces import load_trace_set, resolve_trace_dir

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.md"
Row = dict[str, Any]
# Per group: the agent's totals, then Default's (b0 at its top limit on the same group and seed).
TOTALS = ("steps", "runs", "not_started", "retries", "energy", "time", "cost")
ROW_KEYS = ("group", "dataset", "submissions", *TOTALS, *(f"default_{key}" for key in TOTALS))


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to rebuild the env and the agent (picklable, hashable)."""

    groups: str  # "synthetic", "alibaba" or a file path
    synthetic_groups: int
    synthetic_seed: int
    gpu: str
    eta: float
    beta: float
    agent: str
    max_retries: int | None
    trace_dir: str | None
    history: str | None


_TABLES: dict[tuple, GroupTable] = {}
_ENVS: dict[Settings, ClusterTraceEnv] = {}


def group_table(settings: Settings) -> GroupTable:
    """The groups of the settings, parsed once per process."""
    key = (settings.groups, settings.synthetic_groups, settings.synthetic_seed, settings.trace_dir)
    table = _TABLES.get(key)
    if table is None:
        table = _TABLES[key] = load_groups(settings.groups, trace_dir=settings.trace_dir, synthetic_groups=settings.synthetic_groups,
                                           synthetic_seed=settings.synthetic_seed)
    return table


def make_env(settings: Settings, table: GroupTable) -> ClusterTraceEnv:
    """The env of the settings on `table`, seeded as the artifact does."""
    return ClusterTraceEnv(table, gpu=settings.gpu, eta_knob=settings.eta, beta_knob=settings.beta,
                           reference_seeding=True, max_retries=settings.max_retries, trace_dir=settings.trace_dir)


def group_env(settings: Settings) -> ClusterTraceEnv:
    """The env of the settings (one per process; reset per group)."""
    env = _ENVS.get(settings)
    if env is None:
        env = _ENVS[settings] = make_env(settings, group_table(settings))
    return env


def cluster_agent(spec: str, env: ClusterTraceEnv) -> Agent:
    """A new agent by name: `zeus` is `ZeusAgent(concurrency=True)` (the artifact's), others as
    `zeus-gym run` takes them, except those that need each run's result when it starts."""
    if spec == "zeus":
        return ZeusAgent(concurrency=True)
    if spec == "grid" or spec.startswith("sb3:"):
        raise ValueError(f"agent {spec!r} cannot play the cluster scenario: it needs each run's result right after the run "
                         "starts (grid) or the single-job observation (sb3:DIR); use zeus, default, oracle, random or your own class")
    return load_agent(spec, env)


def safe_name(group: str) -> str:
    """A file name for a group id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", group) or "_"


def group_result(env: ClusterTraceEnv, agent: str, group: str) -> tuple[Row, GroupEpisode]:
    """Play the agent and Default on a group: its results row and the agent's episode."""
    episode = play_group(env, cluster_agent(agent, env), group)
    default = episode if agent == "default" else play_group(env, DefaultAgent(), group)
    ours, theirs = asdict(episode.summary), asdict(default.summary)
    row = {"group": group, "dataset": ours["dataset"], "submissions": ours["submissions"],
           **{key: ours[key] for key in TOTALS}, **{f"default_{key}": theirs[key] for key in TOTALS}}
    return row, episode


def write_history(folder: str, group: str, lines: list[dict[str, Any]]) -> None:
    """A group's history file, replaced at once (a crash leaves the old file or the new one)."""
    path = Path(folder) / f"{safe_name(group)}.jsonl"
    temporary = path.with_name(f".{path.name}.tmp")
    write_history_lines(temporary, lines)
    os.replace(temporary, path)


def play_groups(settings: Settings, groups: list[str]) -> list[Row]:
    """Play the agent and Default on each group; write the agent's history if asked. (Workers.)"""
    env = group_env(settings)
    rows = []
    for group in groups:
        row, episode = group_result(env, settings.agent, group)
        if settings.history is not None:
            write_history(settings.history, group, episode.history_lines())
        rows.append(row)
    return rows


# -- the results file ---------------------------------------------------------------------------


def read_rows(path: Path, *, repair: bool = False) -> list[Row]:
    """The rows of a results file, one per group; a torn last line is ignored (cut off if
    `repair`). A group on two identical lines counts once (the copies are removed from the file
    if `repair`); a group on two different lines is refused, naming both lines."""
    rows: dict[str, Row] = {}
    lines: dict[str, int] = {}
    copies = 0
    for number, line in enumerate(complete_lines(path, repair=repair).splitlines(), start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{path}, line {number}: not a results line of zeus-gym cluster") from None
        if not isinstance(row, dict) or set(row) != set(ROW_KEYS) or not isinstance(row["group"], str):
            raise ValueError(f"{path}, line {number}: not a results line of zeus-gym cluster")
        group = row["group"]
        if group in rows:
            if row != rows[group]:
                raise ValueError(f"{path}: lines {lines[group]} and {number} hold different results of group {group!r}: "
                                 "it was not written by one configuration of zeus-gym cluster; use a new --output folder")
            copies += 1
            continue
        rows[group], lines[group] = row, number
    if copies and repair:
        _write_lines(path, list(rows.values()))
    return list(rows.values())


def _append(fd: int, rows: list[Row]) -> None:
    data = "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")
    while data:
        data = data[os.write(fd, data):]
    os.fsync(fd)


def _write_sorted(path: Path, rows: list[Row], order: list[str]) -> None:
    rank = {group: i for i, group in enumerate(order)}
    _write_lines(path, sorted(rows, key=lambda row: rank.get(row["group"], math.inf)))


def _write_lines(path: Path, rows: list[Row]) -> None:
    """Replace the file by these rows at once (temp file, fsync, rename)."""
    text = "".join(json.dumps(row) + "\n" for row in rows)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


# -- running ------------------------------------------------------------------------------------


def groups_fingerprint(settings: Settings, table: GroupTable) -> str:
    """SHA-256 of the groups' content (the canonical CSV of the validated table)."""
    buffer = io.StringIO()
    frame = table.frame[["group", "start_time", "end_time", "dataset", "runtime_ratio"]]
    for row in frame.itertuples(index=False):
        buffer.write(f"{row.group},{float(row.start_time)!r},{float(row.end_time)!r},{row.dataset},{float(row.runtime_ratio)!r}\n")
    return hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()


def folder_config(settings: Settings, table: GroupTable, trace_dir: Path) -> dict[str, Any]:
    """What must be equal for two runs to share a results file."""
    fields = asdict(settings)
    fields.pop("trace_dir")
    if settings.groups not in ("synthetic", "alibaba"):
        fields["groups"] = str(Path(settings.groups).resolve())
    if settings.groups != "synthetic":
        fields.pop("synthetic_groups"), fields.pop("synthetic_seed")
    if fields["history"] is not None:
        fields["history"] = str(Path(fields["history"]).resolve())
    fields["beta"] = fields["beta"] if math.isfinite(fields["beta"]) else repr(fields["beta"])
    return {**fields, "groups_sha256": groups_fingerprint(settings, table), "zeus_gym_version": zeus_gym.__version__,
            "traces": trace_hashes(trace_dir)}


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i: i + size] for i in range(0, len(items), size)]


def _play(chunks: list[list[str]], settings: Settings, pool: ProcessPoolExecutor | None) -> Iterator[list[Row]]:
    if pool is None:
        for chunk in chunks:
            yield play_groups(settings, chunk)
        return
    pending: set[Future] = {pool.submit(play_groups, settings, chunk) for chunk in chunks}
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


GROUPS_PER_WORKER = 1000  # starting a worker costs about as much as playing this many groups


def default_workers(groups: int) -> int:
    """One worker per core, but no more than one per GROUPS_PER_WORKER groups to play."""
    return max(1, min(os.cpu_count() or 1, math.ceil(groups / GROUPS_PER_WORKER)))


@contextlib.contextmanager
def local_batches(groups: list[str], settings: Settings, workers: int) -> Iterator[tuple[Iterator[list[Row]], int]]:
    """The rows of `groups`, a chunk at a time as they finish, from up to `workers` local processes;
    and the number of workers."""
    size = max(1, min(50, len(groups) // (8 * max(workers, 1)) or 1))
    chunks = _chunks(groups, size)
    with worker_pool(workers, len(chunks)) as pool:
        yield _play(chunks, settings, pool), workers


def run_cluster(settings: Settings, folder: Path, *, workers: int | None = None,
                on_rows: Callable[[int, int], None] | None = None, backend: str = "local",
                ray_address: str | None = None) -> tuple[GroupTable, list[Row], int, int]:
    """Play every group of `settings` not yet in `folder` with `workers` processes (None:
    `default_workers`); returns the table, all rows, how many groups were played now and the
    number of workers (with `backend` "ray": the CPUs of the Ray cluster at `ray_address`, None
    for a new local instance). `on_rows(done, total)` is called before the first group and after
    each durable batch."""
    root = resolve_trace_dir(settings.trace_dir)
    load_trace_set(root)  # parsed once here: forked workers inherit it
    table = group_table(settings)
    cluster_agent(settings.agent, group_env(settings))  # a bad agent fails before the folder exists
    if settings.history is not None:
        Path(settings.history).mkdir(parents=True, exist_ok=True)
    # Held until the results are final: a second run on the folder is refused at once.
    with lock_folder(folder, "zeus-gym cluster"):
        open_folder(folder, folder_config(settings, table, root), results_file=RESULTS_FILE)
        path = folder / RESULTS_FILE
        rows = read_rows(path, repair=True)
        done = {row["group"] for row in rows}
        unknown = done - set(table.ids)
        if unknown:
            raise ValueError(f"{path} has groups that are not in the groups: {sorted(unknown)[:5]}")
        todo = [group for group in table.ids if group not in done]
        if backend == "ray" and todo:
            from zeus_gym.cluster.ray_backend import ray_batches  # Ray is an optional extra

            played = ray_batches(todo, settings, table, root, ray_address)
        else:
            workers = default_workers(len(todo)) if workers is None else workers
            played = local_batches(todo, settings, workers)
        with played as (batches, workers):
            if on_rows is not None:
                on_rows(len(rows), len(table))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                for batch in batches:
                    _append(fd, batch)
                    rows.extend(batch)
                    if on_rows is not None:
                        on_rows(len(rows), len(table))
            finally:
                os.close(fd)
        _write_sorted(path, rows, table.ids)
    return table, rows, len(todo), workers
