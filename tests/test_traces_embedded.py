"""The Zeus traces shipped in the package: pinned bytes, verified at first use, licensed, packaged."""

from __future__ import annotations

import hashlib
import shutil
import tomllib
from pathlib import Path

import pytest

import zeus_gym.traces
from zeus_gym.traces import ENV_VAR, TraceHashError, TracesNotFoundError, load_trace_set
from zeus_gym.traces.locate import EMBEDDED_FOLDER, embedded_trace_dir, verify_pinned
from zeus_gym.traces.registry import REGISTRY, UPSTREAM_COMMIT, UPSTREAM_FOLDER, UPSTREAM_REPO

REPO = Path(__file__).resolve().parents[1]


def shared_copies() -> list[Path]:
    """The project's shared upstream copy (`../shared/traces/zeus_nsdi23` of a checkout), if any."""
    return [folder / "shared" / "traces" / "zeus_nsdi23" for folder in REPO.parents
            if (folder / "shared" / "traces" / "zeus_nsdi23" / "summary_train.csv").is_file()]


def test_embedded_files_are_the_pinned_bytes():
    folder = embedded_trace_dir()
    assert folder == (Path(zeus_gym.traces.__file__).parent / EMBEDDED_FOLDER).resolve()
    for name, pinned in REGISTRY.items():
        data = (folder / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == pinned, name


def test_embedded_bytes_equal_the_shared_upstream_copy():
    """Byte for byte against the project's shared copy where it exists (always the pinned hashes)."""
    for shared in shared_copies():
        for name in REGISTRY:
            assert (embedded_trace_dir() / name).read_bytes() == (shared / name).read_bytes(), (shared, name)
    for name, pinned in REGISTRY.items():
        assert hashlib.sha256((embedded_trace_dir() / name).read_bytes()).hexdigest() == pinned.sha256


def test_without_the_env_var_everything_runs_on_the_embedded_copy(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    traces = load_trace_set()
    assert traces.root == embedded_trace_dir() and traces.gpus == ("a40", "p100", "rtx6000", "v100")


def test_a_damaged_copy_is_refused_naming_file_and_hashes(tmp_path: Path):
    folder = tmp_path / "copy"
    shutil.copytree(embedded_trace_dir(), folder)
    assert verify_pinned(folder, "a copy") == folder.resolve()
    power = folder / "summary_power_v100.csv"
    data = bytearray(power.read_bytes())
    data[200] ^= 0x01
    power.write_bytes(bytes(data))
    with pytest.raises(TraceHashError) as info:
        verify_pinned(folder, "a copy")
    message = str(info.value)
    assert str(power) in message and REGISTRY[power.name].sha256 in message and hashlib.sha256(data).hexdigest() in message
    assert "reinstall zeus-gym" in message and "\n" not in message
    power.unlink()
    with pytest.raises(TracesNotFoundError, match="lacks .*summary_power_v100.csv"):
        verify_pinned(folder, "a copy")


def test_license_notice_and_provenance_ship_with_the_data():
    folder = embedded_trace_dir()
    assert "Apache License" in (folder / "LICENSE").read_text() and "Version 2.0" in (folder / "LICENSE").read_text()
    notice = (folder / "NOTICE").read_text()
    assert UPSTREAM_REPO in notice and UPSTREAM_COMMIT in notice and UPSTREAM_FOLDER in notice
    readme = (REPO / "traces" / "README.md").read_text()
    assert UPSTREAM_REPO in readme and UPSTREAM_COMMIT in readme and UPSTREAM_FOLDER in readme
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["zeus_gym.traces"]
    assert {"data/zeus_nsdi23/*.csv", "data/zeus_nsdi23/LICENSE", "data/zeus_nsdi23/NOTICE"} <= set(package_data)


def test_ci_does_not_depend_on_the_shared_folder():
    ci = (REPO / ".ci" / "run").read_text()
    assert "shared" not in ci and ENV_VAR not in ci.replace(f"unset {ENV_VAR}", "")
