"""Read one trace CSV as text, convert its columns exactly, and reject malformed content."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zeus_gym.traces.errors import TraceValidationError


@dataclass(frozen=True)
class Column:
    """How a required column is parsed: text, int or float; positive; optional floats may be NaN."""

    kind: str
    positive: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Schema:
    """Required columns of one kind of trace file, and the columns that identify a row."""

    columns: dict[str, Column]
    key: tuple[str, ...]


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
        "target_epoch": Column("float", positive=True, optional=True),
    },
    key=(*_CONFIG, "run", "target_metric"),
)
POWER_SCHEMA = Schema(
    columns={
        **_CONFIG,
        "power_limit": Column("int", positive=True),
        "time_per_epoch": Column("float", positive=True),
        "average_power": Column("float", positive=True),
    },
    key=(*_CONFIG, "power_limit"),
)

# At most 18 digits, so that every accepted integer fits int64 without overflow checks.
_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")


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


def _parse_floats(text: np.ndarray, rows: np.ndarray, column: str, where: _Where) -> np.ndarray:
    """Correctly rounded floats; pandas' own fast float parser is off by one bit for some values."""
    items = text[rows].tolist()
    try:
        return np.asarray(items, dtype=np.float64)
    except ValueError:
        pass
    values = []
    for row, item in zip(rows, items):
        try:
            values.append(float(item))
        except ValueError:
            raise where.fail(column, row, "expected a number", item) from None
    return np.asarray(values, dtype=np.float64)


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
        values[present] = _parse_floats(text, np.flatnonzero(present), column, where)
        # An optional value may be empty or spelled NaN (upstream writes "nan" for never reached).
        bad = present & (np.isinf(values) if spec.optional else ~np.isfinite(values))
        if bad.any():
            row = _first(bad)
            raise where.fail(column, row, "expected a finite number", text[row])
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


def _read_text(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The file's cells as text with blank lines dropped, and each remaining row's line number."""
    try:
        # index_col=False and the warning made an error: otherwise pandas quietly turns a first
        # data row with more fields than the header into an index or drops the extra fields.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            raw = pd.read_csv(
                path, dtype=str, keep_default_na=False, skip_blank_lines=False, index_col=False
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
    raw, lines = _read_text(path)
    missing = [name for name in schema.columns if name not in raw.columns]
    if missing:
        raise TraceValidationError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(repr, raw.columns))}"
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
    return frame
