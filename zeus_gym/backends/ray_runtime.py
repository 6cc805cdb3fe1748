"""Ray for the sweeps: importing it, joining or starting a Ray instance, and files that travel with
the tasks (the trace files, an agent's own files) to workers on machines that lack them."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

from zeus_gym.backends import RAY_EXTRA


def _amdsmi_is_broken() -> bool:
    """True if the `amdsmi` package is installed but cannot be imported (it raises KeyError, not
    ImportError, when its library libamd_smi.so is missing: zeus requires the package on every
    machine, GPUs or not)."""
    if importlib.util.find_spec("amdsmi") is None:
        return False
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its failure to stdout
            import amdsmi  # noqa: F401
    except ImportError:
        return False
    except Exception:
        return True
    return False


def _amdsmi_blocker() -> Path:
    """A folder whose `amdsmi` package raises ImportError: put first on PYTHONPATH, it makes a
    broken amdsmi look absent to the Ray processes started from here."""
    folder = Path(tempfile.gettempdir()) / "zeus-gym-ray" / "amdsmi-blocker"
    package = folder / "amdsmi"
    if not (package / "__init__.py").is_file():
        package.mkdir(parents=True, exist_ok=True)
        temporary = package / f".__init__.py.{os.getpid()}"
        temporary.write_text('raise ImportError("amdsmi cannot load libamd_smi.so here (blocked by zeus-gym for Ray)")\n')
        os.replace(temporary, package / "__init__.py")
    return folder


_BLOCKER: list[Path] = []  # set once a broken amdsmi was found in this process


def import_ray() -> ModuleType:
    """The `ray` module, or a one-line error saying which extra to install.

    Ray probes for AMD GPUs when it is imported, in every process it starts, and only expects
    ImportError from `import amdsmi`; a broken amdsmi would crash them all. So where amdsmi is
    broken, this process sees it as absent, and `child_environment` does the same for the Ray
    processes it starts."""
    if "ray" not in sys.modules and _amdsmi_is_broken():
        sys.modules["amdsmi"] = None  # type: ignore[assignment]  # import amdsmi -> ImportError
        _BLOCKER.append(_amdsmi_blocker())
    try:
        import ray
    except ImportError:
        raise ValueError(f"--backend ray needs Ray, which is not installed: {RAY_EXTRA}") from None
    return ray


@contextlib.contextmanager
def child_environment() -> Iterator[None]:
    """While Ray starts its processes (a local instance): where amdsmi is broken, they get the
    blocker first on PYTHONPATH. They keep it, and so do the workers they start later."""
    if not _BLOCKER:
        yield
        return
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(_BLOCKER[0]), *([before] if before else [])])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[ModuleType]:
    """Ray, connected: to the instance this process is connected to already (a test, a notebook:
    left as it is), else to `address` (`auto`, `host:port`, `ray://host:port`), else to a new local
    instance (None), which is shut down at the end."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"logging_level": logging.WARNING}
    if address is None and not os.environ.get("RAY_ADDRESS"):  # Ray joins $RAY_ADDRESS if set
        options["include_dashboard"] = False  # a sweep's progress bar is on the terminal; the dashboard costs start-up time
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with child_environment():
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = "start a local Ray instance" if address is None else f"connect to the Ray cluster at --ray-address {address}"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot {where}: {first}") from None
    if callable(handler) and threading.current_thread() is threading.main_thread():
        # Ray's driver installs its own (native) SIGTERM handler, which kills the process on the
        # spot; the command's handler stops the run as Ctrl-C does (finished cases kept), so it
        # is put back.
        signal.signal(signal.SIGTERM, handler)
    try:
        yield ray
    finally:
        ray.shutdown()


def ray_cpus(ray: ModuleType) -> int:
    """The CPUs of the Ray cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


# -- files that travel with the tasks ---------------------------------------------------------


@dataclass(frozen=True)
class ShippedFiles:
    """Files put once into Ray's object store: a task fetches them only on a worker process that
    has no copy yet (the reference sits in a list, so Ray does not fetch it for every task)."""

    digest: str
    holder: list  # [ObjectRef of {relative path: bytes}]


def ship_files(ray: ModuleType, files: dict[str, bytes]) -> ShippedFiles:
    """Put `files` (relative path -> content) into the object store once."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return ShippedFiles(digest.hexdigest(), [ray.put(files)])


_LOCAL_COPIES: dict[str, Path] = {}  # per worker process: digest -> folder


def local_copy(shipped: ShippedFiles) -> Path:
    """The folder holding the shipped files on this machine, written once per worker process
    (content-addressed: workers on the same machine share it; each file is replaced atomically)."""
    folder = _LOCAL_COPIES.get(shipped.digest)
    if folder is not None:
        return folder
    import ray

    files: dict[str, bytes] = ray.get(shipped.holder[0])
    folder = Path(tempfile.gettempdir()) / "zeus-gym-ray" / shipped.digest[:32]
    for name, data in files.items():
        path = folder / name
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    _LOCAL_COPIES[shipped.digest] = folder
    return folder
