"""Helpers for tests of trace handling: a local HTTP mirror and copies of a trace folder."""

from __future__ import annotations

import functools
import shutil
import socket
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterable, Iterator

from zeus_gym.traces.registry import REGISTRY


@dataclass
class LocalMirror:
    """Base URL of a folder served on 127.0.0.1, and the paths requested so far."""

    url: str
    requests: list[str] = field(default_factory=list)


class _Handler(SimpleHTTPRequestHandler):
    mirror: LocalMirror

    def do_GET(self) -> None:
        self.mirror.requests.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up mid-file (a download stopped at its pinned size) is no error."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serve_folder(folder: Path) -> Iterator[LocalMirror]:
    """Serve a folder over HTTP on 127.0.0.1 at a free port, in a thread, while the block runs."""
    mirror = LocalMirror(url="")
    handler = type("Handler", (_Handler,), {"mirror": mirror})
    serve = functools.partial(handler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), serve)
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/"
    # A short poll interval keeps shutdown (and so each test) quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens: downloads fail as they would offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def copy_traces(source: Path, dest: Path, names: Iterable[str] = tuple(REGISTRY)) -> Path:
    """Copy trace files (default: the pinned set) into dest, writable, and return dest."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(source / name, dest / name)
    return dest
