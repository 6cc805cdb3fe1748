"""`zeus-gym train`: train an SB3 / sb3-contrib policy on RecurringJob-v0 (needs the `rl` extra)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def train(
    algo: Annotated[str, typer.Option(help="ppo, a2c, dqn or maskable-ppo.")] = "maskable-ppo",
    timesteps: Annotated[int, typer.Option(help="Environment steps to train for.")] = 100_000,
    workloads: Annotated[str, typer.Option(help="Comma-separated workloads, or all.")] = "all",
    gpus: Annotated[str, typer.Option(help="Comma-separated GPUs, or all.")] = "all",
    seed: Annotated[int, typer.Option(help="Seed of the policy and the environments.")] = 0,
    output: Annotated[Path, typer.Option(help="Folder for model.zip, config.json, training.json and TensorBoard logs.")] = Path("runs/policy"),
    n_envs: Annotated[int, typer.Option(help="Environments stepped together.")] = 8,
    eta: Annotated[float, typer.Option(help="Energy weight of the cost, in [0, 1].")] = 0.5,
    beta: Annotated[float, typer.Option(help="Early-stop threshold factor; inf disables early stopping.")] = 2.0,
    recurrences: Annotated[Optional[int], typer.Option(help="Recurrences per episode (default 2|B||P|).")] = None,
    hyperparameters: Annotated[str, typer.Option(help='JSON object of algorithm arguments, e.g. {"learning_rate": 1e-4}.')] = "{}",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a policy with the native vector env (MaskablePPO) or penalised single envs (others)."""
    from zeus_gym.training import TrainConfig
    from zeus_gym.training import train as run_training

    try:
        config = TrainConfig(
            algo=algo, timesteps=timesteps, workloads=_names(workloads), gpus=_names(gpus), seed=seed, n_envs=n_envs,
            eta=eta, beta=beta, num_recurrences=recurrences, hyperparameters=json.loads(hyperparameters),
        )
        run_training(config, output, progress_bar=progress)
    except (ValueError, json.JSONDecodeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    timing = json.loads((output / "training.json").read_text())
    typer.echo(
        f"trained {algo} for {timing['timesteps']} steps in {timing['seconds']:.1f} s "
        f"({timing['env_share']:.0%} in the environment); saved to {output}; evaluate with --agent sb3:{output}"
    )
