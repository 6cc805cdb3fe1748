"""Load a trace folder into a validated TraceSet, parsing each folder state once per process."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import pandas as pd

from zeus_gym.traces.locate import power_files, resolve_trace_dir
from zeus_gym.traces.parse import POWER_SCHEMA, TRAIN_SCHEMA, read_trace_csv
from zeus_gym.traces.registry import TRAIN_FILE


# eq=False: field-wise equality would compare DataFrames, which has no single truth value.
@dataclass(frozen=True, eq=False)
class TraceSet:
    """Parsed train and per-GPU power traces of one folder; shared between callers, so read-only."""

    root: Path
    train: pd.DataFrame
    power: Mapping[str, pd.DataFrame]

    @property
    def gpus(self) -> tuple[str, ...]:
        """GPU names that have a power trace, sorted."""
        return tuple(sorted(self.power))


def _folder_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, mtime and size of each trace file: a changed file or a new GPU means a re-parse."""
    paths = [root / TRAIN_FILE, *power_files(root).values()]
    return tuple((p.name, (st := p.stat()).st_mtime_ns, st.st_size) for p in paths)


@functools.lru_cache(maxsize=8)
def _parse_folder(root: Path, stamp: tuple[tuple[str, int, int], ...]) -> TraceSet:
    """Parse a folder; stamp is only part of the cache key."""
    del stamp
    power = {gpu: read_trace_csv(path, POWER_SCHEMA) for gpu, path in power_files(root).items()}
    return TraceSet(
        root=root,
        train=read_trace_csv(root / TRAIN_FILE, TRAIN_SCHEMA),
        power=MappingProxyType(power),
    )


def load_trace_set(trace_dir: str | os.PathLike[str] | None = None) -> TraceSet:
    """Locate (see resolve_trace_dir), parse and validate a trace folder; cached per file state."""
    root = resolve_trace_dir(trace_dir)
    return _parse_folder(root, _folder_stamp(root))
