"""Where traces come from: argument, env var, else the embedded copy; downloads from a mirror; the failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from zeus_gym.traces import (
    ENV_VAR,
    URL_ENV_VAR,
    TraceHashError,
    TracesNotFoundError,
    default_cache_dir,
    fetch_traces,
    resolve_trace_dir,
)
from zeus_gym.traces import locate
from zeus_gym.traces.locate import embedded_trace_dir, locate_traces
from zeus_gym.traces.registry import BASE_URL, REGISTRY, UPSTREAM_COMMIT
from zeus_gym.traces.testing import closed_port_url, copy_traces, serve_folder


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the user cache at a temporary folder and clear the env overrides."""
    user_cache = tmp_path / "user-cache"
    monkeypatch.setattr(locate.platformdirs, "user_cache_path", lambda *a, **k: user_cache)
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.delenv(URL_ENV_VAR, raising=False)
    return user_cache


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_base_url_is_pinned_to_the_commit() -> None:
    assert UPSTREAM_COMMIT in BASE_URL and BASE_URL.endswith("/zeus_nsdi23/trace/")


def test_default_cache_dir_is_in_user_cache_not_package(isolated_cache: Path) -> None:
    cache = default_cache_dir()
    assert cache == isolated_cache / "zeus_nsdi23" / UPSTREAM_COMMIT[:12]
    assert Path(locate.__file__).parent not in cache.parents


def test_explicit_argument_beats_env_var_beats_embedded(
    zeus_trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit = copy_traces(zeus_trace_dir, tmp_path / "explicit")
    from_env = copy_traces(zeus_trace_dir, tmp_path / "env")
    monkeypatch.setenv(URL_ENV_VAR, closed_port_url())  # no network: nothing may be downloaded
    monkeypatch.setenv(ENV_VAR, str(from_env))
    assert locate_traces(explicit) == (explicit, "argument")
    assert locate_traces() == (from_env, f"env var {ENV_VAR}")
    monkeypatch.delenv(ENV_VAR)
    assert locate_traces() == (embedded_trace_dir(), "embedded")
    assert resolve_trace_dir() == embedded_trace_dir()
    assert not default_cache_dir().exists()  # the empty user cache stays empty


def test_missing_explicit_dir_names_it(tmp_path: Path) -> None:
    with pytest.raises(TracesNotFoundError, match="does not exist") as info:
        resolve_trace_dir(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_incomplete_explicit_dir_is_an_error_not_a_download(
    zeus_trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(URL_ENV_VAR, closed_port_url())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TracesNotFoundError, match="summary_train.csv and any summary_power_"):
        resolve_trace_dir(empty)
    train_only = copy_traces(zeus_trace_dir, tmp_path / "train", ["summary_train.csv"])
    with pytest.raises(TracesNotFoundError, match=r"lacks any summary_power_<gpu>\.csv"):
        resolve_trace_dir(train_only)
    power_only = copy_traces(zeus_trace_dir, tmp_path / "power", ["summary_power_v100.csv"])
    with pytest.raises(TracesNotFoundError, match=r"lacks summary_train\.csv$"):
        resolve_trace_dir(power_only)
    assert not default_cache_dir().exists()


def test_env_var_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "gone"))
    with pytest.raises(TracesNotFoundError) as info:
        resolve_trace_dir()
    assert str(tmp_path / "gone") in str(info.value) and ENV_VAR in str(info.value)


@pytest.mark.parametrize("progress", [False, True])
def test_fetch_from_local_mirror_verifies_and_skips_valid_files(
    zeus_trace_dir: Path, tmp_path: Path, progress: bool
) -> None:
    dest = tmp_path / "dest"
    with serve_folder(zeus_trace_dir) as mirror:
        assert fetch_traces(dest, base_url=mirror.url, progress=progress) == dest.resolve()
    assert sorted(mirror.requests) == sorted(f"/{name}" for name in REGISTRY)
    for name, pinned in REGISTRY.items():
        assert (dest / name).stat().st_size == pinned.size
        assert _sha256(dest / name) == pinned.sha256
    # Everything is present and valid, so nothing is fetched: an unreachable mirror is fine.
    assert fetch_traces(dest, base_url=closed_port_url()) == dest.resolve()


def test_a_corrupted_local_file_is_downloaded_again(zeus_trace_dir: Path, tmp_path: Path) -> None:
    dest = copy_traces(zeus_trace_dir, tmp_path / "dest")
    (dest / "summary_power_a40.csv").write_text("garbage\n")
    with serve_folder(zeus_trace_dir) as mirror:
        fetch_traces(dest, base_url=mirror.url)
    assert mirror.requests == ["/summary_power_a40.csv"]
    assert _sha256(dest / "summary_power_a40.csv") == REGISTRY["summary_power_a40.csv"].sha256


def test_tampered_file_is_rejected_and_not_kept(zeus_trace_dir: Path, tmp_path: Path) -> None:
    served = copy_traces(zeus_trace_dir, tmp_path / "served")
    tampered = served / "summary_power_p100.csv"
    data = bytearray(tampered.read_bytes())
    data[100] ^= 0x01
    tampered.write_bytes(bytes(data))
    dest = tmp_path / "dest"
    with serve_folder(served) as mirror, pytest.raises(TraceHashError) as info:
        fetch_traces(dest, base_url=mirror.url)
    message = str(info.value)
    assert "summary_power_p100.csv" in message
    assert REGISTRY["summary_power_p100.csv"].sha256 in message
    assert _sha256(tampered) in message
    assert not (dest / "summary_power_p100.csv").exists()
    assert [p.name for p in dest.iterdir() if "p100" in p.name] == []


def test_offline_fetch_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TracesNotFoundError) as info:
        fetch_traces(tmp_path / "dest", base_url=closed_port_url())
    message = str(info.value)
    assert "could not download summary_train.csv" in message and "zeus-gym ships these traces" in message
    assert "\n" not in message
    assert isinstance(info.value.__cause__, requests.exceptions.ConnectionError)


def test_missing_file_on_mirror_reports_http_status(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with serve_folder(tmp_path / "empty") as mirror, pytest.raises(TracesNotFoundError) as info:
        fetch_traces(tmp_path / "dest", base_url=mirror.url)
    assert "HTTP 404" in str(info.value) and "summary_train.csv" in str(info.value)
