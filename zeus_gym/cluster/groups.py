"""Recurring job groups of a GPU cluster: the schema, validation, loading, and the verified download
of upstream's Alibaba file.

A group file has one row per submission of a recurring job::

    group, start_time, end_time, dataset, runtime_ratio

`group` names the recurring job (text), `start_time` and `end_time` (s) say when the submission
occupied the cluster, `dataset` maps it to one of the six workloads (`zeus_gym.WORKLOADS`), and
`runtime_ratio` is its runtime over the mean runtime of all submissions of its dataset (it scales
the energy and time of the runs it makes). Rows of a group are in start-time order.

Upstream's `alibaba_groups.csv.xz` (the Alibaba GPU cluster trace v2020 mapped to the workloads)
is pinned by its git blob id only: `fetch_alibaba_groups` recomputes SHA-1(b"blob <size>\\0" +
content) of the downloaded bytes and refuses anything else.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Union

import numpy as np
import pandas as pd
import requests

from zeus_gym.traces.download import ALIBABA_MAX_BYTES, stream_capped
from zeus_gym.traces.errors import TraceHashError, TracesNotFoundError, TraceValidationError
from zeus_gym.traces.locate import ENV_VAR, URL_ENV_VAR, default_cache_dir
from zeus_gym.traces.parse import Column, _convert, _read_text, _Where
from zeus_gym.traces.registry import ALIBABA_FILE, ALIBABA_GIT_BLOB, BASE_URL, file_url
from zeus_gym.workloads import WORKLOADS

GROUP_COLUMNS: dict[str, Column] = {
    "group": Column("text"),
    "start_time": Column("float"),
    "end_time": Column("float"),
    "dataset": Column("text"),
    "runtime_ratio": Column("float", positive=True),
}
TIME_COLUMNS = ("start_time", "end_time", "runtime_ratio")

GroupSource = Union[str, os.PathLike, pd.DataFrame]


# ---------------------------------------------------------------------------------------------
# Validation


def _check_semantics(frame: pd.DataFrame, label: Callable[[int], str]) -> None:
    """Rules beyond each cell's type; `label(row)` names a row (file line or DataFrame index)."""

    def fail(row: int, problem: str) -> TraceValidationError:
        return TraceValidationError(f"{label(row)}: {problem}")

    for column in ("group", "dataset"):
        empty = frame[column].str.strip().eq("").to_numpy()
        if empty.any():
            raise fail(int(np.flatnonzero(empty)[0]), f"column {column!r} is empty")
    unknown = ~frame["dataset"].isin(list(WORKLOADS)).to_numpy()
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise fail(row, f"unknown dataset {frame['dataset'].iat[row]!r}; the groups map to {', '.join(WORKLOADS)}")
    start, end = frame["start_time"].to_numpy(), frame["end_time"].to_numpy()
    backwards = end < start
    if backwards.any():
        row = int(np.flatnonzero(backwards)[0])
        raise fail(row, f"end_time {float(end[row])!r} is before start_time {float(start[row])!r}")
    groups = frame["group"].to_numpy()
    datasets = frame["dataset"].to_numpy()
    first_dataset: dict[str, tuple[str, int]] = {}
    last_start: dict[str, float] = {}
    for row, (group, dataset, begin) in enumerate(zip(groups.tolist(), datasets.tolist(), start.tolist())):
        seen = first_dataset.setdefault(group, (dataset, row))
        if seen[0] != dataset:
            raise fail(row, f"group {group!r} has dataset {dataset!r} here but {seen[0]!r} at {label(seen[1])}; a group is one job")
        if begin < last_start.get(group, -np.inf):
            raise fail(row, f"group {group!r}: start_time {begin!r} is earlier than its previous submission's "
                            f"({last_start[group]!r}); list a group's submissions in start-time order")
        last_start[group] = begin


def read_groups(path: str | os.PathLike) -> pd.DataFrame:
    """Parse and validate a group file (`.csv`, or compressed: `.csv.xz`, `.csv.gz`, ...).

    Floats are parsed correctly rounded; errors name the file, column and line. Extra columns are
    kept as text; row order is kept."""
    path = Path(path)
    if not path.is_file():
        raise TracesNotFoundError(f"no group file {path}")
    raw, lines = _read_text(path)
    missing = [name for name in GROUP_COLUMNS if name not in raw.columns]
    if missing:
        raise TraceValidationError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(map(repr, raw.columns))}")
    if raw.empty:
        raise TraceValidationError(f"{path}: no data rows after the header")
    where = _Where(path, lines)
    raw = raw.fillna("")
    frame = pd.DataFrame({name: _convert(raw[name], name, GROUP_COLUMNS[name], where) if name in GROUP_COLUMNS else raw[name]
                          for name in raw.columns})
    _check_semantics(frame, lambda row: f"{path}: line {lines[row]}")
    return frame


def validate_groups(frame: pd.DataFrame, origin: str = "groups DataFrame") -> pd.DataFrame:
    """A validated copy of a DataFrame of groups: `group` and `dataset` as text, the times and
    ratios as float64 (finite; ratios positive); the same rules as `read_groups`."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{origin} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [name for name in GROUP_COLUMNS if name not in frame.columns]
    if missing:
        raise TraceValidationError(f"{origin}: missing column(s) {', '.join(missing)}; found {', '.join(map(repr, frame.columns))}")
    if frame.empty:
        raise TraceValidationError(f"{origin}: no rows")
    out = frame.reset_index(drop=True).copy()
    index = frame.index

    def label(row: int) -> str:
        return f"{origin}: row {index[row]!r}"

    for name in ("group", "dataset"):
        values = out[name].to_numpy(dtype=object)
        bad = [i for i, v in enumerate(values.tolist()) if not isinstance(v, str)]
        if bad:
            raise TraceValidationError(f"{label(bad[0])}: column {name!r} must be text, got {values[bad[0]]!r}")
        out[name] = out[name].astype(object)
    for name in TIME_COLUMNS:
        try:
            values = pd.to_numeric(out[name], errors="raise").to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise TraceValidationError(f"{origin}: column {name!r} must hold numbers") from None
        bad = ~np.isfinite(values) | ((values <= 0) if GROUP_COLUMNS[name].positive else False)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            need = "a positive finite number" if GROUP_COLUMNS[name].positive else "a finite number"
            raise TraceValidationError(f"{label(row)}: column {name!r} needs {need}, got {float(values[row])!r}")
        out[name] = values
    _check_semantics(out, label)
    return out


# ---------------------------------------------------------------------------------------------
# Upstream's Alibaba file, verified by its git blob id


def git_blob_sha1(data: bytes) -> str:
    """The id git gives a file's content: SHA-1 of b"blob <size>\\0" followed by the bytes."""
    digest = hashlib.sha1(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def file_git_blob_sha1(path: Path) -> str:
    """`git_blob_sha1` of a file, read in chunks."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def alibaba_url(base_url: str = BASE_URL) -> str:
    """Download URL of `alibaba_groups.csv.xz` under a base URL (upstream's pinned commit by default)."""
    return file_url(ALIBABA_FILE, base_url)


def fetch_alibaba_groups(dest: str | os.PathLike | None = None, *, base_url: str | None = None,
                         expected_blob: str | None = None) -> Path:
    """Download `alibaba_groups.csv.xz` into `dest` (default: the user cache) unless a verified copy
    is there; returns its path. The bytes must have git blob id `expected_blob` (default: upstream's
    pinned `ALIBABA_GIT_BLOB`): anything else is refused (TraceHashError) and not kept."""
    expected_blob = expected_blob or ALIBABA_GIT_BLOB
    folder = Path(dest).expanduser() if dest is not None else default_cache_dir()
    target = folder / ALIBABA_FILE
    if target.is_file() and file_git_blob_sha1(target) == expected_blob:
        return target.resolve()
    url = alibaba_url(base_url or os.environ.get(URL_ENV_VAR) or BASE_URL)
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{ALIBABA_FILE}.", suffix=".part")
    try:
        os.close(handle)
        try:
            stream_capped(url, temporary, max_bytes=ALIBABA_MAX_BYTES, digest=None, label=ALIBABA_FILE)  # stops at the bound
        except requests.exceptions.RequestException as exc:
            reply = getattr(exc, "response", None)
            reason = f"HTTP {reply.status_code}" if reply is not None else type(exc).__name__
            raise TracesNotFoundError(
                f"could not download {ALIBABA_FILE} from {url} ({reason}); put a copy in ${ENV_VAR} "
                f"or pass the file's path, or use the synthetic groups (`zeus-gym traces synth-groups`)"
            ) from exc
        got = file_git_blob_sha1(Path(temporary))
        if got != expected_blob:
            raise TraceHashError(
                f"{ALIBABA_FILE} downloaded from {url} has git blob id {got}, expected {expected_blob} "
                "(upstream's pinned file); the download was discarded"
            )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return target.resolve()


def locate_alibaba_groups(*, trace_dir: str | os.PathLike | None = None, download: bool = True,
                          base_url: str | None = None) -> Path:
    """Upstream's group file: in `trace_dir`, else in $ZEUS_GYM_TRACE_DIR, else in the user cache,
    else downloaded into the cache. Wherever it is found its git blob id is checked."""
    candidates = [Path(trace_dir)] if trace_dir is not None else []
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    for folder in candidates:
        path = folder.expanduser() / ALIBABA_FILE
        if path.is_file():
            got = file_git_blob_sha1(path)
            if got != ALIBABA_GIT_BLOB:
                raise TraceHashError(f"{path} has git blob id {got}, not upstream's {ALIBABA_GIT_BLOB}")
            return path.resolve()
    cached = default_cache_dir() / ALIBABA_FILE
    if cached.is_file() and file_git_blob_sha1(cached) == ALIBABA_GIT_BLOB:
        return cached.resolve()
    if not download:
        raise TracesNotFoundError(f"{ALIBABA_FILE} is not in {', '.join(map(str, candidates or ['-']))} nor the cache, "
                                  "and downloading is off")
    return fetch_alibaba_groups(base_url=base_url)


# ---------------------------------------------------------------------------------------------
# A table of groups, as environments and the CLI use it


def group_seed(group: str) -> int:
    """The seed the Zeus artifact (run_alibaba.py) gives a group: adler32 of its UTF-8 id."""
    return zlib.adler32(group.encode("utf-8"))


@dataclass(frozen=True, eq=False)
class Group:
    """One recurring job's submissions, in start-time order."""

    id: str
    dataset: str
    start: np.ndarray  # (N,) s
    end: np.ndarray  # (N,) s
    runtime_ratio: np.ndarray  # (N,)

    @property
    def size(self) -> int:
        """Number of submissions."""
        return len(self.start)

    @property
    def seed(self) -> int:
        """`group_seed` of the id."""
        return group_seed(self.id)


class GroupTable:
    """Validated groups, indexed by id (ids sorted as pandas' groupby sorts them)."""

    def __init__(self, frame: pd.DataFrame, origin: str) -> None:
        self.frame = frame
        self.origin = origin
        codes, ids = pd.factorize(frame["group"], sort=True)
        self.ids: list[str] = [str(i) for i in ids]
        order = np.argsort(codes, kind="stable")  # rows of each group keep their file order
        bounds = np.searchsorted(codes[order], np.arange(len(self.ids) + 1))
        self._rows = [order[bounds[i]:bounds[i + 1]] for i in range(len(self.ids))]
        self._position = {gid: i for i, gid in enumerate(self.ids)}
        self._start = frame["start_time"].to_numpy(dtype=np.float64)
        self._end = frame["end_time"].to_numpy(dtype=np.float64)
        self._ratio = frame["runtime_ratio"].to_numpy(dtype=np.float64)
        self._dataset = frame["dataset"].to_numpy(dtype=object)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def datasets(self) -> list[str]:
        """Datasets present, in `WORKLOADS` order."""
        present = set(self.frame["dataset"])
        return [name for name in WORKLOADS if name in present]

    def index_of(self, group: str | int) -> int:
        """Position of a group given by id (str) or by index (int)."""
        if isinstance(group, (int, np.integer)) and not isinstance(group, bool):
            if 0 <= group < len(self.ids):
                return int(group)
            raise ValueError(f"group index {group} is out of range: {self.origin} has {len(self.ids)} groups")
        if isinstance(group, str):
            if group in self._position:
                return self._position[group]
            raise ValueError(f"no group {group!r} in {self.origin}")
        raise ValueError(f"a group is an id (str) or an index (int), got {group!r}")

    def group(self, group: str | int) -> Group:
        """One group's submissions."""
        i = self.index_of(group)
        rows = self._rows[i]
        return Group(self.ids[i], str(self._dataset[rows[0]]), self._start[rows], self._end[rows], self._ratio[rows])

    def rows(self, group: str | int) -> pd.DataFrame:
        """One group's rows of the table (file order), as the reference simulator takes them."""
        return self.frame.iloc[self._rows[self.index_of(group)]]


def load_groups(source: GroupSource, *, trace_dir: str | os.PathLike | None = None, synthetic_groups: int = 1000,
                synthetic_seed: int = 0) -> GroupTable:
    """Groups from a file path, "alibaba" (upstream's file, verified), "synthetic" (the synthetic
    generator with `synthetic_groups` and `synthetic_seed`), or a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return GroupTable(validate_groups(source), "the groups DataFrame")
    if isinstance(source, str) and source == "alibaba":
        path = locate_alibaba_groups(trace_dir=trace_dir)
        return GroupTable(read_groups(path), str(path))
    if isinstance(source, str) and source == "synthetic":
        from zeus_gym.cluster.synth import synthesize_groups

        frame = synthesize_groups(synthetic_groups, seed=synthetic_seed)
        return GroupTable(validate_groups(frame, "synthetic groups"), f"synthetic groups (n={synthetic_groups}, seed={synthetic_seed})")
    if isinstance(source, (str, os.PathLike)):
        return GroupTable(read_groups(source), str(source))
    raise ValueError(f"groups must be a file path, 'alibaba', 'synthetic' or a DataFrame, got {type(source).__name__}")
