"""`--backend ray` of `zeus-gym benchmark` and `zeus-gym cluster`: the same bytes as the local
backend, through a worker killed mid-run, an interrupted run resumed, and a case that raises."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import zeus_gym
from zeus_gym.backends.ray_chunks import MAX_CHUNK, ChunkSizer
from zeus_gym.benchmark import read_results
from zeus_gym.benchmark.grid import parse_grid
from zeus_gym.benchmark.run import run_benchmark
from zeus_gym.cli import app
from zeus_gym.traces import load_trace_set

from reliability_helpers import CLI_IN_FOREGROUND

BENCHMARK_FILES = ("results.csv", "summary.md", "summary.csv", "config.json")
CLUSTER_FILES = ("results.jsonl", "summary.md", "config.json")


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray instance with 2 CPUs for the module (the commands use it: it is initialized)."""
    from zeus_gym.backends.ray_runtime import child_environment, import_ray

    ray = import_ray()
    with child_environment():
        ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()


def benchmark_args(out: Path, trace_dir: Path, agents: str = "zeus,default,oracle,grid,random", *extra: str) -> list[str]:
    return ["benchmark", "--agents", agents, "--workloads", "squad,librispeech", "--gpus", "a40,v100", "--seeds", "1-3",
            "--no-plots", "--output", str(out), "--trace-dir", str(trace_dir), *extra]


def same_files(first: Path, second: Path, names: tuple[str, ...]) -> None:
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


@pytest.fixture(scope="module")
def local_benchmark(tmp_path_factory, zeus_trace_dir) -> Path:
    out = tmp_path_factory.mktemp("local") / "benchmark"
    result = invoke(*benchmark_args(out, zeus_trace_dir, "zeus,default,oracle,grid,random", "--workers", "1"))
    assert result.exit_code == 0, result.output
    return out


def test_benchmark_on_ray_gives_the_local_bytes(ray_cluster, local_benchmark, zeus_trace_dir, tmp_path):
    out = tmp_path / "ray"
    result = invoke(*benchmark_args(out, zeus_trace_dir, "zeus,default,oracle,grid,random", "--backend", "ray"))
    assert result.exit_code == 0, result.output
    assert "60 cases run" in result.output and "on Ray" in result.output
    same_files(local_benchmark, out, BENCHMARK_FILES)
    again = invoke(*benchmark_args(out, zeus_trace_dir, "zeus,default,oracle,grid,random", "--backend", "ray"))
    assert again.exit_code == 0 and "0 cases run" in again.output and "60 resumed" in again.output


@pytest.fixture(scope="module")
def group_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("groups") / "groups.csv"
    assert invoke("traces", "synth-groups", "--groups", "40", "--seed", "5", "--output", str(path)).exit_code == 0
    return path


def cluster_args(groups: Path, out: Path, trace_dir: Path, *extra: str) -> list[str]:
    return ["cluster", "--groups", str(groups), "--gpu", "v100", "--output", str(out), "--trace-dir", str(trace_dir), *extra]


def test_cluster_on_ray_gives_the_local_bytes_and_histories(ray_cluster, group_file, zeus_trace_dir, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "ray"
    result = invoke(*cluster_args(group_file, local, zeus_trace_dir, "--workers", "1", "--histories", str(local / "history")))
    assert result.exit_code == 0, result.output
    result = invoke(*cluster_args(group_file, remote, zeus_trace_dir, "--backend", "ray", "--histories", str(remote / "history")))
    assert result.exit_code == 0, result.output
    assert "40 groups played" in result.output and "on Ray" in result.output
    same_files(local, remote, CLUSTER_FILES[:2])
    histories = sorted(path.name for path in (local / "history").iterdir())
    assert len(histories) == 40 and histories == sorted(path.name for path in (remote / "history").iterdir())
    same_files(local / "history", remote / "history", tuple(histories))


# An agent whose worker process dies (os._exit) the first time it plays seed 3: mid-run, once.
DYING_AGENT = '''
import os
from zeus_gym.agents import DefaultAgent

class DyingDefault(DefaultAgent):
    def reset(self, job_info, seed):
        if seed == 3 and not os.path.exists({marker!r}):
            open({marker!r}, "w").close()
            os._exit(1)
        super().reset(job_info, seed)
'''


def test_a_killed_ray_worker_is_retried_to_the_same_bytes(ray_cluster, zeus_trace_dir, tmp_path):
    marker = tmp_path / "died"
    agent = tmp_path / "dying.py"
    agent.write_text(DYING_AGENT.format(marker=str(marker)))
    agents = f"random,{agent}:DyingDefault"
    marker.touch()  # the local reference run must not die
    local = invoke(*benchmark_args(tmp_path / "local", zeus_trace_dir, agents, "--workers", "1"))
    assert local.exit_code == 0, local.output
    marker.unlink()
    remote = invoke(*benchmark_args(tmp_path / "ray", zeus_trace_dir, agents, "--backend", "ray"))
    assert remote.exit_code == 0, remote.output
    assert marker.exists()  # a worker did die, and its task was played again
    same_files(tmp_path / "local", tmp_path / "ray", BENCHMARK_FILES)


ALWAYS_DYING_AGENT = '''
import os
from zeus_gym.agents import DefaultAgent

class AlwaysDying(DefaultAgent):
    def reset(self, job_info, seed):
        if seed == 3:
            os._exit(1)
        super().reset(job_info, seed)
'''


def test_a_task_whose_workers_always_die_ends_the_run_keeping_the_rest(ray_cluster, zeus_trace_dir, tmp_path):
    agent = tmp_path / "always.py"
    agent.write_text(ALWAYS_DYING_AGENT)
    result = invoke("benchmark", "--agents", f"{agent}:AlwaysDying", "--workloads", "squad", "--gpus", "a40", "--seeds", "1-3",
                    "--no-plots", "--output", str(tmp_path / "ray"), "--trace-dir", str(zeus_trace_dir), "--backend", "ray")
    assert result.exit_code == 1
    assert "error: a Ray task playing" in result.output and "failed: " in result.output
    assert "the finished cases are kept" in result.output and "Traceback" not in result.output
    # the first chunk (seeds 1 and 2 with seed 3, or alone) may have died with seed 3: what was appended stays
    kept = read_results(tmp_path / "ray" / "results.csv")
    assert {row["seed"] for row in kept} <= {1, 2}


# The same for the cluster command: the worker dies the first time it plays group GROUP.
DYING_CLUSTER_AGENT = '''
import os
from zeus_gym.agents import DefaultAgent

class DyingDefault(DefaultAgent):
    def reset(self, job_info, seed):
        if job_info["group"] == {group!r} and not os.path.exists({marker!r}):
            open({marker!r}, "w").close()
            os._exit(1)
        super().reset(job_info, seed)
'''


def test_a_killed_ray_worker_is_retried_to_the_same_cluster_bytes(ray_cluster, group_file, zeus_trace_dir, tmp_path):
    from zeus_gym.cluster import read_groups

    marker, agent = tmp_path / "died", tmp_path / "dying.py"
    agent.write_text(DYING_CLUSTER_AGENT.format(group=str(read_groups(group_file)["group"].unique()[25]), marker=str(marker)))
    marker.touch()
    local = invoke(*cluster_args(group_file, tmp_path / "local", zeus_trace_dir, "--agent", f"{agent}:DyingDefault", "--workers", "1"))
    assert local.exit_code == 0, local.output
    marker.unlink()
    remote = invoke(*cluster_args(group_file, tmp_path / "ray", zeus_trace_dir, "--agent", f"{agent}:DyingDefault", "--backend", "ray"))
    assert remote.exit_code == 0, remote.output
    assert marker.exists()
    same_files(tmp_path / "local", tmp_path / "ray", CLUSTER_FILES[:2])


def test_an_interrupted_ray_run_resumes_to_the_same_bytes(ray_cluster, local_benchmark, zeus_trace_dir, tmp_path):
    grid = parse_grid("zeus,default,oracle,grid,random", "squad,librispeech", "a40,v100", "1-3", "0.5", "2",
                      load_trace_set(zeus_trace_dir).gpus)
    out = tmp_path / "ray"

    def interrupt(done: int, total: int) -> None:
        if done >= 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark(grid, out, trace_dir=zeus_trace_dir, on_row=interrupt, backend="ray")
    kept = read_results(out / "results.csv")
    assert len(kept) == 7
    _, rows, ran = run_benchmark(grid, out, trace_dir=zeus_trace_dir, backend="ray")
    assert ran == 60 - 7 and len(rows) == 60
    assert (out / "results.csv").read_bytes() == (local_benchmark / "results.csv").read_bytes()


SLOW_AGENT = '''
import time
from zeus_gym.agents import DefaultAgent

class SlowDefault(DefaultAgent):
    def reset(self, job_info, seed):
        time.sleep(0.05)
        super().reset(job_info, seed)
'''


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_a_signalled_ray_driver_keeps_its_cases_and_resumes(ray_cluster, zeus_trace_dir, tmp_path, signal_number):
    agent = tmp_path / "slow.py"
    agent.write_text(SLOW_AGENT)
    agents = f"random,{agent}:SlowDefault"
    out = tmp_path / "interrupted"
    address = ray_cluster.get_runtime_context().gcs_address  # a second driver on the test's Ray instance
    command = [sys.executable, "-c", CLI_IN_FOREGROUND,
               *benchmark_args(out, zeus_trace_dir, agents, "--backend", "ray", "--ray-address", address)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 60
    path = out / "results.csv"
    while (not path.exists() or path.read_text().count("\n") < 4) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal_number)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stdout + stderr
    kept = read_results(path)
    assert 3 <= len(kept) < 24 and f"interrupted: {len(kept)} of 24 cases are in" in stderr

    resumed = invoke(*benchmark_args(out, zeus_trace_dir, agents, "--backend", "ray"))
    assert resumed.exit_code == 0, resumed.output
    assert f"{24 - len(kept)} cases run" in resumed.output and f"{len(kept)} resumed" in resumed.output
    local = invoke(*benchmark_args(tmp_path / "local", zeus_trace_dir, agents, "--workers", "1"))
    assert local.exit_code == 0, local.output
    same_files(tmp_path / "local", out, BENCHMARK_FILES)


FAILING_AGENT = '''
from zeus_gym.agents import RandomAgent

class Failing(RandomAgent):
    def reset(self, job_info, seed):
        if seed == 2:
            raise ValueError("seed 2 is not for me")
        super().reset(job_info, seed)
'''


def test_a_case_that_raises_is_named_as_locally(ray_cluster, zeus_trace_dir, tmp_path):
    agent = tmp_path / "failing.py"
    agent.write_text(FAILING_AGENT)
    local = invoke(*benchmark_args(tmp_path / "local", zeus_trace_dir, f"{agent}:Failing", "--workers", "1"))
    remote = invoke(*benchmark_args(tmp_path / "ray", zeus_trace_dir, f"{agent}:Failing", "--backend", "ray"))
    assert local.exit_code == remote.exit_code == 1
    message = f"error: {agent}:Failing on squad/a40 (seed 2, eta 0.5, beta 2.0) failed: ValueError: seed 2 is not for me"
    assert message in local.output
    assert "failed: ValueError: seed 2 is not for me; the finished cases are kept" in remote.output
    assert "Traceback" not in remote.output  # a user error: one line, as locally
    assert 1 <= len(read_results(tmp_path / "ray" / "results.csv")) < 12  # seed 1 of squad/a40 at least was kept


def test_workers_of_another_version_are_refused(ray_cluster, zeus_trace_dir, tmp_path, monkeypatch):
    real = zeus_gym.__version__
    monkeypatch.setattr(zeus_gym, "__version__", "0.0.0+driver")  # the workers import the real one
    result = invoke(*benchmark_args(tmp_path / "ray", zeus_trace_dir, "default", "--backend", "ray"))
    assert result.exit_code == 1
    assert f"error: the Ray workers run zeus-gym {real}, this process 0.0.0+driver" in result.output


def test_without_ray_the_backend_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    for command in (["benchmark", "--output", str(tmp_path / "b")], ["cluster", "--output", str(tmp_path / "c")]):
        result = invoke(*command, "--backend", "ray")
        assert result.exit_code == 1
        assert result.output.strip() == 'error: --backend ray needs Ray, which is not installed: pip install "zeus-gym[ray]"'


@given(cpus=st.integers(1, 64), items=st.integers(1, 10_000), seconds_per_item=st.floats(1e-5, 10.0))
def test_chunks_cover_every_item_once_and_shrink_at_the_end(cpus, items, seconds_per_item):
    sizer, remaining, sizes = ChunkSizer(cpus), items, []
    while remaining:
        size = sizer.next_size(remaining)
        assert 1 <= size <= min(remaining, MAX_CHUNK)
        assert size <= -(-remaining // (2 * cpus))  # the tail is split over every CPU
        sizer.record(size, size * seconds_per_item)
        sizes.append(size)
        remaining -= size
    assert sum(sizes) == items


def test_measured_chunks_run_about_a_second():
    sizer, remaining, sizes = ChunkSizer(2), 2400, []
    while remaining:
        sizes.append(size := sizer.next_size(remaining))
        sizer.record(size, size * 0.03)
        remaining -= size
    assert sizes[0] == 4 and sizes[1] == round(1.0 / 0.03) and sizes[-1] == 1
    assert sum(size >= 30 for size in sizes) > 0.8 * 2400 / 34


def test_the_workers_play_on_a_copy_of_the_driver_traces(ray_cluster, zeus_trace_dir):
    from zeus_gym.backends.ray_runtime import ship_files
    from zeus_gym.benchmark.ray_backend import trace_files
    from zeus_gym.benchmark.results import trace_hashes

    def copied_hashes(shipped) -> tuple[str, dict[str, str]]:  # nested: pickled by value, for the workers
        from zeus_gym.backends.ray_runtime import local_copy
        from zeus_gym.benchmark.results import trace_hashes

        root = local_copy(shipped)
        return str(root), trace_hashes(root / "traces")

    shipped = ship_files(ray_cluster, trace_files(zeus_trace_dir))
    copied = ray_cluster.get([ray_cluster.remote(copied_hashes).remote(shipped) for _ in range(4)])
    assert {root for root, _ in copied} != {str(zeus_trace_dir)} and len({root for root, _ in copied}) == 1
    assert all(hashes == trace_hashes(zeus_trace_dir) for _, hashes in copied)
    assert sorted(copied[0][1]) == sorted(path.name for path in zeus_trace_dir.glob("summary_*.csv"))
