"""The output folder of a benchmark: its configuration and its crash-safe, resumable results file.

`config.json` holds the grid, the zeus-gym version, the SHA-256 of every trace file and of the
agents' own files (a `file.py`, a module, a trained policy's folder); a run into a folder whose
configuration differs is refused (naming the fields), so results of two configurations are
never mixed.

`results.csv` gets one CSV line per finished case. Only the parent process writes: the lines of
the cases that have finished are appended with a single `os.write` on an `O_APPEND` descriptor,
then one `os.fsync` (a group commit: cases that finish while the disk syncs go in the next
write), before those cases are counted as done. A crash or Ctrl-C can therefore lose only cases still in flight, and at
worst leave a torn last line (no final newline), which the next run cuts off before resuming.
When every case is done the file is rewritten in grid order (temp file, fsync, `os.replace`), so
a resumed run ends with the same bytes as an uninterrupted one. Floats are written with `repr`:
reading them back gives the same bits.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.util
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable

import zeus_gym
from zeus_gym.benchmark.grid import Case, Grid
from zeus_gym.folder_lock import LOCK_FILE
from zeus_gym.traces.locate import sha256_of
from zeus_gym.traces.report import file_statuses

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.csv"

# Column -> parser. The first six are the case (its key); floats are repr-exact.
COLUMNS: dict[str, Callable[[str], Any]] = {
    "agent": str, "workload": str, "gpu": str, "seed": int, "eta": float, "beta": float,
    "recurrences": int,  # completed recurrences
    "steps": int,  # agent decisions, retries included
    "runs": int,  # runs that started, b0 fallback runs included
    "fallbacks": int,  # recurrences b0 finished after max_retries failures
    # J, s, cost units: exactly rounded sums (math.fsum, as the runner sums) over the episode's runs
    "total_energy": float, "total_time": float, "total_cost": float,
    "default_cost": float, "oracle_cost": float,  # expected cost of one recurrence
    "cost_over_default": float,  # (total_cost / recurrences) / default_cost
    "cost_over_oracle": float,  # (total_cost / recurrences) / oracle_cost
    "last10_recurrences": int,  # k = ceil(10 % of the recurrences)
    "last10_cost": float,  # cost of the last k recurrences
    "last10_over_default": float,  # (last10_cost / k) / default_cost
    "final_batch_size": int, "final_power_limit": int,  # the agent's last choice (limit used, if profiled)
}
KEY_COLUMNS = tuple(Case._fields)


class ConfigMismatch(ValueError):
    """The output folder holds results of another configuration."""


def trace_hashes(trace_dir: Path) -> dict[str, str]:
    """SHA-256 of each trace file in a folder."""
    return {status.name: status.sha256 for status in file_statuses(trace_dir)}


def agent_files(spec: str) -> list[Path]:
    """The files an agent's behaviour comes from, beyond zeus-gym itself: a `file.py:Class`'s
    file, a `package.module:Class`'s module file, a trained policy's folder (`sb3:DIR`)."""
    if spec.startswith("sb3:"):
        folder = Path(spec[len("sb3:"):])
        # The training run's lock file says who trained it, not what the policy is.
        return sorted(path for path in folder.iterdir() if path.is_file() and path.name != LOCK_FILE) if folder.is_dir() else []
    target, _, _ = spec.rpartition(":")
    if target.endswith(".py") or "/" in target or "\\" in target:
        return [Path(target)]
    if target:
        with contextlib.suppress(ImportError, ValueError):
            origin = getattr(importlib.util.find_spec(target), "origin", None)
            return [Path(origin)] if origin and Path(origin).is_file() else []
    return []


def agent_hashes(agents: Iterable[str]) -> dict[str, str]:
    """Per agent with files of its own: one SHA-256 over them, so an edited agent or a re-trained
    policy is a changed configuration."""
    hashes = {}
    for spec in agents:
        files = agent_files(spec)
        if files:
            digest = hashlib.sha256()
            for path in files:
                digest.update(path.name.encode() + b"\0" + sha256_of(path).encode())
            hashes[spec] = digest.hexdigest()
    return hashes


def folder_config(grid: Grid, trace_dir: Path) -> dict[str, Any]:
    """What must be equal for two runs to share a results file."""
    return {
        **grid.to_json(), "zeus_gym_version": zeus_gym.__version__,
        "traces": trace_hashes(trace_dir), "agent_files": agent_hashes(grid.agents),
    }


def read_config(folder: Path) -> dict[str, Any]:
    """The configuration stored in a benchmark folder."""
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{folder} is not a benchmark folder: it has no {CONFIG_FILE}")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a zeus-gym benchmark configuration (not JSON: {error}); "
                         "restore it, or use a new --output folder") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} is not a zeus-gym benchmark configuration (not a JSON object); use a new --output folder")
    return config


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    # The order of a list does not change the set of cases.
    return {key: sorted(map(repr, value)) if isinstance(value, list) else value for key, value in config.items()}


def write_atomically(path: Path, text: str) -> None:
    """Replace a file's text at once: a crash leaves the old file or the new one, never half."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def open_folder(folder: Path, config: dict[str, Any], results_file: str = RESULTS_FILE) -> dict[str, Any]:
    """Create the folder's config, or check it against an existing one; returns the folder's
    config (the stored one on resume, so the original order of agents, seeds, ... is kept).
    A folder with a `results_file` but no config is refused: its results' configuration is
    unknown, and mixing them with ours would be silent corruption."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CONFIG_FILE
    if not path.exists():
        if (folder / results_file).exists():
            raise ConfigMismatch(f"{folder} has a {results_file} but no {CONFIG_FILE}: use a new --output folder")
        write_atomically(path, json.dumps(config, indent=2) + "\n")
        return config
    stored = read_config(folder)
    ours, theirs = _comparable(config), _comparable(stored)
    differing = [key for key in sorted(set(ours) | set(theirs)) if ours.get(key) != theirs.get(key)]
    if differing:
        hashed = {"traces": "the trace files differ", "agent_files": "the agents' files differ"}
        details = "; ".join(
            f"{hashed[key]} (SHA-256)" if key in hashed else f"{key}: {stored.get(key)!r} there, {config.get(key)!r} now"
            for key in differing
        )
        raise ConfigMismatch(
            f"{folder} holds a benchmark of another configuration ({details}); "
            "re-run with its options to resume it, or use a new --output folder"
        )
    return stored


def format_line(row: dict[str, Any]) -> str:
    """One CSV line (with its newline) of a row; floats as `repr`, so they read back exactly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([_cell(row[name]) for name in COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def parse_row(cells: list[str]) -> dict[str, Any]:
    """A row from its CSV cells."""
    if len(cells) != len(COLUMNS):
        raise ValueError(f"a results line has {len(cells)} fields, not {len(COLUMNS)}")
    return {name: parse(cell) for (name, parse), cell in zip(COLUMNS.items(), cells)}


def row_case(row: dict[str, Any]) -> Case:
    """The case (key) of a row."""
    return Case(*(row[name] for name in KEY_COLUMNS))


def complete_lines(path: Path, *, repair: bool = False) -> str:
    """The text of an append-only file up to its last newline ("" if there is no file): a torn
    last line (a crash mid-write) is ignored, or cut off the file if `repair`."""
    if not path.exists():
        return ""
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    if repair and len(complete) != len(data):
        with open(path, "r+b") as file:
            file.truncate(len(complete))
            os.fsync(file.fileno())
    return complete.decode("utf-8")


def read_results(path: Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The rows of a results file (see `complete_lines` for a torn last line)."""
    lines = list(csv.reader(io.StringIO(complete_lines(path, repair=repair))))
    if not lines:
        return []
    if lines[0] != list(COLUMNS):
        raise ConfigMismatch(f"{path} has other columns than this zeus-gym writes: use a new --output folder")
    rows = []
    for number, cells in enumerate(lines[1:], start=2):
        try:
            rows.append(parse_row(cells))
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: not a results line of zeus-gym benchmark ({error}); "
                             "repair or delete that line to resume, or use a new --output folder") from None
    seen: set[Case] = set()
    for row in rows:
        case = row_case(row)
        if case in seen:
            raise ValueError(f"{path} holds {case.describe()} twice: it was not written by zeus-gym benchmark")
        seen.add(case)
    return rows


class ResultsWriter:
    """Appends rows to a results file, one `write` + `fsync` per batch (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        new = not path.exists() or path.stat().st_size == 0
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new:
            self._append(",".join(COLUMNS) + "\n")

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        while data:  # a regular file takes it in one write; loop anyway for the rare short write
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)

    def append(self, row: dict[str, Any]) -> None:
        """Make one finished case durable."""
        self._append(format_line(row))

    def append_many(self, rows: Iterable[dict[str, Any]]) -> None:
        """Make finished cases durable together: one write and one fsync."""
        self._append("".join(map(format_line, rows)))

    def close(self) -> None:
        """Release the file."""
        os.close(self.fd)


def write_sorted(path: Path, rows: Iterable[dict[str, Any]], order: list[Case]) -> None:
    """Rewrite the results file atomically with its rows in grid order."""
    rank = {case: i for i, case in enumerate(order)}
    ordered = sorted(rows, key=lambda row: rank.get(row_case(row), math.inf))
    write_atomically(path, ",".join(COLUMNS) + "\n" + "".join(map(format_line, ordered)))
