"""Which files of a trace folder are trace files: the GPU name rule, and what a path is when it
is not a regular file (so that errors say "a symlink to /dev/zero", not "missing")."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from zeus_gym.traces.registry import POWER_PREFIX, POWER_SUFFIX

# What makes a GPU name in summary_power_<gpu>.csv: lower-case letters, digits, "_" and "-".
# So summary_power_a40.bak.csv (a backup) and summary_power_.csv are not GPUs "a40.bak" and "".
GPU_NAME = re.compile(r"[a-z0-9_-]+", re.ASCII)
GPU_NAME_RULE = "GPU names are made of a-z, 0-9, '_' and '-'"


def describe_file_kind(path: Path) -> str | None:
    """What a path is when it is not a regular file ("a symlink to /dev/zero, a character
    device"); None for a regular file or a path that does not exist at all."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"a broken symlink (to {os.readlink(path)})" if os.path.islink(path) else None
    except OSError as error:
        return f"unreadable ({error.strerror})"
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISFIFO: "a named pipe", stat.S_ISSOCK: "a socket"}
    kind = next((name for test, name in kinds.items() if test(mode)), "not a regular file")
    return f"a symlink to {os.path.realpath(path)}, {kind}" if os.path.islink(path) else kind


def missing_file(path: Path) -> str:
    """A required file's name for a "lacks ..." message, with what stands in its place if anything."""
    kind = describe_file_kind(path)
    return path.name if kind is None else f"{path.name} (it is {kind}, not a regular file)"


@dataclass
class PowerFiles:
    """The power trace files of a folder: GPU -> path (regular files, sorted by GPU), files named
    like a GPU's that are not regular files (path -> what they are), and files that look like
    power traces but whose name makes no GPU (path -> why)."""

    gpus: dict[str, Path] = field(default_factory=dict)
    unreadable: dict[Path, str] = field(default_factory=dict)
    ignored: dict[Path, str] = field(default_factory=dict)

    def describe_ignored(self) -> str:
        """One line about the ignored files ("" if none)."""
        return "; ".join(f"ignored {path.name}: {why}" for path, why in self.ignored.items())


def scan_power_files(folder: Path) -> PowerFiles:
    """Sort the folder's summary_power_*.csv files into GPUs, unreadable and ignored."""
    found = PowerFiles()
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        name = path.name
        if not (name.startswith(POWER_PREFIX) and name.endswith(POWER_SUFFIX)) or len(name) < len(POWER_PREFIX) + len(POWER_SUFFIX):
            continue
        gpu = name[len(POWER_PREFIX): len(name) - len(POWER_SUFFIX)]
        if not GPU_NAME.fullmatch(gpu):
            found.ignored[path] = f"{gpu!r} is not a GPU name ({GPU_NAME_RULE})"
            continue
        kind = describe_file_kind(path)
        if kind is None:
            found.gpus[gpu] = path
        else:
            found.unreadable[path] = kind
    found.gpus = dict(sorted(found.gpus.items()))
    return found


def missing_power_files(folder: Path) -> str:
    """The "lacks ..." text for a folder without a usable power file, naming what is there instead."""
    found = scan_power_files(folder)
    notes = [f"{path.name} is {kind}" for path, kind in found.unreadable.items()]
    notes += [f"{path.name} was ignored: {why}" for path, why in found.ignored.items()]
    return f"any {POWER_PREFIX}<gpu>{POWER_SUFFIX}" + (f" ({'; '.join(notes)})" if notes else "")
