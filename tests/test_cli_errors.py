"""Every user mistake of issue 11 §2: one `error: ...` line naming the option as typed, a non-zero
exit, no traceback; and nothing left behind or lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zeus_gym.cli import app

SMALL = ["--agents", "default", "--workloads", "squad", "--gpus", "a40", "--seeds", "1-2", "--recurrences", "4", "--workers", "1", "--no-plots"]
REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def assert_one_line(output: str, code: int, *fragments: str, exit_code: int = 1) -> str:
    """The whole output is one `error:` line holding every fragment; the exit code is `exit_code`."""
    assert code == exit_code, output
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, output)
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished small benchmark folder (config.json and results.csv)."""
    out = tmp_path_factory.mktemp("done") / "bench"
    result = invoke("benchmark", *SMALL, "--output", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_history_into_a_missing_folder_is_refused_before_the_episode(tmp_path):
    target = tmp_path / "missing" / "h.jsonl"
    result = invoke("run", "--workload", "squad", "--gpu", "a40", "--history", str(target))
    assert_one_line(result.output, result.exit_code, "--history", str(target), "does not exist")
    assert "vs Default" not in result.output  # the episode did not run, so none was lost


def test_history_that_is_a_folder(tmp_path):
    result = invoke("run", "--workload", "squad", "--gpu", "a40", "--history", str(tmp_path))
    assert_one_line(result.output, result.exit_code, "'--history'", exit_code=2)


def test_train_without_the_rl_extra_names_the_extra(tmp_path):
    out = tmp_path / "policy"
    code = ("import sys; sys.modules['stable_baselines3'] = None; sys.modules['sb3_contrib'] = None; "
            "from zeus_gym.cli import main; sys.argv = ['zeus-gym', *sys.argv[1:]]; main()")
    done = subprocess.run([sys.executable, "-c", code, "train", "--output", str(out), "--timesteps", "10"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    line = assert_one_line(done.stdout + done.stderr, done.returncode, 'pip install "zeus-gym[rl]"', "rl extra")
    assert "stable_baselines3" in line or "sb3_contrib" in line
    assert not out.exists()


@pytest.mark.parametrize("text, fragments", [
    ('{"learnin_rate": 0.001}', ["--hyperparameters", "'learnin_rate' is not an argument of MaskablePPO", "learning_rate"]),
    ('{"learning_rate": 0.001', ["--hyperparameters", "not valid JSON"]),
    ('[1, 2]', ["--hyperparameters must be a JSON object"]),
])
def test_bad_hyperparameters_name_the_option_and_leave_no_folder(tmp_path, text, fragments):
    out = tmp_path / "policy"
    result = invoke("train", "--output", str(out), "--timesteps", "10", "--hyperparameters", text)
    assert_one_line(result.output, result.exit_code, *fragments)
    assert not out.exists()


def test_train_refuses_a_folder_that_holds_a_model(tmp_path):
    (tmp_path / "model.zip").write_bytes(b"PK")
    result = invoke("train", "--output", str(tmp_path), "--timesteps", "10")
    assert_one_line(result.output, result.exit_code, f"--output {tmp_path} already holds a trained model", "choose another --output")
    assert (tmp_path / "model.zip").read_bytes() == b"PK"


def test_a_failed_train_start_leaves_no_empty_folder(tmp_path):
    out = tmp_path / "new" / "policy"
    result = invoke("train", "--output", str(out), "--timesteps", "10", "--workloads", "mnist", "--no-progress")
    assert_one_line(result.output, result.exit_code, "mnist")
    assert not out.exists()


@pytest.mark.parametrize("command", [
    ["benchmark", *SMALL],
    ["cluster", "--synthetic-groups", "2"],
    ["train", "--timesteps", "10"],
    ["traces", "fetch"],
])
def test_output_that_is_a_file(tmp_path, command):
    file = tmp_path / "results.csv"
    file.write_text("mine\n")
    result = invoke(*command, "--output", str(file))
    assert_one_line(result.output, result.exit_code, f"--output {file} is a file, not a folder")
    assert file.read_text() == "mine\n"


def without_permission_override() -> list[str]:
    """A command prefix under which file permissions apply: root overrides them, so as root the
    command runs without the capabilities that do (util-linux's setpriv)."""
    if os.getuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: the read-only tests need setpriv (util-linux) to drop CAP_DAC_OVERRIDE"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


@pytest.mark.parametrize("args, option", [
    (["benchmark", *SMALL, "--output", "{ro}/out"], "--output"),
    (["cluster", "--synthetic-groups", "2", "--output", "{ro}/out"], "--output"),
    (["run", "--workload", "squad", "--gpu", "a40", "--history", "{ro}/h.jsonl"], "--history"),
])
def test_read_only_output_folder(tmp_path, args, option):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    tmp_path.chmod(0o755)
    args = [arg.format(ro=read_only) for arg in args]
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    done = subprocess.run([*without_permission_override(), sys.executable, "-m", "zeus_gym.cli", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert_one_line(done.stdout + done.stderr, done.returncode, option, "read-only", f"choose another {option}")
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("args, option", [
    (["run", "--seed", "-1"], "'--seed'"),
    (["train", "--seed", "-1"], "'--seed'"),
    (["benchmark", "--workers", "0"], "'--workers'"),
    (["benchmark", "--workers", "-2"], "'--workers'"),
    (["cluster", "--workers", "0"], "'--workers'"),
    (["run", "--eta", "1.5"], "'--eta'"),
    (["run", "--recurrences", "0"], "'--recurrences'"),
    (["run", "--trace-dir", "/nonexistent/traces"], "'--trace-dir'"),
    (["benchmark", "--format", "jpeg"], "'--format'"),
    (["run", "--modle", "x"], "--modle"),
])
def test_out_of_range_options(args, option):
    result = invoke(*args)
    assert_one_line(result.output, result.exit_code, option, exit_code=2)


def test_negative_seeds_and_a_seed_range_too_large(tmp_path):
    result = invoke("benchmark", *SMALL, "--seeds", "1-1000000000", "--output", str(tmp_path / "b"))
    assert_one_line(result.output, result.exit_code, "--seeds", "1,000,000,000 seeds")
    result = invoke("benchmark", *SMALL, "--seeds", "-1", "--output", str(tmp_path / "b"))
    assert_one_line(result.output, result.exit_code, "--seeds: '-1'")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("text", ["garbage{", "[]", '{"agents": 1}'])
def test_garbage_config_json(tmp_path, text):
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "config.json").write_text(text)
    result = invoke("plot", str(folder))
    assert_one_line(result.output, result.exit_code, str(folder / "config.json"))
    result = invoke("benchmark", *SMALL, "--output", str(folder))
    assert_one_line(result.output, result.exit_code, str(folder))


def test_a_corrupt_results_line_names_file_and_line(finished):
    results = finished / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",", ",x", 4)
    results.write_text("".join(lines))
    result = invoke("benchmark", *SMALL, "--output", str(finished))
    assert_one_line(result.output, result.exit_code, f"{results}, line 3", "not a results line")
    result = invoke("plot", str(finished))
    assert_one_line(result.output, result.exit_code, f"{results}, line 3")


def test_a_results_row_outside_the_grid_is_refused_not_resumed(tmp_path):
    """A well-formed row of a case the grid never asked for (an edited workload) is not a
    finished case: counting it would report more cases done than the grid has."""
    out = tmp_path / "bench"
    assert invoke("benchmark", *SMALL, "--output", str(out)).exit_code == 0
    results = out / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace(",squad,", ",xsquad,", 1)
    edited = "".join(lines)
    results.write_text(edited)
    result = invoke("benchmark", *SMALL, "--output", str(out))
    assert_one_line(result.output, result.exit_code, f"{results}, line 3", "xsquad", "not a case of this folder's grid")
    assert results.read_text() == edited  # refused as it is: nothing resumed or rewritten


def test_a_corrupt_cluster_results_line_names_file_and_line(tmp_path):
    out = tmp_path / "c"
    assert invoke("cluster", "--synthetic-groups", "3", "--output", str(out), "--workers", "1").exit_code == 0
    results = out / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + "{not json\n" + "".join(lines[2:]))
    result = invoke("cluster", "--synthetic-groups", "3", "--output", str(out), "--workers", "1")
    assert_one_line(result.output, result.exit_code, f"{results}, line 2")


def test_version_and_short_help():
    import zeus_gym

    result = invoke("--version")
    assert result.exit_code == 0 and result.output == f"zeus-gym {zeus_gym.__version__}\n"
    for command in ([], ["run"], ["benchmark"], ["traces", "info"]):
        result = invoke(*command, "-h")
        assert result.exit_code == 0 and "Usage" in result.output


def test_help_shows_units_and_defaults():
    out = invoke("run", "-h").output
    assert "[default: 0.5]" in out and "[default: 2.0]" in out and "[default: v100]" in out and "[default: 20]" in out
    assert "in [0, 1]" in out and "inf disables early stopping" in out
    out = invoke("benchmark", "-h").output
    assert "--etas" in out and "--betas" in out and "[default: benchmark-results]" in out and "one per core" in out


def test_options_are_named_alike_across_commands():
    """--output is the output of every command that writes a folder or file; --history is a file."""
    import click
    from typer.main import get_command

    root = get_command(app)
    ctx = click.Context(root)

    def options(*path: str) -> set[str]:
        command = root
        for name in path:
            command = command.get_command(ctx, name)
        return {opt for param in command.params for opt in getattr(param, "opts", [])}

    for path in (["benchmark"], ["cluster"], ["train"], ["traces", "fetch"], ["traces", "fetch-groups"], ["traces", "synth-groups"]):
        found = options(*path)
        assert "--output" in found and not {"--out", "--dest"} & found, path
    assert "--network" in options("run") and "--model" not in options("run")
    assert "--history" in options("run") and "--history" not in options("cluster") and "--histories" in options("cluster")
    for path in (["run"], ["benchmark"], ["plot"], ["train"], ["cluster"], ["traces", "info"]):
        assert "--trace-dir" in options(*path), path
