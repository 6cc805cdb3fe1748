"""The env's share of `zeus-gym train` wall time (training.json's env_share) for a short run of the
default recipe (MaskablePPO, all workloads + procedural jobs, all GPUs), next to the run's wall time.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/training_share.py [--timesteps 8192]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=8192)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "run"
        subprocess.run([sys.executable, "-c", "from zeus_gym.cli import main; main()", "train", "--algo", "maskable-ppo",
                        "--timesteps", str(args.timesteps), "--workloads", "all,procedural", "--gpus", "all", "--seed", "0",
                        "--output", str(output)], check=True, stdout=subprocess.DEVNULL)
        timing = json.loads((output / "training.json").read_text())
    print(f"zeus-gym train (maskable-ppo, {timing['timesteps']} steps): {timing['seconds']:.2f} s wall, "
          f"env {timing['env_seconds']:.2f} s = {timing['env_share']:.1%} of it")


if __name__ == "__main__":
    main()
