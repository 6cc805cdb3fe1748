"""The `zeus-gym` typer app: every command registered here, and only here.

Each command is a plain function in its own module of this package (run, benchmark, plot, train,
cluster, traces); none of them imports this one. Errors go through `zeus_gym.cli.errors`.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

import zeus_gym
from zeus_gym.cli import benchmark, cluster, plot, run, traces, train
from zeus_gym.cli.errors import OneLineErrors

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="zeus-gym",
    help="Gymnasium environments for GPU energy optimization of recurring DNN training jobs, driven by the Zeus (NSDI'23) traces.",
    cls=OneLineErrors,
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
traces_app = typer.Typer(
    help="Which Zeus traces are in use, fresh upstream copies, and job group files for zeus-gym cluster.",
    context_settings=CONTEXT,
    no_args_is_help=True,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"zeus-gym {zeus_gym.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """Gymnasium environments for GPU energy optimization of recurring DNN training jobs, driven by the Zeus (NSDI'23) traces."""


app.command("run")(run.run)
app.command("benchmark")(benchmark.benchmark)
app.command("plot")(plot.plot)
app.command("train")(train.train)
app.command("cluster")(cluster.cluster)
app.add_typer(traces_app, name="traces")
traces_app.command("info")(traces.info)
traces_app.command("fetch")(traces.fetch)
traces_app.command("synth-groups")(traces.synth_groups)
traces_app.command("fetch-groups")(traces.fetch_groups)


def main() -> None:
    """The `zeus-gym` script."""
    app()
