"""Vector-env steps per second (sub-environment steps) of the native RecurringJob-v0 vector env
and of SyncVectorEnv over single envs at the same N, measured in the same run, random actions.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/vector_env.py [--sizes 1,64,1024] [--seconds 2]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import zeus_gym  # noqa: F401

ENV_ID = "ZeusGym/RecurringJob-v0"


def steps_per_second(envs: gym.vector.VectorEnv, seconds: float) -> float:
    """Sub-environment steps per second over pre-sampled random actions (the sampler is not timed)."""
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(64)]
    envs.reset(seed=0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            envs.step(action)
        steps += len(actions)
    return steps * envs.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,64,1024")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--workload", default="librispeech")
    parser.add_argument("--gpu", default="v100")
    args = parser.parse_args()
    kwargs = dict(workload=args.workload, gpu=args.gpu)
    print(f"{'N':>6} {'native steps/s':>15} {'(copy=False)':>13} {'SyncVectorEnv':>14} {'ratio':>7} {'(copy=False)':>13}")
    for n in (int(size) for size in args.sizes.split(",")):
        native = steps_per_second(gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kwargs), args.seconds)
        reused = steps_per_second(gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", copy=False, **kwargs), args.seconds)
        sync = steps_per_second(gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="sync", **kwargs), args.seconds)
        print(f"{n:>6} {native:>15,.0f} {reused:>13,.0f} {sync:>14,.0f} {native / sync:>7.1f} {reused / sync:>13.1f}")


if __name__ == "__main__":
    main()
