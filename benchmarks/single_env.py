"""Single-env steps per second of RecurringJob-v2 with random actions, next to references measured
in the same run: Gymnasium's CartPole-v1 (a pure-Python env) and, if zeus==0.16.0 is installed, the
reference simulator's own run (`Simulator._run_job`, one pandas-based run per step).

    ZEUS_GYM_TRACE_DIR=... python benchmarks/single_env.py [--steps 20000] [--rounds 3] [--workload movielens-1m --gpu p100]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import gymnasium as gym
import numpy as np

import zeus_gym  # noqa: F401


def steps_per_second(env: gym.Env, steps: int, seed: int = 0) -> float:
    """Random actions, pre-sampled so that the sampler is not timed."""
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(steps)]
    env.reset(seed=seed)
    start = time.perf_counter()
    for action in actions:
        if env.step(action)[2]:
            env.reset()
    return steps / (time.perf_counter() - start)


def reference_runs_per_second(workload: str, gpu: str, runs: int) -> float | None:
    """Runs per second of zeus==0.16.0's `Simulator._run_job` on the same job and random configs."""
    try:
        import pandas as pd
        from zeus._legacy.job import Job
        from zeus._legacy.simulate import Simulator
    except ImportError:
        return None
    from zeus_gym.traces import load_trace_set

    env = gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu).unwrapped
    job = env.params.jobs[0]
    root = load_trace_set().root
    simulator = Simulator(pd.read_csv(root / "summary_train.csv"), pd.read_csv(root / f"summary_power_{gpu}.csv"), None, None, verbose=False)
    spec = Job(job.spec.dataset, job.spec.network, job.spec.optimizer, job.spec.target_metric, job.spec.max_epochs, job.b0)
    rng = np.random.default_rng(0)
    measured = np.argwhere(job.feasible)
    configs = [measured[i] for i in rng.integers(len(measured), size=runs)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        for b, p in configs:
            simulator._run_job(job=spec, batch_size=int(job.batch_sizes[b]), power_limit=int(job.power_limits[p]), rng=rng, cost_ub=np.inf, eta_knob=0.5, profile_power=False)
    return runs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--workload", default="librispeech")
    parser.add_argument("--gpu", default="v100")
    parser.add_argument("--rounds", type=int, default=3, help="alternate the envs this many times; the best of each is kept")
    args = parser.parse_args()

    # On a shared machine the load changes within seconds: the envs take turns, and each keeps
    # its best round, so that the ratio compares the two under the same conditions.
    ours = bare = cartpole = 0.0
    for _ in range(args.rounds):
        ours = max(ours, steps_per_second(gym.make("ZeusGym/RecurringJob-v2", workload=args.workload, gpu=args.gpu), args.steps))
        bare = max(bare, steps_per_second(gym.make("ZeusGym/RecurringJob-v2", workload=args.workload, gpu=args.gpu).unwrapped, args.steps))
        cartpole = max(cartpole, steps_per_second(gym.make("CartPole-v1"), args.steps))
    reference = reference_runs_per_second(args.workload, args.gpu, max(args.steps // 50, 100))
    print(f"RecurringJob-v2 ({args.workload}, {args.gpu}), gym.make: {ours:12,.0f} steps/s")
    print(f"RecurringJob-v2 unwrapped:                     {bare:12,.0f} steps/s")
    print(f"CartPole-v1, gym.make (same run):              {cartpole:12,.0f} steps/s   ratio ours/CartPole = {ours / cartpole:.2f}")
    if reference is None:
        print("zeus==0.16.0 not installed: no reference simulator timing")
    else:
        print(f"zeus 0.16.0 Simulator._run_job (same run):     {reference:12,.0f} runs/s    ratio ours/reference = {ours / reference:.1f}")


if __name__ == "__main__":
    main()
