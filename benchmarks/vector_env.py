"""Vector-env steps per second (sub-environment steps) of the native RecurringJob-v2 vector env
(numpy step, and with numba installed the compiled step, `accelerator="numba"`) and of
SyncVectorEnv over single envs at the same N, measured in the same run, random actions. The
two native steps are measured in alternating rounds (best of `--rounds`), so that a slower
spell of the machine does not fall on one of them only.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/vector_env.py [--sizes 1,64,1024] [--seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym

import zeus_gym  # noqa: F401
from zeus_gym.core.compiled import available

ENV_ID = "ZeusGym/RecurringJob-v2"


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


def copy_ceiling(envs: gym.vector.VectorEnv, seconds: float) -> tuple[float, int]:
    """(sub-environment steps/s, bytes per step) if a step did nothing but what copy=True must:
    hand out fresh arrays holding the observation (one `copy` per key)."""
    observation, _ = envs.reset(seed=0)
    copies, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(16):
            {key: value.copy() for key, value in observation.items()}
        copies += 16
    return copies * envs.num_envs / (time.perf_counter() - start), sum(value.nbytes for value in observation.values())


def python_loop_share(n: int, kwargs: dict, steps: int = 3000) -> dict[str, float]:
    """Share of native step time spent in the per-env Python loops: refilling random-word
    buffers (one generator call per env every 1024 draws) and the reset info of envs that
    autoreset (object-typed entries are copied per env)."""
    import cProfile
    import pstats

    envs = gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", **kwargs)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(steps)]
    envs.reset(seed=0)
    profile = cProfile.Profile()
    profile.enable()
    for action in actions:
        envs.step(action)
    profile.disable()
    stats = pstats.Stats(profile).stats
    total = sum(entry[2] for entry in stats.values())  # tottime of everything
    loops = {"buffer refills": "_refill", "reset infos": "_reset_infos"}
    return {label: sum(entry[3] for (_, _, name), entry in stats.items() if func in name) / total for label, func in loops.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,64,1024")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--workload", default="librispeech")
    parser.add_argument("--gpu", default="v100")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kwargs = dict(workload=args.workload, gpu=args.gpu)
    has_numba = available()
    accelerators = ["numpy", "numba"] if has_numba else ["numpy"]
    if not has_numba:
        print('numba is not installed (pip install "zeus-gym[fast]"): the compiled step is not measured')
    print(f"{'N':>6} {'numpy steps/s':>14} {'(copy=False)':>13} {'numba steps/s':>14} {'(copy=False)':>13} {'SyncVectorEnv':>14} "
          f"{'numpy/sync':>11} {'numba/numpy':>12}")
    largest = max(int(size) for size in args.sizes.split(","))
    best_at_largest: dict[str, float] = {}
    for n in (int(size) for size in args.sizes.split(",")):
        envs = {(accelerator, copy): gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", copy=copy, accelerator=accelerator, **kwargs)
                for accelerator in accelerators for copy in (True, False)}
        for each in envs.values():  # the first numba step loads (or compiles) the kernel
            each.reset(seed=0)
            each.step(each.action_space.sample())
        best = dict.fromkeys(envs, 0.0)
        for _ in range(args.rounds):
            for key, each in envs.items():
                best[key] = max(best[key], steps_per_second(each, args.seconds / args.rounds))
        sync = steps_per_second(gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="sync", **kwargs), args.seconds)
        numba_ = [f"{best[('numba', True)]:>14,.0f}", f"{best[('numba', False)]:>13,.0f}"] if has_numba else [f"{'-':>14}", f"{'-':>13}"]
        speedup = f"{best[('numba', True)] / best[('numpy', True)]:>12.2f}" if has_numba else f"{'-':>12}"
        print(f"{n:>6} {best[('numpy', True)]:>14,.0f} {best[('numpy', False)]:>13,.0f} {' '.join(numba_)} {sync:>14,.0f} "
              f"{best[('numpy', True)] / sync:>11.1f} {speedup}")
        if n == largest:
            best_at_largest = {accelerator: best[(accelerator, True)] for accelerator in accelerators}
    print(f"aim at N={largest}, copy=True: 2,000,000 steps/s; " + ", ".join(
        f"{accelerator} {rate:,.0f} ({rate / 2e6:.2f} of the aim)" for accelerator, rate in best_at_largest.items()))
    ceiling, size = copy_ceiling(gym.make_vec(ENV_ID, num_envs=largest, vectorization_mode="vector_entry_point", **kwargs), args.seconds)
    print(f"N={largest}: copying the observation alone ({size / 2**20:.1f} MiB per step) allows {ceiling:,.0f} steps/s, "
          "the ceiling of copy=True on this machine")
    shares = python_loop_share(largest, kwargs)
    print(f"per-env Python loops at N={largest}: " + ", ".join(f"{label} {share:.1%}" for label, share in shares.items()) + " of step time")


if __name__ == "__main__":
    main()
