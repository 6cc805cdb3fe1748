"""Load a trace folder into a validated TraceSet, parsing each folder state once per process."""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Mapping


from zeus_gym.traces.errors import TraceValidationError
from zeus_gym.traces.files import GPU_NAME_RULE, PowerFiles, describe_file_kind, scan_power_files
from zeus_gym.traces.locate import resolve_trace_dir
from zeus_gym.traces.parse import POWER_SCHEMA, TRAIN_SCHEMA, read_trace_csv
from zeus_gym.traces.registry import POWER_PREFIX, POWER_SUFFIX, TRAIN_FILE

if TYPE_CHECKING:  # only for annotations: importing pandas is a fifth of a second of every start-up
    import pandas as pd


# eq=False: field-wise equality would compare DataFrames, which has no single truth value.
@dataclass(frozen=True, eq=False)
class TraceSet:
    """Parsed train and per-GPU power traces of one folder; shared between callers, so read-only."""

    root: Path
    train: pd.DataFrame
    power: Mapping[str, pd.DataFrame]
    # Files named like power traces whose name makes no GPU (name -> why), e.g. a40.bak.
    ignored: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def gpus(self) -> tuple[str, ...]:
        """GPU names that have a power trace, sorted."""
        return tuple(sorted(self.power))


class TraceFileIgnored(UserWarning):
    """A file in a trace folder looks like a power trace but its name makes no GPU."""


def _trace_files(root: Path) -> tuple[Path, PowerFiles]:
    """The train file and the power files, refusing any that is not a regular file (a symlink
    to /dev/zero, a named pipe, ...) by what it is."""
    train = root / TRAIN_FILE
    found = scan_power_files(root)
    for path, kind in [(train, describe_file_kind(train)), *found.unreadable.items()]:
        if kind is not None:
            raise TraceValidationError(f"{path}: is {kind}, not a regular file")
    if not found.gpus:
        raise TraceValidationError(f"{root}: no power trace file {POWER_PREFIX}<gpu>{POWER_SUFFIX} ({GPU_NAME_RULE}); "
                                   + found.describe_ignored())
    return train, found


def _folder_stamp(train: Path, found: PowerFiles) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of each trace file: a changed file or a new GPU means a re-parse."""
    paths = [train, *found.gpus.values(), *found.ignored]
    return tuple((p.name, (st := p.stat()).st_mtime_ns, st.st_size) for p in paths)


@functools.lru_cache(maxsize=8)
def _parse_folder(root: Path, stamp: tuple[tuple[str, int, int], ...]) -> TraceSet:
    """Parse a folder; stamp is only part of the cache key."""
    del stamp
    train, found = _trace_files(root)
    if found.ignored:
        # Said once per folder state (this is cached), and kept on the TraceSet for `traces info`.
        warnings.warn(f"{root}: {found.describe_ignored()}", TraceFileIgnored, stacklevel=4)
    power = {gpu: read_trace_csv(path, POWER_SCHEMA) for gpu, path in found.gpus.items()}
    return TraceSet(
        root=root,
        train=read_trace_csv(train, TRAIN_SCHEMA),
        power=MappingProxyType(power),
        ignored=MappingProxyType({path.name: why for path, why in found.ignored.items()}),
    )


def load_trace_set(trace_dir: str | os.PathLike[str] | None = None) -> TraceSet:
    """Locate (see resolve_trace_dir), parse and validate a trace folder; cached per file state.
    Files named summary_power_<x>.csv whose <x> is not a GPU name are ignored with a
    `TraceFileIgnored` warning (and listed in `TraceSet.ignored`)."""
    root = resolve_trace_dir(trace_dir)
    return _parse_folder(root, _folder_stamp(*_trace_files(root)))
