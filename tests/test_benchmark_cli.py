"""`zeus-gym benchmark` and `zeus-gym plot`: grid selection, files, figures, refusals, parity."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import gymnasium as gym
import pytest
from typer.testing import CliRunner

from zeus_gym.agents import load_agent
from zeus_gym.benchmark import read_results
from zeus_gym.cli import app
from zeus_gym.runner import run_episode

SMALL = ["--agents", "zeus,default", "--workloads", "squad,librispeech", "--gpus", "a40", "--seeds", "1-2", "--recurrences", "12"]
REQUIRED = ["agent", "workload", "gpu", "seed", "eta", "beta", "recurrences", "total_energy", "total_time", "total_cost",
            "default_cost", "oracle_cost", "cost_over_default", "cost_over_oracle"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def invoke(*args: str, trace_dir: Path):
    return CliRunner().invoke(app, [*args, "--trace-dir", str(trace_dir)])


@pytest.fixture(scope="module")
def small_run(zeus_trace_dir, tmp_path_factory):
    """The small grid, run once for the tests that only read its folder."""
    out = tmp_path_factory.mktemp("bench") / "small"
    result = invoke("benchmark", *SMALL, "--workers", "2", "--output", str(out), trace_dir=zeus_trace_dir)
    return out, result


def assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = imread(path).shape
    assert height > 100 and width > 100


def test_writes_one_row_per_case_and_the_files(small_run, zeus_trace_dir):
    out, result = small_run
    assert result.exit_code == 0, result.output
    with open(out / "results.csv", newline="") as file:
        table = list(csv.DictReader(file))
    assert set(REQUIRED) <= set(table[0])
    assert [(r["agent"], r["workload"], r["gpu"], r["seed"]) for r in table] == [
        (agent, workload, "a40", seed) for workload in ("squad", "librispeech") for agent in ("zeus", "default") for seed in "12"
    ]
    rows = read_results(out / "results.csv")
    for row in rows:
        assert (row["eta"], row["beta"], row["recurrences"]) == (0.5, 2.0, 12)
        assert row["cost_over_default"] == (row["total_cost"] / row["recurrences"]) / row["default_cost"]
        assert row["cost_over_oracle"] == (row["total_cost"] / row["recurrences"]) / row["oracle_cost"]
        env = gym.make("ZeusGym/RecurringJob-v2", workload=row["workload"], gpu="a40", num_recurrences=12, trace_dir=zeus_trace_dir)
        summary = run_episode(env, load_agent(row["agent"], env), seed=row["seed"]).summary
        assert (row["total_energy"], row["total_time"], row["total_cost"]) == (summary.energy, summary.time, summary.cost)
        assert (row["default_cost"], row["oracle_cost"], row["runs"]) == (summary.default_cost, summary.oracle_cost, summary.runs)
    config = json.loads((out / "config.json").read_text())
    assert config["agents"] == ["zeus", "default"] and config["seeds"] == [1, 2] and config["recurrences"] == 12
    assert set(config["traces"]) >= {"summary_train.csv", "summary_power_a40.csv"}
    assert "| workload | GPU | zeus | default |" in result.output and "| **mean** | **all pairs** |" in result.output
    assert (out / "summary.md").read_text() in result.output
    with open(out / "summary.csv", newline="") as file:
        cells = list(csv.DictReader(file))
    assert [(c["workload"], c["agent"]) for c in cells if c["gpu"] == "all"] == [("all", "zeus"), ("all", "default")]
    for name in ("heatmap-eta0.5-beta2", "cumulative-squad-a40-seed1-eta0.5-beta2", "configurations-zeus-squad-a40-seed1-eta0.5-beta2"):
        assert_png(out / "plots" / f"{name}.png")


def test_rerun_resumes_and_a_changed_configuration_is_refused(small_run, zeus_trace_dir):
    out, _ = small_run
    before = (out / "results.csv").read_bytes()
    result = invoke("benchmark", *SMALL, "--output", str(out), "--no-plots", trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    assert "0 cases run" in result.output and "8 resumed" in result.output
    assert (out / "results.csv").read_bytes() == before
    changed = [*SMALL[:-1], "13"]
    result = invoke("benchmark", *changed, "--output", str(out), trace_dir=zeus_trace_dir)
    assert result.exit_code == 1
    assert "holds a benchmark of another configuration (recurrences: 12 there, 13 now)" in result.output
    assert "use a new --output folder" in result.output and "Traceback" not in result.output
    assert (out / "results.csv").read_bytes() == before


def test_plot_redraws_a_chosen_case(small_run, zeus_trace_dir):
    out, _ = small_run
    result = invoke("plot", str(out), "--workload", "librispeech", "--seed", "2", "--agent", "default", trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    for name in ("cumulative-librispeech-a40-seed2-eta0.5-beta2", "configurations-default-librispeech-a40-seed2-eta0.5-beta2"):
        assert_png(out / "plots" / f"{name}.png")
    result = invoke("plot", str(out), "--gpu", "v100", trace_dir=zeus_trace_dir)
    assert result.exit_code == 1 and "is not a case of this benchmark" in result.output


@pytest.mark.parametrize("format, signature", [("pdf", b"%PDF-"), ("svg", b"<?xml")])
def test_plot_in_vector_formats_is_deterministic(small_run, zeus_trace_dir, format, signature):
    out, _ = small_run
    names = ["heatmap-eta0.5-beta2", "cumulative-squad-a40-seed1-eta0.5-beta2", "configurations-zeus-squad-a40-seed1-eta0.5-beta2"]
    first = {}
    for attempt in range(2):
        result = invoke("plot", str(out), "--format", format, trace_dir=zeus_trace_dir)
        assert result.exit_code == 0, result.output
        for name in names:
            data = (out / "plots" / f"{name}.{format}").read_bytes()
            assert data.startswith(signature) and len(data) > 5000
            assert first.setdefault(name, data) == data, name  # no date or version in the file
    svg = (out / "plots" / f"{names[0]}.svg").read_text() if format == "svg" else ""
    assert format != "svg" or ("Zeus" in svg and "sb3:" not in svg)


def test_figures_drawn_beside_a_helper_are_those_drawn_alone(small_run, zeus_trace_dir, monkeypatch, tmp_path):
    """The helper process that draws the per-case figures changes no byte of any figure, and its
    warnings (a results row that re-playing does not give) reach the caller."""
    from zeus_gym.benchmark import figures
    from zeus_gym.benchmark.grid import Grid
    from zeus_gym.benchmark.results import read_config
    from zeus_gym.benchmark.run import default_case

    out, _ = small_run
    grid = Grid.from_json(read_config(out))
    rows = read_results(out / "results.csv")
    case = default_case(grid)
    rows[0] = {**rows[0], "total_cost": rows[0]["total_cost"] * 2}  # squad/a40 seed 1, zeus: the case drawn
    drawn = {}
    for cpus in (2, 1):
        monkeypatch.setattr(figures.os, "cpu_count", lambda: cpus)
        paths, warnings = figures.draw_figures(out, grid, rows, case, zeus_trace_dir, format="svg")
        assert [path.name for path in paths] == ["heatmap-eta0.5-beta2.svg", "cumulative-squad-a40-seed1-eta0.5-beta2.svg",
                                                 "configurations-zeus-squad-a40-seed1-eta0.5-beta2.svg"]
        assert len(warnings) == 1 and "re-playing zeus on squad/a40 (seed 1" in warnings[0]
        drawn[cpus] = [path.read_bytes() for path in paths]
    assert drawn[2] == drawn[1]


def test_the_background_import_of_matplotlib_leaves_a_missing_one_to_the_figures(monkeypatch):
    import sys
    import threading

    from zeus_gym.benchmark.plots import import_matplotlib_in_background

    for name in [name for name in sys.modules if name == "matplotlib" or name.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed: importing it raises ImportError
    raised = []
    monkeypatch.setattr(threading, "excepthook", raised.append)
    import_matplotlib_in_background().join()
    assert raised == []


def test_agent_labels_for_readers(tmp_path):
    from zeus_gym.benchmark.plots import agent_label

    (tmp_path / "mppo").mkdir()
    (tmp_path / "mppo" / "config.json").write_text(json.dumps({"algo": "maskable-ppo"}))
    assert [agent_label(a) for a in ("zeus", "default", "oracle", "grid", "random")] == ["Zeus", "Default", "Oracle", "Grid search", "Random"]
    assert agent_label(f"sb3:{tmp_path / 'mppo'}") == "MaskablePPO (mppo)"
    assert agent_label("sb3:nowhere/ppo-7") == "RL policy (ppo-7)"
    assert agent_label("agents/ucb_bandit.py:UCBAgent") == "UCBAgent" == agent_label("my.agents:UCBAgent")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--agents", "zeus,nope"], "error: unknown agent 'nope'"),
        (["--workloads", "mnist"], "error: unknown workload 'mnist' in --workloads"),
        (["--gpus", "a40,h100"], "error: unknown gpu 'h100' in --gpus"),
        (["--seeds", "3-1"], "error: --seeds: '3-1' must be"),
        (["--eta", "0.5,2"], "error: --etas: 2.0 is not in [0, 1]"),
    ],
)
def test_bad_options_print_one_line(zeus_trace_dir, tmp_path, args, message):
    result = invoke("benchmark", *args, "--output", str(tmp_path / "out"), trace_dir=zeus_trace_dir)
    assert result.exit_code == 1
    assert result.output.startswith(message) and result.output.count("\n") == 1, result.output
    assert not (tmp_path / "out").exists()  # nothing written before the options are known to be good


def test_plot_needs_a_benchmark_folder(zeus_trace_dir, tmp_path):
    result = invoke("plot", str(tmp_path), trace_dir=zeus_trace_dir)
    assert result.exit_code == 1 and "is not a benchmark folder: it has no config.json" in result.output


def test_zeus_rows_equal_the_reference_simulator(zeus_trace_dir, tmp_path):
    """Acceptance 1: totals are exactly rounded sums (math.fsum) of the reference's runs."""
    from test_agents_parity import reference_history
    from zeus._legacy.simulate import zeus_cost

    args = ["--agents", "zeus", "--workloads", "imagenet,librispeech,squad", "--gpus", "v100", "--seeds", "1-2", "--no-plots"]
    result = invoke("benchmark", *args, "--output", str(tmp_path), trace_dir=zeus_trace_dir)
    assert result.exit_code == 0, result.output
    rows = read_results(tmp_path / "results.csv")
    assert len(rows) == 6
    for row in rows:
        runs, gave_up = reference_history(zeus_trace_dir, (row["workload"], "v100", 0.5, 2.0, None, row["seed"]))
        assert not gave_up and row["fallbacks"] == 0
        max_power = gym.make("ZeusGym/RecurringJob-v2", workload=row["workload"], gpu="v100").unwrapped.job_info["max_power"]
        assert row["runs"] == len(runs) and row["recurrences"] == sum(reached for *_, reached in runs)
        assert row["total_energy"] == math.fsum(energy for _, _, energy, _, _ in runs)
        assert row["total_time"] == math.fsum(time for _, _, _, time, _ in runs)
        assert row["total_cost"] == math.fsum(zeus_cost(energy, time, 0.5, max_power) for _, _, energy, time, _ in runs)
        assert (row["final_batch_size"], row["final_power_limit"]) == runs[-1][:2]


@pytest.mark.parametrize("error, traceback_shown", [("ValueError", False), ("RuntimeError", True)])
def test_a_failing_case_stops_the_run_and_keeps_finished_cases(zeus_trace_dir, tmp_path, error, traceback_shown):
    agent_file = tmp_path / "flaky.py"
    agent_file.write_text(
        "from zeus_gym.agents import DefaultAgent\n\n"
        "class Flaky(DefaultAgent):\n"
        "    def reset(self, job_info, seed):\n"
        "        super().reset(job_info, seed)\n"
        f"        if seed == 3:\n            raise {error}('boom')\n"
    )
    args = ["--agents", f"{agent_file}:Flaky", "--workloads", "squad", "--gpus", "a40", "--seeds", "1-3", "--recurrences", "3"]
    result = invoke("benchmark", *args, "--workers", "2", "--output", str(tmp_path / "out"), trace_dir=zeus_trace_dir)
    assert result.exit_code == 1
    assert f"error: {agent_file}:Flaky on squad/a40 (seed 3, eta 0.5, beta 2.0) failed: {error}: boom" in result.output
    assert "run the same command again to resume" in result.output
    assert ("Traceback" in result.output) == traceback_shown
    assert {row["seed"] for row in read_results(tmp_path / "out" / "results.csv")} <= {1, 2}


def test_the_committed_default_benchmark_is_what_the_code_gives(zeus_trace_dir):
    """docs/benchmark/default is generated (see its config.json): its table follows from its
    results, and a sample of its rows re-play to the same values."""
    from zeus_gym.benchmark import Grid, summarize
    from zeus_gym.benchmark.results import read_config, row_case
    from zeus_gym.benchmark.summary import markdown
    from zeus_gym.benchmark.worker import run_case

    folder = Path(__file__).resolve().parents[1] / "docs" / "benchmark" / "default"
    grid = Grid.from_json(read_config(folder))
    rows = read_results(folder / "results.csv")
    assert [row_case(row) for row in rows] == grid.cases() and len(rows) == 6 * 24 * 5  # 6 agents (frugal included)
    assert (folder / "summary.md").read_text() == markdown(summarize(rows, grid), grid)
    for row in rows[::97]:
        assert run_case(row_case(row), grid, zeus_trace_dir) == row
