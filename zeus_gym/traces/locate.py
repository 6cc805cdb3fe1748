"""Find the trace folder: the explicit argument, the environment variable, else the copy shipped
with zeus-gym (hash-checked once per process). `fetch_traces` downloads fresh upstream copies."""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

import platformdirs

from zeus_gym.traces.errors import TraceHashError, TracesNotFoundError
from zeus_gym.traces.files import missing_file, missing_power_files, scan_power_files
from zeus_gym.traces.registry import (
    BASE_URL,
    REGISTRY,
    TRAIN_FILE,
    UPSTREAM_COMMIT,
    file_url,
)

ENV_VAR = "ZEUS_GYM_TRACE_DIR"
URL_ENV_VAR = "ZEUS_GYM_TRACE_URL"

HOW_TO_POINT = (
    "zeus-gym ships these traces, so nothing else needs this download; retry where there is a "
    f"network, or give a mirror with --base-url or {URL_ENV_VAR}"
)
# Package data: the five upstream files, byte for byte, with upstream's LICENSE and a NOTICE.
EMBEDDED_PACKAGE, EMBEDDED_FOLDER = "zeus_gym.traces", "data/zeus_nsdi23"
EMBEDDED = "embedded"


class Located(NamedTuple):
    """A trace folder and how it was found: "argument", "env var ZEUS_GYM_TRACE_DIR" or "embedded"."""

    path: Path
    source: str


def default_cache_dir() -> Path:
    """Per-user cache folder for what zeus-gym does not ship (upstream's Alibaba group file)."""
    base = platformdirs.user_cache_path("zeus-gym", appauthor=False)
    return base / "zeus_nsdi23" / UPSTREAM_COMMIT[:12]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def power_files(folder: Path) -> dict[str, Path]:
    """GPU name -> path of each summary_power_<gpu>.csv in a folder, sorted by GPU name."""
    return scan_power_files(folder).gpus  # the GPU name rule: zeus_gym.traces.files


def check_trace_folder(folder: Path, origin: str) -> Path:
    """Return the folder made absolute if it holds a train file and at least one power file."""
    folder = folder.expanduser()
    if not folder.is_dir():
        problem = "does not exist" if not folder.exists() else "is not a folder"
        raise TracesNotFoundError(f"trace folder {folder} (from {origin}) {problem}")
    missing = []
    if not (folder / TRAIN_FILE).is_file():
        missing.append(missing_file(folder / TRAIN_FILE))
    if not power_files(folder):
        missing.append(missing_power_files(folder))
    if missing:
        raise TracesNotFoundError(
            f"trace folder {folder} (from {origin}) lacks {' and '.join(missing)}"
        )
    return folder.resolve()




@contextmanager
def _pooch_log_level(level: int) -> Iterator[None]:
    """Quiet pooch's per-file INFO lines unless progress was asked for."""
    import pooch  # here, as in `_fetch_one`: only a download needs it (a tenth of a second of every start-up)

    logger = pooch.get_logger()
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _fetch_one(name: str, dest: Path, base_url: str, progress: bool) -> None:
    """Download one registry file into dest unless it is already there and valid."""
    import pooch
    import requests

    from zeus_gym.traces.download import PinnedDownloader

    url = file_url(name, base_url)
    expected = REGISTRY[name].sha256
    recorder = PinnedDownloader(REGISTRY[name].size, expected, name, progress)  # stops at the pinned size
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{expected}",
            fname=name,
            path=dest,
            downloader=recorder,
        )
    except requests.exceptions.RequestException as exc:
        response = getattr(exc, "response", None)
        reason = f"HTTP {response.status_code}" if response is not None else type(exc).__name__
        raise TracesNotFoundError(
            f"could not download {name} from {url} ({reason}); {HOW_TO_POINT}"
        ) from exc
    except ValueError as exc:
        # pooch deletes a mismatching download itself; only the message is ours to improve.
        if recorder.sha256 is None or recorder.sha256 == expected:
            raise
        raise TraceHashError(
            f"{name} downloaded from {url} has SHA-256 {recorder.sha256}, expected {expected} "
            "(pinned registry); the download was discarded"
        ) from exc


def fetch_traces(
    dest: Path | None = None, *, base_url: str | None = None, progress: bool = False
) -> Path:
    """Download every pinned trace file from upstream (or a mirror) into dest (default: the user
    cache), verified by SHA-256; zeus-gym ships the same bytes, so this is only for checking them."""
    folder = Path(dest).expanduser() if dest is not None else default_cache_dir()
    base = base_url or os.environ.get(URL_ENV_VAR) or BASE_URL
    with _pooch_log_level(logging.INFO if progress else logging.WARNING):
        for name in REGISTRY:
            _fetch_one(name, folder, base, progress)
    return folder.resolve()


def verify_pinned(folder: Path, what: str) -> Path:
    """`folder`, made absolute, if it holds every registry file with its pinned size and SHA-256;
    else the error names the file, the hashes and what to do."""
    for name, pinned in REGISTRY.items():
        path = folder / name
        if not path.is_file():
            raise TracesNotFoundError(f"{what} lacks {path}: the installation is incomplete; reinstall zeus-gym")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if (len(data), digest) != pinned:
            raise TraceHashError(
                f"{path} ({what}) has {len(data)} B and SHA-256 {digest}, pinned {pinned.size} B and "
                f"{pinned.sha256}: the installation is damaged; reinstall zeus-gym"
            )
    return folder.resolve()


@functools.lru_cache(maxsize=1)
def embedded_trace_dir() -> Path:
    """The folder of the traces shipped in the package, each file checked against its pinned size
    and SHA-256 at the first call of a process (about 1 ms)."""
    folder = Path(str(importlib.resources.files(EMBEDDED_PACKAGE).joinpath(EMBEDDED_FOLDER)))
    return verify_pinned(folder, "the traces shipped with zeus-gym")


def locate_traces(trace_dir: str | os.PathLike[str] | None = None, *, origin: str = "the trace_dir argument") -> Located:
    """Find the trace folder and say how: the argument (`origin` names it in errors), else
    $ZEUS_GYM_TRACE_DIR, else the copy shipped with zeus-gym. Never downloads."""
    if trace_dir is not None:
        return Located(check_trace_folder(Path(trace_dir), origin), "argument")
    from_env = os.environ.get(ENV_VAR)
    if from_env:
        return Located(check_trace_folder(Path(from_env), f"${ENV_VAR}"), f"env var {ENV_VAR}")
    return Located(embedded_trace_dir(), EMBEDDED)


def resolve_trace_dir(trace_dir: str | os.PathLike[str] | None = None) -> Path:
    """The trace folder: trace_dir, else $ZEUS_GYM_TRACE_DIR, else the copy shipped with zeus-gym."""
    return locate_traces(trace_dir).path
