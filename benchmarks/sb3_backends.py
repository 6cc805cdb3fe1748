"""The SB3 adapter's two backends (`make_sb3_vec_env(backend=...)`): steps per second of the scalar
backend (single envs on the fast path) and of the vector backend (the native vector env), with
flat masked actions as MaskablePPO takes them, at several N, alternating rounds in one process.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/sb3_backends.py [--workload procedural --gpu all]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from zeus_gym.sb3 import make_sb3_vec_env


def steps_per_second(venv, steps: int, seed: int = 0) -> float:
    """Env steps per second of `steps` vector steps of playable actions (drawn outside the timer)."""
    rng = np.random.default_rng(seed)
    venv.seed(seed)
    venv.reset()
    seconds = 0.0
    for _ in range(steps):
        masks = np.stack(venv.env_method("action_masks"))
        actions = np.array([rng.choice(np.flatnonzero(mask)) for mask in masks])
        start = time.perf_counter()
        venv.step(actions)
        seconds += time.perf_counter() - start
    return steps * venv.num_envs / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="procedural")
    parser.add_argument("--gpu", default="all")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kwargs = dict(workload=args.workload, gpu=args.gpu, slots=(15, 9))
    for n in args.num_envs:
        envs = {backend: make_sb3_vec_env(n, flat_actions=True, backend=backend, **kwargs) for backend in ("scalar", "vector")}
        steps = max(20, 4096 // n)
        rates: dict[str, list[float]] = {backend: [] for backend in envs}
        for _ in range(args.rounds):
            for backend, venv in envs.items():
                rates[backend].append(steps_per_second(venv, steps))
        scalar, vector = np.median(rates["scalar"]), np.median(rates["vector"])
        print(f"N = {n:4d}: scalar {scalar:10,.0f} steps/s, vector {vector:10,.0f} steps/s, scalar / vector {scalar / vector:5.2f}")


if __name__ == "__main__":
    main()
