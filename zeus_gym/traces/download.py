"""Bounded downloads: stream a file, hash it as it arrives, stop as soon as it is longer than it
may be. A mirror that streams 314 MB for a 32 KB file costs one byte over the pinned size, not
314 MB of disk, and the hash is known without reading the file again."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any, Callable

import requests

from zeus_gym.traces.errors import TraceHashError

CHUNK = 1 << 16
# Upstream's alibaba_groups.csv.xz is pinned by its git blob id only (which covers its size, but
# the size is not known beforehand): its download stops at this bound instead.
ALIBABA_MAX_BYTES = 64 * 1024 * 1024


class TooLarge(TraceHashError):
    """A download went past its pinned size (or bound) and was stopped."""


def stream_capped(url: str, output_file: str | Path, *, max_bytes: int, digest: Any | None, label: str,
                  expected: str = "", timeout: float = 60, progress: bool = False) -> int:
    """Write the body of `url` into `output_file`, feeding each chunk to `digest` (a hashlib
    object, or None), and stop with `TooLarge` once more than `max_bytes` have arrived (or the server
    announces more). `expected` (e.g. "SHA-256 ...") is added to that message. Returns the number
    of bytes written. HTTP errors raise `requests`' own exceptions, so callers word them."""
    pinned = f"{max_bytes} bytes" + (f", {expected}" if expected else "")
    with requests.get(url, stream=True, timeout=timeout) as response:
        response.raise_for_status()
        announced = response.headers.get("Content-Length", "")
        if announced.isdigit() and int(announced) > max_bytes:
            raise TooLarge(f"{label} from {url} is announced as {int(announced)} bytes, more than its {pinned}; "
                           "nothing was written and the download was discarded")
        bar = _progress_bar(progress, max_bytes, label)
        written = 0
        with open(output_file, "wb") as file:
            for chunk in response.iter_content(CHUNK):
                written += len(chunk)
                if written > max_bytes:
                    raise TooLarge(f"{label} from {url} is longer than its {pinned}: the download was stopped "
                                   f"after {written} bytes and discarded")
                if digest is not None:
                    digest.update(chunk)
                file.write(chunk)
                bar(len(chunk))
    return written


def _progress_bar(progress: bool, total: int, label: str) -> Callable[[int], None]:
    """A tqdm bar's update if asked for and tqdm is there (an optional dependency), else a no-op."""
    if not progress or importlib.util.find_spec("tqdm") is None:
        return lambda n: None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=True).update


class PinnedDownloader:
    """A pooch downloader for a file of pinned size: streams with `stream_capped` and keeps the
    SHA-256 of what arrived (for the mismatch message; pooch checks the hash itself)."""

    def __init__(self, size: int, sha256: str, label: str, progress: bool = False) -> None:
        self.size, self.expected, self.label, self.progress = size, sha256, label, progress
        self.sha256: str | None = None

    def __call__(self, url: str, output_file: str, pup: object, check_only: bool = False) -> bool | None:
        if check_only:  # pooch asks whether the URL exists; we only ever download
            return requests.head(url, timeout=60, allow_redirects=True).ok
        digest = hashlib.sha256()
        stream_capped(url, output_file, max_bytes=self.size, digest=digest, label=self.label,
                      expected=f"SHA-256 {self.expected} (pinned registry)", progress=self.progress)
        self.sha256 = digest.hexdigest()
        return None
