"""The `zeus-gym traces` commands, run in-process with typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from zeus_gym.cli import app
from zeus_gym.traces import ENV_VAR, URL_ENV_VAR
from zeus_gym.traces import locate
from zeus_gym.traces.locate import embedded_trace_dir
from zeus_gym.traces.registry import REGISTRY
from zeus_gym.traces.testing import closed_port_url, copy_traces, serve_folder

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real user cache or the network, whatever the environment says."""
    monkeypatch.setattr(locate.platformdirs, "user_cache_path", lambda *a, **k: tmp_path / "c")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv(URL_ENV_VAR, closed_port_url())


def _assert_clean_error(result, *fragments: str, code: int = 1) -> None:
    assert result.exit_code == code
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


def test_no_arguments_shows_help() -> None:
    result = runner.invoke(app, [])
    assert "traces" in result.output and "Usage" in result.output


def test_info_on_real_traces(zeus_trace_dir: Path) -> None:
    result = runner.invoke(app, ["traces", "info", "--trace-dir", str(zeus_trace_dir)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"traces: {zeus_trace_dir.resolve()}" in out and "located by: argument (--trace-dir / trace_dir=)" in out
    for name, pinned in REGISTRY.items():
        assert any(
            name in line and pinned.sha256 in line and f"{pinned.size} B" in line
            and line.endswith("matches registry")
            for line in out.splitlines()
        ), name
    assert "GPUs: a40, p100, rtx6000, v100" in out
    assert (
        "imagenet resnet50 adadelta: 19 target metrics, 7 batch sizes, 1-5 runs per batch size;"
        " power rows on a40, p100, rtx6000, v100"
    ) in out


def test_info_reports_env_var_and_changed_files(
    zeus_trace_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = copy_traces(zeus_trace_dir, tmp_path / "t")
    train = folder / "summary_train.csv"
    train.write_text("".join(train.read_text().splitlines(keepends=True)[:-1]))
    monkeypatch.setenv(ENV_VAR, str(folder))
    result = runner.invoke(app, ["traces", "info"])
    assert result.exit_code == 0, result.output
    assert f"located by: env var {ENV_VAR}" in result.stdout
    assert "summary_train.csv" in result.stdout and "DIFFERS from registry" in result.stdout


def test_info_on_user_traces_with_custom_gpu(zeus_trace_dir: Path, tmp_path: Path) -> None:
    folder = copy_traces(zeus_trace_dir, tmp_path / "mine", ["summary_train.csv"])
    v100 = (zeus_trace_dir / "summary_power_v100.csv").read_text().splitlines()
    rows = [line for line in v100 if line.startswith(("dataset,", "squad,"))]
    (folder / "summary_power_h100.csv").write_text("\n".join(rows) + "\n")
    result = runner.invoke(app, ["traces", "info", "--trace-dir", str(folder)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "not in registry" in out and "GPUs: h100" in out
    assert "squad bert_base_uncased adamw: 8 target metrics" in out
    assert "cifar100 shufflenetv2 adadelta: 19 target metrics" in out and "no GPU" in out


def test_info_without_anything_set_uses_the_embedded_copy_offline() -> None:
    result = runner.invoke(app, ["traces", "info"])
    assert result.exit_code == 0, result.output
    assert f"traces: {embedded_trace_dir()}" in result.stdout
    assert "located by: embedded: the copy shipped with zeus-gym (SHA-256 verified)" in result.stdout
    assert result.stdout.count("matches registry") == len(REGISTRY)


def test_info_on_bad_folders(zeus_trace_dir: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    result = runner.invoke(app, ["traces", "info", "--trace-dir", str(missing)])
    _assert_clean_error(result, "'--trace-dir'", str(missing), "does not exist", code=2)
    folder = copy_traces(zeus_trace_dir, tmp_path / "bad")
    power = folder / "summary_power_a40.csv"
    lines = power.read_text().splitlines()
    lines[3] = lines[3].replace(",adadelta,", ",,")
    power.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["traces", "info", "--trace-dir", str(folder)])
    _assert_clean_error(result, "summary_power_a40.csv", "column 'optimizer', line 4")


def test_fetch_from_local_mirror(zeus_trace_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    with serve_folder(zeus_trace_dir) as mirror:
        args = ["traces", "fetch", "--output", str(dest), "--base-url", mirror.url]
        result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"traces in {dest.resolve()}" in result.stdout
    assert result.stdout.count("matches registry") == len(REGISTRY)
    assert sorted(p.name for p in dest.iterdir()) == sorted(REGISTRY)


def test_fetch_rejects_a_tampered_mirror(zeus_trace_dir: Path, tmp_path: Path) -> None:
    served = copy_traces(zeus_trace_dir, tmp_path / "served")
    (served / "summary_train.csv").write_bytes(b"x" + (served / "summary_train.csv").read_bytes())
    with serve_folder(served) as mirror:
        args = ["traces", "fetch", "--output", str(tmp_path / "d"), "--base-url", mirror.url]
        result = runner.invoke(app, args)
    _assert_clean_error(result, "summary_train.csv", REGISTRY["summary_train.csv"].sha256)


def test_fetch_offline(tmp_path: Path) -> None:
    result = runner.invoke(app, ["traces", "fetch", "--output", str(tmp_path / "d")])
    _assert_clean_error(result, "could not download", URL_ENV_VAR)
