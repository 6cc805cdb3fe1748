"""A real zeus-gym run in its own process, for the concurrency and kill tests of test_reliability_*.

    python tests/reliability_child.py benchmark OUTPUT AGENTS WORKERS
    python tests/reliability_child.py cluster OUTPUT GROUPS_FILE AGENT WORKERS
    python tests/reliability_child.py train OUTPUT TIMESTEPS

It calls the library functions the commands call (so it does not depend on where the CLI lives),
prints "started" once the run holds its folder (train: before it starts), and exits 0 when the run is complete, 3 when the
folder was refused (the error on stderr)."""

from __future__ import annotations

import sys
from pathlib import Path


def main(kind: str, output: str, *args: str) -> int:
    started = lambda done, total: print("started", done, total, flush=True)  # noqa: E731
    try:
        if kind == "benchmark":
            from zeus_gym.benchmark.grid import Grid
            from zeus_gym.benchmark.run import run_benchmark

            agents, workers = args
            grid = Grid(agents=tuple(agents.split(",")), workloads=("cifar100", "squad"), gpus=("a40", "p100", "rtx6000", "v100"),
                        seeds=tuple(range(1, 7)), etas=(0.5,), betas=(2.0,))
            run_benchmark(grid, Path(output), workers=int(workers), on_row=started)
        elif kind == "cluster":
            from zeus_gym.cluster.run import Settings, run_cluster

            groups, agent, workers = args
            settings = Settings(groups=groups, synthetic_groups=0, synthetic_seed=0, gpu="v100", eta=0.5, beta=2.0, agent=agent,
                                max_retries=None, trace_dir=None, history=None)
            run_cluster(settings, Path(output), workers=int(workers), on_rows=started)
        elif kind == "train":
            from zeus_gym.training import TrainConfig, train

            config = TrainConfig(algo="ppo", timesteps=int(args[0]), workloads=["squad"], gpus=["a40"], n_envs=1,
                                 hyperparameters={"n_steps": 64, "batch_size": 64})
            print("started", flush=True)
            train(config, Path(output), progress_bar=False)
        else:
            raise SystemExit(f"unknown kind {kind!r}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
