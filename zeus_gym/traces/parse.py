"""Read one trace CSV as text, convert its columns exactly, and reject malformed content."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from zeus_gym.traces.errors import TraceValidationError
from zeus_gym.traces.files import describe_file_kind

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Column:
    """How a required column is parsed: text, int or float; positive; optional floats may be NaN;
    whole (a float that must be a whole number, such as a count of epochs that may be missing)."""

    kind: str
    positive: bool = False
    optional: bool = False
    whole: bool = False


@dataclass(frozen=True)
class Schema:
    """Required columns of one kind of trace file, the columns that identify a row, and a check of
    the parsed frame as a whole (row positions of a problem are reported through `_Where`)."""

    columns: dict[str, Column]
    key: tuple[str, ...]
    check: Callable[[pd.DataFrame, "_Where"], None] | None = None


_TEXT = Column("text")
# The columns that name a training configuration, shared by both kinds of file.
_CONFIG = {
    "dataset": _TEXT,
    "network": _TEXT,
    "batch_size": Column("int", positive=True),
    "optimizer": _TEXT,
}
TRAIN_SCHEMA = Schema(
    columns={
        **_CONFIG,
        "learning_rate": Column("float"),
        "run": Column("int"),
        "target_metric": Column("float"),
        # The simulator charges whole epochs: 2.5 would be charged as 2.5 epochs but reported as 2.
        "target_epoch": Column("float", positive=True, optional=True, whole=True),
    },
    key=(*_CONFIG, "run", "target_metric"),
)

# Largest ratio allowed between two rows' time per epoch, or energy per epoch, in one power file.
# Every cost the environments observe is a ratio of such costs (normalized by the job's Default
# cost) times at most max_epochs, retries and beta: within this spread they fit a float32 Box
# with a huge margin (3.4e38), while the real traces span less than 1e3.
MAX_COST_SPREAD = 1e20


def _check_cost_range(frame: pd.DataFrame, where: "_Where") -> None:
    """Refuse rows whose derived per-epoch costs (time, energy = time x power) overflow or
    underflow, or lie so far from the file's other rows that the costs the environments observe
    (ratios of them) could not be held by their float32 spaces."""
    time = frame["time_per_epoch"].to_numpy(dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        energy = time * frame["average_power"].to_numpy(dtype=np.float64)
    derived = (("time_per_epoch", time), ("energy per epoch (time_per_epoch x average_power)", energy))
    for name, array in derived:
        bad = ~np.isfinite(array) | (array < np.finfo(np.float64).tiny)
        if bad.any():
            row, value = _first(bad), float(array[_first(bad)])
            raise TraceValidationError(
                f"{where.path}: line {where.lines[row]}: {name} is {value!r}, which {'overflows' if value > 1 else 'underflows'} "
                "the costs derived from it; each row's time_per_epoch and average_power must give a finite, normal energy per epoch"
            )
    for name, array in derived:
        values = array.tolist()  # Python floats, for messages
        logs = np.log(array)  # ratios of values near the float64 limits overflow; differences of logs do not
        low, high = int(np.argmin(logs)), int(np.argmax(logs))
        if logs[high] - logs[low] > np.log(MAX_COST_SPREAD):
            # The row further (in log scale) from the file's median is the odd one out.
            median = float(np.median(logs))
            row = low if median - logs[low] > logs[high] - median else high
            raise TraceValidationError(
                f"{where.path}: line {where.lines[row]}: {name} {values[row]!r} is more than {MAX_COST_SPREAD:.0e} times "
                f"{'smaller' if row == low else 'larger'} than on line {where.lines[high if row == low else low]} "
                f"({values[high if row == low else low]!r}): the costs the environments derive from them would not fit their float32 spaces"
            )


POWER_SCHEMA = Schema(
    columns={
        **_CONFIG,
        "power_limit": Column("int", positive=True),
        "time_per_epoch": Column("float", positive=True),
        "average_power": Column("float", positive=True),
    },
    key=(*_CONFIG, "power_limit"),
    check=_check_cost_range,
)

# At most 18 digits, so that every accepted integer fits int64 without overflow checks. ASCII
# only: Python's int() and float() also take other scripts' digits and "1_000".
_INTEGER = re.compile(r"[ \t]*[+-]?[0-9]{1,18}[ \t]*", re.ASCII)
# A plain decimal literal (12, -0.5, .5, 1e-3), or inf / nan in any case (refused or allowed by
# the finiteness rules below, with their own message). Not "9_46.5" (946.5 to Python), not "0x10".
_NUMBER = re.compile(r"[ \t]*(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity|nan))[ \t]*", re.ASCII)
# The header is read apart before pandas sees the file: a hostile header (200,000 columns, or no
# newline in a large file) is refused at once instead of costing pandas minutes.
MAX_HEADER_BYTES = 64 * 1024
MAX_COLUMNS = 1000


class _Where:
    """A file and the CSV line number of each data row, for error messages."""

    def __init__(self, path: Path, lines: np.ndarray) -> None:
        self.path = path
        self.lines = lines

    def fail(self, column: str, row: int, problem: str, value: str) -> TraceValidationError:
        """The error for one bad cell (row is the position among data rows)."""
        return TraceValidationError(
            f"{self.path}: column {column!r}, line {self.lines[row]}: {problem}, got {value!r}"
        )


def _first(mask: np.ndarray) -> int:
    """Position of the first True."""
    return int(np.flatnonzero(mask)[0])


def _parse_floats(raw: pd.Series, text: np.ndarray, rows: np.ndarray, column: str, where: _Where) -> np.ndarray:
    """Correctly rounded floats of plain decimal literals (pandas' own fast float parser is off by
    one bit for some values; numpy's conversion of the checked text is Python's float())."""
    bad = ~raw.iloc[rows].str.fullmatch(_NUMBER).to_numpy(dtype=bool)
    if bad.any():
        row = int(rows[_first(bad)])
        raise where.fail(column, row, "expected a number (a plain decimal literal such as 12, 0.5 or 1e-3)", text[row])
    return np.asarray(text[rows].tolist(), dtype=np.float64)


def _convert(raw: pd.Series, column: str, spec: Column, where: _Where) -> pd.Series | np.ndarray:
    """One column converted to its dtype, or the first offending row reported."""
    text = raw.to_numpy(dtype=object)
    empty = raw.str.strip().eq("").to_numpy()
    if spec.optional:
        present = ~empty
    elif empty.any():
        row = _first(empty)
        raise where.fail(column, row, "empty value where one is required", text[row])
    else:
        present = np.ones(len(text), dtype=bool)
    if spec.kind == "text":
        return raw
    if spec.kind == "int":
        bad = ~raw.str.fullmatch(_INTEGER).to_numpy(dtype=bool)
        if bad.any():
            row = _first(bad)
            raise where.fail(column, row, "expected an integer", text[row])
        values = text.astype(str).astype(np.int64)
    else:
        values = np.full(len(text), np.nan)
        values[present] = _parse_floats(raw, text, np.flatnonzero(present), column, where)
        # An optional value may be empty or spelled NaN (upstream writes "nan" for never reached).
        bad = present & (np.isinf(values) if spec.optional else ~np.isfinite(values))
        if bad.any():
            row = _first(bad)
            raise where.fail(column, row, "expected a finite number", text[row])
        if spec.whole:
            fractional = np.isfinite(values) & (values != np.floor(values))
            if fractional.any():
                row = _first(fractional)
                raise where.fail(column, row, "expected a whole number", text[row])
    if spec.positive:
        not_positive = present & (values <= 0)
        if not_positive.any():
            row = _first(not_positive)
            raise where.fail(column, row, "expected a positive value", text[row])
    return values


def _check_unique(frame: pd.DataFrame, key: tuple[str, ...], where: _Where) -> None:
    """Reject two rows that describe the same configuration, naming both lines."""
    later = frame.duplicated(subset=list(key), keep="first").to_numpy()
    if not later.any():
        return
    row = _first(later)
    same = (frame[list(key)] == frame.loc[row, list(key)]).all(axis=1).to_numpy()
    earlier = _first(same)
    config = ", ".join(f"{name}={frame.at[row, name]}" for name in key)
    raise TraceValidationError(
        f"{where.path}: lines {where.lines[earlier]} and {where.lines[row]} both describe "
        f"({config}); each configuration may appear once (columns {', '.join(key)})"
    )


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, refusing anything that is not a regular file before opening it (reading
    /dev/zero or a named pipe would never end)."""
    kind = describe_file_kind(path)
    if kind is not None:
        raise TraceValidationError(f"{path}: is {kind}, not a regular file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TraceValidationError(f"{path}: cannot be read: {error.strerror}") from None
    decompress = _DECOMPRESS.get(path.suffix.lower())
    if decompress is None:
        return data
    try:
        return decompress(data)
    except Exception as error:  # each codec has its own error types (lzma.LZMAError, OSError, EOFError, ...)
        raise TraceValidationError(f"{path}: cannot be decompressed ({path.suffix}): {error}") from None


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if len(names) != 1:
            raise ValueError(f"a .zip must hold exactly one file, it holds {len(names)}")
        return archive.read(names[0])


# Compressed files, by suffix (as pandas infers them, for the formats the stdlib reads).
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {".xz": lzma.decompress, ".gz": gzip.decompress, ".bz2": bz2.decompress, ".zip": _unzip}


_LINE_END = re.compile(rb"\r\n?|\n")  # what pandas' C parser ends a line at


def _check_shape(path: Path, data: bytes) -> None:
    """Refuse, before pandas sees them, a header that is too long or too wide or has an empty or
    a repeated column name (pandas would rename a second `power_limit` to `power_limit.1` and go
    on), and lines with more than MAX_COLUMNS fields (pandas takes minutes on a few MB of them)."""
    end = _LINE_END.search(data, 0, MAX_HEADER_BYTES + 2)
    if end is None and len(data) > MAX_HEADER_BYTES:
        raise TraceValidationError(f"{path}: the header line is longer than {MAX_HEADER_BYTES} bytes: not a trace file")
    line = data[: len(data) if end is None else end.start()]
    if line.count(b",") >= MAX_COLUMNS:
        raise TraceValidationError(f"{path}: the header has more than {MAX_COLUMNS} columns: not a trace file")
    # Commas bound the fields from above (a quoted field may hold commas; no trace cell holds 1000).
    for number, text in enumerate(_LINE_END.split(data), start=1):
        if text.count(b",") >= MAX_COLUMNS:
            raise TraceValidationError(f"{path}: line {number} has more than {MAX_COLUMNS} fields: not a trace file")
    try:
        names = next(csv.reader([line.decode("utf-8")]), [])
    except (UnicodeDecodeError, csv.Error) as error:
        raise TraceValidationError(f"{path}: line 1 (the header) cannot be read: {error}") from None
    if not names or names == [""]:
        return  # empty or blank first line: pandas' own message says so
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise TraceValidationError(f"{path}: line 1 (the header): column {position} has no name")
        if name in seen:
            raise TraceValidationError(f"{path}: line 1 (the header): column name {name!r} appears twice "
                                       f"(columns {seen[name]} and {position}); each column may appear once")
        seen[name] = position


def _read_text(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The file's cells as text with blank lines dropped, and each remaining row's line number."""
    import pandas as pd  # imported by the first parse, not by every start-up (a fifth of a second)

    data = _read_bytes(path)
    _check_shape(path, data)
    try:
        # index_col=False and the warning made an error: otherwise pandas quietly turns a first
        # data row with more fields than the header into an index or drops the extra fields.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                io.BytesIO(data), dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False
            )
    except pd.errors.EmptyDataError:
        raise TraceValidationError(f"{path}: file is empty (no header line)") from None
    except pd.errors.ParserWarning:
        raise TraceValidationError(f"{path}: a row has more fields than the header") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise TraceValidationError(f"{path}: cannot be read as CSV: {detail}") from None
    # Blank lines are kept while reading so that row positions map to line numbers (header = 1).
    lines = np.arange(2, len(raw) + 2)
    blank = raw.fillna("").eq("").all(axis=1).to_numpy()
    return raw[~blank].reset_index(drop=True), lines[~blank]


def read_trace_csv(path: Path, schema: Schema) -> pd.DataFrame:
    """Parse and validate one trace file; extra columns are kept as text, row order is kept."""
    import pandas as pd

    raw, lines = _read_text(path)
    missing = [name for name in schema.columns if name not in raw.columns]
    if missing:
        raise TraceValidationError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(repr, raw.columns[:20]))}{f' and {len(raw.columns) - 20} more' if len(raw.columns) > 20 else ''}"
        )
    if raw.empty:
        raise TraceValidationError(f"{path}: no data rows after the header")
    where = _Where(path, lines)
    raw = raw.fillna("")
    frame = pd.DataFrame(
        {
            name: _convert(raw[name], name, schema.columns[name], where)
            if name in schema.columns
            else raw[name]
            for name in raw.columns
        }
    )
    _check_unique(frame, schema.key, where)
    if schema.check is not None:
        schema.check(frame, where)
    return frame
