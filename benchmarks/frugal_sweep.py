"""Tune and check FrugalAgent: cost / Default per workload x GPU, for option settings given on
the command line, next to ZeusAgent (the reference) measured in the same run.

    python benchmarks/frugal_sweep.py --seeds 1-5                    # the defaults
    python benchmarks/frugal_sweep.py --seeds 1-5 --set optimism=0.5 --set budget=0.98
    python benchmarks/frugal_sweep.py --seeds 6-25 --eta 0.2 --beta inf

Prints, per setting, the mean over pairs of the per-pair mean over seeds, the worst pair, and how
many pairs are above 1.0 and 1.01 of Default. `--pairs` prints every pair. Tune on seeds 1-5 only;
other seeds, etas and betas are for checking.
"""

from __future__ import annotations

import argparse
import itertools
import statistics

import gymnasium as gym

import zeus_gym  # noqa: F401  (registers the env)
from zeus_gym.agents import FrugalAgent, ZeusAgent
from zeus_gym.benchmark.grid import parse_seeds
from zeus_gym.runner import run_episode
from zeus_gym.workloads import WORKLOADS

GPUS = ("a40", "p100", "rtx6000", "v100")


def per_pair(make_agent, seeds, eta: float, beta: float) -> dict[tuple[str, str], float]:
    """Mean cost / Default over seeds, per (workload, GPU)."""
    result = {}
    for workload, gpu in itertools.product(WORKLOADS, GPUS):
        env = gym.make("ZeusGym/RecurringJob-v2", workload=workload, gpu=gpu, eta_knob=eta, beta_knob=beta)
        result[workload, gpu] = statistics.fmean(run_episode(env, make_agent(), seed).summary.vs_default for seed in seeds)
    return result


def report(name: str, pairs: dict[tuple[str, str], float], show_pairs: bool) -> None:
    worst = max(pairs, key=pairs.__getitem__)
    values = list(pairs.values())
    print(f"{name:<40} mean {statistics.fmean(values):.4f}  max {pairs[worst]:.4f} ({worst[0]}/{worst[1]})  "
          f">1.0: {sum(v > 1.0 for v in values)}  >1.01: {sum(v > 1.01 for v in values)}")
    if show_pairs:
        for (workload, gpu), value in pairs.items():
            print(f"    {workload:<13} {gpu:<8} {value:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--eta", type=float, default=0.5)
    parser.add_argument("--beta", type=float, default=2.0)
    parser.add_argument("--set", action="append", default=[], help="one setting: option=value, several joined by ';' (repeat --set for more settings)")
    parser.add_argument("--pairs", action="store_true", help="print every pair")
    args = parser.parse_args()
    seeds = parse_seeds(args.seeds)
    report("zeus", per_pair(ZeusAgent, seeds, args.eta, args.beta), args.pairs)
    settings = []
    for group in args.set or [""]:
        options = {}
        for item in filter(None, group.split(";")):
            key, equals, value = item.partition("=")
            if not equals or key not in FrugalAgent().options:
                parser.error(f"--set {group!r}: use option=value with an option of {', '.join(FrugalAgent().options)}")
            try:
                options[key] = float(value)
            except ValueError:
                parser.error(f"--set {group!r}: {value!r} is not a number")
        try:
            FrugalAgent(**options)
        except ValueError as error:
            parser.error(f"--set {group!r}: {error}")
        settings.append(options)
    for options in settings:
        report(f"frugal {options}", per_pair(lambda: FrugalAgent(**options), seeds, args.eta, args.beta), args.pairs)


if __name__ == "__main__":
    main()
