"""`zeus-gym run`: play one agent on one recurring job and summarize it (the artifact's run_single.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import gymnasium as gym
import typer

from zeus_gym.agents import AGENTS, agent_env_kwargs, load_agent
from zeus_gym.cli import friendly_errors
from zeus_gym.runner import format_summary, run_episode
from zeus_gym.workloads import WORKLOADS, JobSpec, resolve_workload

CUSTOM_FIELDS = ("dataset", "model", "optimizer", "target_metric", "max_epochs")


def job_spec(workload: str | None, custom: dict[str, object], b0: int | None) -> JobSpec:
    """The job of the command line: a named workload (b0 optionally replaced) or a custom job."""
    given = [name for name, value in custom.items() if value is not None]
    if not given:
        spec = resolve_workload(workload or "librispeech")
        return spec if b0 is None else dataclasses.replace(spec, b0=b0, cap_b0=False)
    if workload is not None:
        raise ValueError(f"give either --workload or a custom job (--{given[0].replace('_', '-')} ...), not both")
    missing = [f"--{name.replace('_', '-')}" for name, value in {**custom, "b0": b0}.items() if value is None]
    if missing:
        raise ValueError(f"a custom job needs {', '.join(missing)} too")
    return JobSpec(
        dataset=custom["dataset"], network=custom["model"], optimizer=custom["optimizer"],  # type: ignore[arg-type]
        target_metric=custom["target_metric"], max_epochs=custom["max_epochs"], b0=b0,  # type: ignore[arg-type]
    )


@friendly_errors
def run(
    workload: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(WORKLOADS)} (default librispeech).")] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Custom job: dataset in the traces.")] = None,
    model: Annotated[Optional[str], typer.Option(help="Custom job: network.")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="Custom job: optimizer.")] = None,
    target_metric: Annotated[Optional[float], typer.Option(help="Custom job: target metric.")] = None,
    max_epochs: Annotated[Optional[int], typer.Option(help="Custom job: max epochs per run.")] = None,
    b0: Annotated[Optional[int], typer.Option(help="Default batch size (custom job, or replaces the workload's).")] = None,
    gpu: Annotated[str, typer.Option(help="GPU of the power trace.")] = "v100",
    eta: Annotated[float, typer.Option(help="Energy weight of the cost, in [0, 1].")] = 0.5,
    beta: Annotated[float, typer.Option(help="Early-stop threshold factor; inf disables early stopping.")] = 2.0,
    seed: Annotated[int, typer.Option(help="Seed of the env and the agent.")] = 1,
    recurrences: Annotated[Optional[int], typer.Option(help="Recurrences (default 2|B||P|).")] = None,
    max_retries: Annotated[int, typer.Option(help="Failed attempts before b0 finishes a recurrence.")] = 20,
    agent: Annotated[str, typer.Option(help=f"{', '.join(AGENTS)}, sb3:DIR (a trained policy), package.module:Class or path/file.py:Class.")] = "zeus",
    trace_dir: Annotated[Optional[Path], typer.Option(help="Trace folder (default: $ZEUS_GYM_TRACE_DIR, else the user cache).")] = None,
    history: Annotated[Optional[Path], typer.Option(help="Write the runs as JSON Lines to this file.")] = None,
) -> None:
    """Play an agent on a recurring job for one episode and print its energy, time and cost."""
    custom = dict(dataset=dataset, model=model, optimizer=optimizer, target_metric=target_metric, max_epochs=max_epochs)
    try:
        spec = job_spec(workload, custom, b0)
        env = gym.make(
            "ZeusGym/RecurringJob-v1", workload=spec, gpu=gpu, eta_knob=eta, beta_knob=beta,
            num_recurrences=recurrences, max_retries=max_retries, trace_dir=trace_dir, **agent_env_kwargs(agent),
        )
        player = load_agent(agent, env)
    except ValueError as error:  # bad options: one line, no traceback
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    episode = run_episode(env, player, seed=seed)
    typer.echo(format_summary(episode.summary))
    if history is not None:
        typer.echo(f"{'history':<12} {history} ({episode.write_history(history)} runs)")
