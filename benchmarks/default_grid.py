"""Wall time of the default benchmark grid end to end (`zeus-gym benchmark` into a new folder: start-up,
720 episodes, results, summary, figures), next to the CLI's own start-up measured in the same run,
and a check that results.csv is byte-identical to the committed docs/benchmark/default/results.csv.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/default_grid.py [--runs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMITTED = Path(__file__).resolve().parents[1] / "docs" / "benchmark" / "default" / "results.csv"
CLI = [sys.executable, "-c", "from zeus_gym.cli import main; main()"]


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repeat; the best run is reported (the machine is shared)")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    workers = [] if args.workers is None else ["--workers", str(args.workers)]
    best, startup = float("inf"), float("inf")
    for _ in range(args.runs):
        startup = min(startup, wall(["--help"]))
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "grid"
            best = min(best, wall(["benchmark", "--output", str(output), *workers]))
            same = filecmp.cmp(output / "results.csv", COMMITTED, shallow=False)
            if not same:
                sys.exit(f"results.csv differs from {COMMITTED}")
    print(f"default grid, zeus-gym benchmark end to end: {best:6.2f} s wall (best of {args.runs}); results.csv byte-identical to {COMMITTED.name}")
    print(f"zeus-gym --help (start-up, same run):         {startup:6.2f} s wall; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
