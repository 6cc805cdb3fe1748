"""`zeus-gym run`: play one agent on one recurring job and summarize it (the artifact's run_single.py)."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Optional

import gymnasium as gym
import typer

from zeus_gym.agents import AGENTS, agent_env_kwargs, load_agent
from zeus_gym.cli.errors import output_file, user_errors
from zeus_gym.cli.options import Beta, Eta, Gpu, HistoryFile, MaxRetries, Recurrences, Seed, TraceDir
from zeus_gym.runner import format_summary, run_episode
from zeus_gym.workloads import WORKLOADS, JobSpec, resolve_workload


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def job_spec(workload: str | None, custom: dict[str, object], b0: int | None) -> JobSpec:
    """The job of the command line: a named workload (b0 optionally replaced) or a custom job."""
    given = [name for name, value in custom.items() if value is not None]
    if not given:
        spec = resolve_workload(workload or "librispeech")
        return spec if b0 is None else dataclasses.replace(spec, b0=b0, cap_b0=False)
    if workload is not None:
        raise ValueError(f"give either --workload or a custom job ({_option(given[0])} ...), not both")
    missing = [_option(name) for name, value in {**custom, "b0": b0}.items() if value is None]
    if missing:
        raise ValueError(f"a custom job needs {', '.join(missing)} too")
    return JobSpec(b0=b0, **custom)  # type: ignore[arg-type]


@user_errors()
def run(
    workload: Annotated[Optional[str], typer.Option(help=f"One of {', '.join(WORKLOADS)} (default: librispeech).", show_default=False)] = None,
    dataset: Annotated[Optional[str], typer.Option(help="Custom job: dataset in the traces.", show_default=False)] = None,
    network: Annotated[Optional[str], typer.Option(help="Custom job: network (model) in the traces.", show_default=False)] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="Custom job: optimizer in the traces.", show_default=False)] = None,
    target_metric: Annotated[Optional[float], typer.Option(help="Custom job: target validation metric.", show_default=False)] = None,
    max_epochs: Annotated[Optional[int], typer.Option(min=1, help="Custom job: most epochs per run (>= 1).", show_default=False)] = None,
    b0: Annotated[Optional[int], typer.Option(min=1, help="Default batch size (custom job, or replaces the workload's).", show_default=False)] = None,
    gpu: Gpu = "v100",
    eta: Eta = 0.5,
    beta: Beta = 2.0,
    seed: Seed = 1,
    recurrences: Recurrences = None,
    max_retries: MaxRetries = 20,
    agent: Annotated[str, typer.Option(help=f"{', '.join(AGENTS)}, sb3:DIR (a trained policy), package.module:Class or path/file.py:Class.")] = "zeus",
    trace_dir: TraceDir = None,
    history: HistoryFile = None,
) -> None:
    """Play an agent on a recurring job for one episode and print its energy, time and cost."""
    if history is not None:  # before the episode: a finished episode is never lost to a bad path
        output_file(history, "--history")
    custom = dict(dataset=dataset, network=network, optimizer=optimizer, target_metric=target_metric, max_epochs=max_epochs)
    spec = job_spec(workload, custom, b0)
    env = gym.make(
        "ZeusGym/RecurringJob-v2", workload=spec, gpu=gpu, eta_knob=eta, beta_knob=beta,
        num_recurrences=recurrences, max_retries=max_retries, trace_dir=trace_dir, **agent_env_kwargs(agent),
    )
    player = load_agent(agent, env)
    episode = run_episode(env, player, seed=seed)
    typer.echo(format_summary(episode.summary))
    if history is not None:
        typer.echo(f"{'history':<12} {history} ({episode.write_history(history)} runs)")
