"""`zeus-gym train`: train an SB3 / sb3-contrib policy on RecurringJob-v2 (needs the `rl` extra)."""

from __future__ import annotations

import inspect
import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from zeus_gym.cli.errors import output_folder, user_errors
from zeus_gym.cli.options import Beta, Eta, MaxRetries, Recurrences, Seed, TraceDir, one_of

ALGORITHMS = ("ppo", "a2c", "dqn", "maskable-ppo")
MODEL_FILE = "model.zip"


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _training_module() -> Any:
    """zeus_gym.training, or a one-line error naming the extra to install."""
    try:
        import zeus_gym.training as training
    except ImportError as error:
        raise ValueError(f'zeus-gym train needs the rl extra ({error.name or "stable-baselines3"} is missing): '
                         'pip install "zeus-gym[rl]"') from None
    return training


def parse_hyperparameters(text: str, algorithm: type) -> dict[str, Any]:
    """The --hyperparameters JSON object, its keys checked against the algorithm's arguments."""
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--hyperparameters: not valid JSON ({error.msg} at character {error.pos}): {text!r}") from None
    if not isinstance(values, dict):
        raise ValueError(f'--hyperparameters must be a JSON object such as {{"learning_rate": 1e-4}}, got {text!r}')
    accepted = set(inspect.signature(algorithm.__init__).parameters) - {"self", "policy", "env", "seed", "device", "verbose",
                                                                         "tensorboard_log", "_init_setup_model"}
    unknown = sorted(set(values) - accepted)
    if unknown:
        raise ValueError(f"--hyperparameters: {', '.join(map(repr, unknown))} is not an argument of {algorithm.__name__}; "
                         f"it takes {', '.join(sorted(accepted))}")
    return values


@user_errors()
def train(
    algo: Annotated[str, typer.Option(callback=lambda value: one_of(value, ALGORITHMS), help="Algorithm: ppo, a2c, dqn or maskable-ppo (Stable-Baselines3 / sb3-contrib).")] = "maskable-ppo",
    timesteps: Annotated[int, typer.Option(min=1, help="Environment steps (runs) to train for, >= 1.")] = 100_000,
    workloads: Annotated[str, typer.Option(help="Comma-separated workloads, or all.")] = "all",
    gpus: Annotated[str, typer.Option(help="Comma-separated GPUs, or all.")] = "all",
    seed: Seed = 0,
    output: Annotated[Path, typer.Option(help="New folder for model.zip, config.json, training.json and TensorBoard logs.")] = Path("runs/policy"),
    n_envs: Annotated[int, typer.Option(min=1, help="Environments stepped together (>= 1).")] = 8,
    eta: Eta = 0.5,
    beta: Beta = 2.0,
    recurrences: Recurrences = None,
    max_retries: MaxRetries = 20,
    hyperparameters: Annotated[str, typer.Option(help='JSON object of algorithm arguments, e.g. {"learning_rate": 1e-4}; '
                                                      'unset ones keep zeus-gym\'s per-algorithm defaults.')] = "{}",
    warm_start: Annotated[str | None, typer.Option(help="Before training, imitate this agent (any --agent of zeus-gym run, e.g. frugal); "
                                                       "maskable-ppo only.")] = None,
    warm_start_steps: Annotated[int, typer.Option(min=1, help="Steps of the teacher's own play to clone, and of each DAgger round.")] = 20_000,
    warm_start_epochs: Annotated[int, typer.Option(min=1, help="Epochs of the cloning fit, and of each DAgger refit.")] = 10,
    dagger_rounds: Annotated[int, typer.Option(min=0, help="DAgger rounds after cloning: the clone plays, the teacher labels its states (>= 0).")] = 2,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    trace_dir: TraceDir = None,
) -> None:
    """Train a policy with the native vector env (MaskablePPO) or penalised single envs (others)."""
    output_folder(output)
    if (output / MODEL_FILE).exists():
        raise ValueError(f"--output {output} already holds a trained model ({MODEL_FILE}); choose another --output "
                         "(or delete that folder to train it again)")
    training = _training_module()
    config = training.TrainConfig(
        algo=algo, timesteps=timesteps, workloads=_names(workloads), gpus=_names(gpus), seed=seed, n_envs=n_envs,
        eta=eta, beta=beta, max_retries=max_retries, num_recurrences=recurrences,
        trace_dir=None if trace_dir is None else str(trace_dir),
        hyperparameters=parse_hyperparameters(hyperparameters, training.ALGORITHMS[algo]),
        warm_start=warm_start, warm_start_steps=warm_start_steps, warm_start_epochs=warm_start_epochs, warm_start_rounds=dagger_rounds,
    )
    created = not output.exists()
    try:
        training.train(config, output, progress_bar=progress)
    except BaseException:
        if created:  # a failed start leaves nothing behind
            shutil.rmtree(output, ignore_errors=True)
        raise
    timing = json.loads((output / "training.json").read_text())
    typer.echo(
        f"trained {algo} for {timing['timesteps']} steps in {timing['seconds']:.1f} s "
        f"({timing['env_share']:.0%} in the environment); saved to {output}; evaluate with --agent sb3:{output}"
    )
