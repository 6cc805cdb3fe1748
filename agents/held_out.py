"""Held-out jobs: does a learned policy beat Zeus on workloads and GPUs it never trained on?

Two protocols, one MaskablePPO policy (`zeus_gym.policies.ConfigurationScorerPolicy`, the default
of `zeus-gym train`) per fold:

- leave one workload out (6 folds): train on the other five workloads on all four GPUs;
- leave one GPU out (4 folds): train on the six workloads on the other three GPUs.

Training jobs are procedural (`zeus_gym.procedural`): every episode a synthetic job derived from
a training job (never from the held-out one), or with probability `--real-share` the training
job itself; a share `--short-share` of the synthetic jobs keeps only b0 and one neighbour (short
jobs, whose few recurrences make a trial of the other batch size dear), and a share
`--flat-share` has its power surface flattened (power limits save little). Both default to 0:
on the v1 observation, short shares 0.2 and 0.5, and 0.5 short with 0.5 flat, left imagenet /
P100, the pair they were meant for, at 1.053 x Default, as without them (the policy's budget
margin on v2 brought it to 0.972). Each fold is then evaluated greedily on its held-out pairs with seeds the training
never used (`--seeds`), next to the cloned policy PPO started from, Frugal, Zeus, Default and the
Oracle, with `zeus-gym benchmark`.
During training, a curve records the mean training episode return and the greedy cost / Default
on the held-out pairs (one episode each, seed 10000) every `--curve-every` steps.

    python agents/held_out.py --timesteps 60000 --jobs 2 --output docs/training/held_out

Writes `OUTPUT/<protocol>-<held out>/policy/` (model, config, timing, TensorBoard, curve.csv),
`.../eval/` (the benchmark folder), and `OUTPUT/README.md` (tables) with `training_curves.png`.
Re-running resumes: trained policies and finished benchmark cases are kept.
Runs with other `--seed`s (and outputs) go into one table with `agents/held_out_seeds.py`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from multiprocessing import get_context
from pathlib import Path

import numpy as np

# learned: the checkpoint chosen on validation jobs; cloned: the policy before PPO; final: after all PPO steps
AGENTS = ("learned", "cloned", "final", "frugal", "zeus", "default", "oracle")
GPUS = ("a40", "p100", "rtx6000", "v100")
CURVE_SEEDS = (10_000, 10_001)  # the held-out curve's episodes
VALIDATION_SEEDS = (20_000, 20_001)  # the training jobs' episodes that choose the checkpoint


def folds() -> list[tuple[str, str]]:
    from zeus_gym import WORKLOADS

    return [("workload", w) for w in WORKLOADS] + [("gpu", g) for g in GPUS]


def fold_config(protocol: str, held_out: str, args: argparse.Namespace):  # noqa: ANN201 (TrainConfig, imported late)
    from zeus_gym import WORKLOADS
    from zeus_gym.training import TrainConfig

    if protocol == "workload":
        workloads, gpus = [w for w in WORKLOADS if w != held_out], list(GPUS)
    else:
        workloads, gpus = list(WORKLOADS), [g for g in GPUS if g != held_out]
    return TrainConfig(algo="maskable-ppo", timesteps=args.timesteps, workloads=[*workloads, "procedural"], gpus=gpus,
                       seed=args.seed, n_envs=args.n_envs, procedural={"real_share": args.real_share, "short_share": args.short_share, "flat_share": args.flat_share},
                       warm_start=None if args.warm_start == "none" else args.warm_start, warm_start_steps=args.warm_start_steps,
                       warm_start_epochs=args.warm_start_epochs, warm_start_rounds=args.dagger_rounds,
                       warm_start_round_steps=args.dagger_steps, warm_start_round_epochs=args.dagger_epochs,
                       hyperparameters=json.loads(args.hyperparameters))


def held_out_pairs(protocol: str, held_out: str) -> list[tuple[str, str]]:
    from zeus_gym import WORKLOADS

    return [(held_out, g) for g in GPUS] if protocol == "workload" else [(w, held_out) for w in WORKLOADS]


def training_pairs(protocol: str, held_out: str) -> list[tuple[str, str]]:
    """The fold's real training jobs (its validation jobs, on seeds training never used)."""
    from zeus_gym import WORKLOADS

    return [(w, g) for w in WORKLOADS for g in GPUS if (w if protocol == "workload" else g) != held_out]


def make_curve_callback(config, pairs: list[tuple[str, str]], validation: list[tuple[str, str]], every: int, folder: Path):  # noqa: ANN001, ANN201
    """An SB3 callback writing (steps, mean training return, greedy validation and held-out cost /
    Default) rows into `folder/policy/curve.csv`, saving the policy PPO starts from into
    `folder/cloned` and the checkpoint with the lowest validation cost so far into
    `folder/selected`. The validation jobs are the fold's real training jobs on fresh seeds: the
    held-out jobs never choose anything."""
    import gymnasium as gym
    from stable_baselines3.common.callbacks import BaseCallback

    from zeus_gym.runner import run_episode
    from zeus_gym.training import Sb3Agent, save_policy

    def envs(jobs: list[tuple[str, str]]) -> list[gym.Env]:
        return [gym.make("ZeusGym/RecurringJob-v2", workload=w, gpu=g, **config.env_kwargs()) for w, g in jobs]

    held_envs, validation_envs = envs(pairs), envs(validation)

    def cost(agent: Sb3Agent, jobs: list[gym.Env], seeds: tuple[int, ...]) -> float:
        return float(np.mean([run_episode(env, agent, seed=seed).summary.vs_default for env in jobs for seed in seeds]))

    class Curve(BaseCallback):
        def _on_training_start(self) -> None:
            self.next, self.rows, self.best = 0, [], np.inf
            save_policy(self.model, config, folder / "cloned")
            self._record()

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self._record()
            return True

        def _on_training_end(self) -> None:
            self._record()

        def _record(self) -> None:
            if self.rows and self.rows[-1][0] == self.num_timesteps:
                return  # the last step was just recorded
            agent = Sb3Agent(model=self.model, config=config)
            validation_cost = cost(agent, validation_envs, VALIDATION_SEEDS)
            if validation_cost < self.best:
                self.best = validation_cost
                save_policy(self.model, config, folder / "selected")
            returns = [info["r"] for info in self.model.ep_info_buffer] if self.model.ep_info_buffer else [float("nan")]
            self.rows.append((self.num_timesteps, float(np.mean(returns)), validation_cost, cost(agent, held_envs, CURVE_SEEDS)))
            self.next = self.num_timesteps + every
            with open(folder / "policy" / "curve.csv", "w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["steps", "train_return", "validation_cost_over_default", "held_out_cost_over_default"])
                writer.writerows(self.rows)

    return Curve()


def run_fold(fold: tuple[str, str], args: argparse.Namespace) -> str:
    """Train (unless trained) and benchmark one fold; returns its folder name."""
    os.environ["OMP_NUM_THREADS"] = "1"
    from zeus_gym.training import train

    protocol, held_out = fold
    folder = args.output / f"{protocol}-{held_out}"
    policy = folder / "policy"
    if not (policy / "model.zip").is_file():
        config = fold_config(protocol, held_out, args)
        start = time.perf_counter()
        print(f"[{time.strftime('%H:%M:%S')}] training {folder.name}", flush=True)
        policy.mkdir(parents=True, exist_ok=True)
        callback = make_curve_callback(config, held_out_pairs(protocol, held_out), training_pairs(protocol, held_out), args.curve_every, folder)
        train(config, policy, progress_bar=False, callback=callback)
        print(f"[{time.strftime('%H:%M:%S')}] trained {folder.name} in {time.perf_counter() - start:.0f} s", flush=True)
    pairs = held_out_pairs(protocol, held_out)
    # The CLI's `app` in this interpreter (not a `zeus-gym` script that may belong to another install).
    command = [sys.executable, "-c", "from zeus_gym.cli import app; app()", "benchmark", "--agents", f"sb3:{folder / 'selected'},sb3:{folder / 'cloned'},sb3:{policy},frugal,zeus,default,oracle",
               "--workloads", ",".join(sorted({w for w, _ in pairs})), "--gpus", ",".join(sorted({g for _, g in pairs})),
               "--seeds", args.seeds, "--output", str(folder / "eval"), "--workers", "1", "--no-plots"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    print(f"[{time.strftime('%H:%M:%S')}] evaluated {folder.name}", flush=True)
    return folder.name


def fold_results(folder: Path) -> dict[str, dict[tuple[str, str], list[float]]]:
    """A fold's benchmark results: per agent (learned, cloned, final and the baselines) and held-out
    pair, the cost / Default of every evaluation seed."""
    values: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(folder / "eval" / "results.csv", newline="") as file:
        for row in csv.DictReader(file):
            name = row["agent"]
            if name.startswith("sb3:"):
                name = {"selected": "learned", "cloned": "cloned", "policy": "final"}[Path(name[4:]).name]
            values[name][(row["workload"], row["gpu"])].append(float(row["cost_over_default"]))
    return values


def tables(output: Path) -> tuple[str, dict[str, dict[str, float]]]:
    """Markdown: per fold, mean (± std over pairs and seeds) cost / Default per agent, the learned
    policy's worst held-out pair; per protocol, the mean over folds."""
    lines, means = [], {}
    for protocol in ("workload", "gpu"):
        lines += [f"\n**Leave one {protocol} out** (cells: mean cost / Default ± std over held-out pairs and seeds)\n",
                  f"| held-out {protocol} | " + " | ".join(AGENTS) + " | learned: worst pair / Default | learned < zeus |",
                  "|---" * (len(AGENTS) + 3) + "|"]
        fold_means = []
        for kind, held_out in folds():
            if kind != protocol:
                continue
            values = fold_results(output / f"{kind}-{held_out}")
            cells = [f"{np.mean(sum(values[a].values(), [])):.3f} ± {np.std(sum(values[a].values(), [])):.3f}" for a in AGENTS]
            row_means = {a: float(np.mean(sum(values[a].values(), []))) for a in AGENTS}
            worst_pair, worst = max(((p, np.mean(v)) for p, v in values["learned"].items()), key=lambda item: item[1])
            cells.append(f"{worst:.3f} ({worst_pair[0]}/{worst_pair[1]})")
            cells.append("yes" if row_means["learned"] < row_means["zeus"] else "no")
            lines.append(f"| {held_out} | " + " | ".join(cells) + " |")
            fold_means.append(row_means)
            means[f"{kind}-{held_out}"] = row_means
        overall = [f"**{np.mean([m[a] for m in fold_means]):.3f}**" for a in AGENTS]
        lines.append("| **mean over folds** | " + " | ".join(overall) + " | | |")
    return "\n".join(lines), means


def plot_curves(output: Path) -> None:
    from matplotlib.figure import Figure

    from zeus_gym.benchmark.plots import LINE_STYLES, METADATA, OKABE_ITO

    figure = Figure(figsize=(11, 9.5), layout="constrained")
    axes = figure.subplots(3, 2, sharex=True)
    for column, protocol in enumerate(("workload", "gpu")):
        held = [h for k, h in folds() if k == protocol]
        for held_out, color, style in zip(held, OKABE_ITO, LINE_STYLES):
            path = output / f"{protocol}-{held_out}" / "policy" / "curve.csv"
            if not path.is_file():
                continue
            rows = np.genfromtxt(path, delimiter=",", skip_header=1, ndmin=2)
            line = dict(color=color, linestyle=style, linewidth=1.6, marker="o", markersize=3, label=f"{held_out} held out")
            axes[0, column].plot(rows[:, 0] / 1000, rows[:, 1], **line)
            axes[1, column].plot(rows[:, 0] / 1000, rows[:, 2], **line)
            axes[2, column].plot(rows[:, 0] / 1000, rows[:, 3], **line)
        axes[0, column].set_title(f"leave one {'GPU' if protocol == 'gpu' else protocol} out")
        axes[0, column].set_ylabel("training episode return\n(−Σ run cost / Default's cost)")
        axes[1, column].set_ylabel("validation cost / Default\n(training jobs, fresh seeds)")
        axes[2, column].set_ylabel("held-out cost / Default\n(greedy, lower is better)")
        for ax in axes[1:, column]:
            ax.axhline(1.0, color="0.45", linestyle=(0, (1, 2)), linewidth=1, label="Default")
        for ax in axes[:, column]:
            ax.ticklabel_format(axis="y", style="plain", useOffset=False)  # 1.03, not 3e-2 + 1
            ax.legend(fontsize=7)
        axes[2, column].set_xlabel("PPO steps (thousands; 0 = the cloned policy)")
    figure.savefig(output / "training_curves.png", dpi=110, metadata=METADATA["png"])


def report(output: Path, args: argparse.Namespace, wall: float | None, resumed: int = 0) -> str:
    markdown, _ = tables(output)
    timings = {name: json.loads((output / name / "policy" / "training.json").read_text()) for name in (f"{k}-{h}" for k, h in folds())}
    seconds = sum(t["seconds"] for t in timings.values())
    env_seconds = sum(t["env_seconds"] for t in timings.values())
    cloning = sum((t["warm_start"] or {}).get("seconds", 0.0) for t in timings.values())
    demonstrating = sum((t["warm_start"] or {}).get("demonstration_seconds", 0.0) for t in timings.values())
    steps = ", ".join(str(n) for n in sorted({t["timesteps"] for t in timings.values()}))
    command = (f"python agents/held_out.py --timesteps {args.timesteps} --seed {args.seed} --n-envs {args.n_envs} "
               f"--real-share {args.real_share} --short-share {args.short_share} --flat-share {args.flat_share} --warm-start {args.warm_start} --warm-start-steps {args.warm_start_steps} --warm-start-epochs {args.warm_start_epochs} --dagger-rounds {args.dagger_rounds} --dagger-steps {args.dagger_steps} --dagger-epochs {args.dagger_epochs} --hyperparameters '{args.hyperparameters}' --seeds {args.seeds} --curve-every {args.curve_every} --jobs {args.jobs} --output {output}")
    dagger = (f", then {args.dagger_rounds} DAgger rounds (each: {args.dagger_steps} steps of the clone's own greedy play labelled by {args.warm_start}, "
              f"and {args.dagger_epochs} epochs on all the data so far)" if args.dagger_rounds else "")
    warm = (f"{args.warm_start} on {args.warm_start_steps} steps of its own play for {args.warm_start_epochs} epochs, its decisions whether to explore (its explorations, and its choice right after each profile run) weighted as much as its other decisions{dagger}"
            if args.warm_start != "none" else "(none: a randomly initialised policy)")
    wall_line = ""
    if wall:
        kept = f", resuming {resumed} folds trained by an earlier run" if resumed else ""
        wall_line = f" The last run of the recipe (training, curves and benchmarks, {args.jobs} folds at a time{kept}) took {wall:.0f} s of wall time."
    text = f"""# Held-out jobs: the shared-scorer MaskablePPO policy vs Zeus

Generated by `{command}`.

One policy per fold: MaskablePPO (sb3-contrib) with `zeus_gym.policies.ConfigurationScorerPolicy`
(one small network scores every configuration from its row of the `RecurringJob-v2` observation
and the global features), {args.n_envs} native vector envs, eta 0.5, beta 2, action slots
(15, 9), {steps} PPO steps per fold. Training jobs are procedural, derived only from the fold's
training jobs (a real training job itself with probability {args.real_share}; of the others, a
share {args.short_share} keeps only b0 and one neighbouring batch size). Evaluation is
greedy (the most likely playable action), on the held-out pairs with seeds {args.seeds} (training
used env seeds {args.seed}..{args.seed + args.n_envs - 1} and their continuations), next to Frugal, Zeus,
Default and the Oracle, with `zeus-gym benchmark`. Lower is better; Default = 1.

- `learned`, the recipe's result: of the policies met during training (the cloned one and one every
  {args.curve_every} PPO steps), the one with the lowest greedy cost / Default on the fold's real
  training jobs with seeds {", ".join(map(str, VALIDATION_SEEDS))} (validation; the held-out jobs choose nothing);
- `cloned`: the policy before PPO (the curves' step 0), right after imitating {warm};
- `final`: the policy after all its PPO steps.
{markdown}

Training: {seconds:.0f} s in all (one torch thread per fold on the shared 2-core machine), of
which {env_seconds:.0f} s ({env_seconds / seconds:.1%}) in the environment (reset and step,
procedural job generation included); the rest is the policy's inference and updates and the
curves' validation and held-out episodes. Imitation is part of that time: {cloning:.0f} s, of which
{demonstrating:.0f} s for the teacher to play its demonstrations (its env steps and its own
decisions, not counted in the environment's share above).{wall_line}

![training curves](training_curves.png)

Curves, every {args.curve_every} PPO steps: top, the mean return of the last training episodes (sum
of -cost / default cost over an episode of the procedural training jobs); middle, the greedy
policy's cost / Default on the validation jobs (the fold's real training jobs, seeds
{", ".join(map(str, VALIDATION_SEEDS))}), which chooses `learned`; bottom, on the fold's held-out pairs (seeds
{", ".join(map(str, CURVE_SEEDS))}; the tables above use seeds {args.seeds}).
"""
    (output / "README.md").write_text(text)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--real-share", type=float, default=0.25)
    parser.add_argument("--short-share", type=float, default=0.0, help="share of short procedural jobs: b0 and one neighbour")
    parser.add_argument("--flat-share", type=float, default=0.0, help="share of procedural jobs whose power limits save little")
    parser.add_argument("--seeds", default="101-105")
    parser.add_argument("--warm-start", default="frugal", help="agent to imitate before PPO, or none")
    parser.add_argument("--warm-start-steps", type=int, default=20_000)
    parser.add_argument("--warm-start-epochs", type=int, default=10)
    parser.add_argument("--dagger-rounds", type=int, default=2, help="DAgger rounds after cloning (zeus_gym.imitation)")
    parser.add_argument("--dagger-steps", type=int, default=20_000, help="steps of the clone's play per DAgger round")
    parser.add_argument("--dagger-epochs", type=int, default=5, help="epochs of each DAgger round's refit")
    parser.add_argument("--hyperparameters", default="{}", help="JSON of MaskablePPO arguments over zeus-gym's defaults")
    parser.add_argument("--curve-every", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2, help="folds trained at once (one core each)")
    parser.add_argument("--folds", default="all", help="comma-separated protocol-held_out names, e.g. workload-squad,gpu-a40")
    parser.add_argument("--output", type=Path, default=Path("docs/training/held_out"))
    return parser.parse_args(argv)


def main() -> int | None:
    args = parse_args()
    chosen = folds() if args.folds == "all" else [tuple(name.split("-", 1)) for name in args.folds.split(",")]
    start = time.perf_counter()
    resumed = sum((args.output / f"{k}-{h}" / "policy" / "model.zip").is_file() for k, h in chosen)
    from zeus_gym.cli.progress import terminate_as_interrupt

    # SIGTERM stops the run as Ctrl-C does: leaving the pool terminates its workers, which a dead
    # parent would otherwise leave training their folds (and writing into a rerun's log).
    try:
        with terminate_as_interrupt(), get_context("spawn").Pool(args.jobs) as pool:  # one fold per task
            results = [pool.apply_async(run_fold, (fold, args)) for fold in chosen]
            failed = []
            for fold, result in zip(chosen, results):
                try:
                    print(f"done {result.get()}", flush=True)
                except Exception as error:  # noqa: BLE001 (reported, the other folds go on)
                    print(f"fold {'-'.join(fold)} failed: {error}", flush=True)
                    failed.append(fold)
    except KeyboardInterrupt:
        print("interrupted: the finished folds are kept; re-run the same command to resume the others", file=sys.stderr, flush=True)
        return 130
    if failed:
        raise SystemExit(f"{len(failed)} folds failed; re-run the same command to resume them")
    if args.folds == "all":
        plot_curves(args.output)
        print(report(args.output, args, time.perf_counter() - start, resumed))


if __name__ == "__main__":
    sys.exit(main())
