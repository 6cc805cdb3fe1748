"""Episodes per second of `zeus-gym benchmark --backend ray` against the local backend on the same
grid, measured in the same run; Ray's start-up and shutdown reported apart.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/ray_backend.py [--seeds 20] [--order local,ray]

The grid is the default one (5 agents x 24 workload/GPU pairs) with --seeds seeds. Each backend
runs it into a fresh folder with run_benchmark, the function the command calls; the two results
files must be byte-identical. "Ray" is timed from a connected driver (ray.init done): the
episodes, shipping the files, the workers' first imports and trace parsing; ray.init and
ray.shutdown are timed apart. The machine's load average is printed before and after: the
figures are only comparable on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from zeus_gym.backends.ray_runtime import child_environment, import_ray
from zeus_gym.benchmark.grid import DEFAULT_AGENTS, parse_grid
from zeus_gym.benchmark.run import run_benchmark
from zeus_gym.traces import load_trace_set, resolve_trace_dir


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 1..N of the default grid")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local worker processes (and Ray CPUs)")
    parser.add_argument("--order", default="local,ray", help="which backend runs first")
    args = parser.parse_args()

    root = resolve_trace_dir()
    grid = parse_grid(DEFAULT_AGENTS, "all", "all", f"1-{args.seeds}", "0.5", "2", load_trace_set(root).gpus)
    episodes = len(grid.cases())
    print(f"grid: {len(grid.agents)} agents x {len(grid.workloads) * len(grid.gpus)} pairs x {args.seeds} seeds = {episodes} episodes; "
          f"{args.workers} local workers / Ray CPUs; load average {load()}")
    ray = import_ray()
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for backend in args.order.split(","):
            folder = Path(scratch) / backend
            if backend == "ray":
                start = time.perf_counter()
                with child_environment():
                    ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING")
                seconds["ray.init"] = time.perf_counter() - start
            start = time.perf_counter()
            run_benchmark(grid, folder, trace_dir=root, workers=args.workers, backend=backend)
            seconds[backend] = time.perf_counter() - start
            if backend == "ray":
                start = time.perf_counter()
                ray.shutdown()
                seconds["ray.shutdown"] = time.perf_counter() - start
        same = (Path(scratch) / "local" / "results.csv").read_bytes() == (Path(scratch) / "ray" / "results.csv").read_bytes()
    local, remote = episodes / seconds["local"], episodes / seconds["ray"]
    with_startup = episodes / (seconds["ray"] + seconds["ray.init"] + seconds["ray.shutdown"])
    print(f"local backend: {local:8.1f} episodes/s ({seconds['local']:.2f} s, worker start-up included)")
    print(f"ray backend:   {remote:8.1f} episodes/s ({seconds['ray']:.2f} s, connected driver)   ratio ray/local {remote / local:.2f}")
    print(f"ray start-up:  ray.init {seconds['ray.init']:.2f} s, ray.shutdown {seconds['ray.shutdown']:.2f} s; "
          f"with them {with_startup:.1f} episodes/s, ratio {with_startup / local:.2f}")
    print(f"results identical: {same}; load average {load()}")
    if not same:
        raise SystemExit("the two backends wrote different results")


if __name__ == "__main__":
    main()
