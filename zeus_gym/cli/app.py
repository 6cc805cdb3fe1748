"""The `zeus-gym` command line.

Top-level commands (run, benchmark, ...) belong in their own modules: write the command function
there, wrapped in `friendly_errors`, and register it at the bottom of this file with
`app.command()(function)` or `app.add_typer(sub_app, name=...)`.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Callable, Optional, TypeVar

import typer

from zeus_gym.traces import TracesNotFoundError, TraceValidationError, fetch_traces
from zeus_gym.traces.load import load_trace_set
from zeus_gym.traces.locate import locate_traces
from zeus_gym.traces.report import describe, file_lines

# Errors that mean the user has something to fix: one line on stderr, exit code 1, no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (TracesNotFoundError, TraceValidationError)

F = TypeVar("F", bound=Callable[..., None])

app = typer.Typer(
    name="zeus-gym",
    help="Gymnasium environments for GPU energy optimization, driven by the Zeus traces.",
    no_args_is_help=True,
    add_completion=False,
)
traces_app = typer.Typer(
    help="Locate, download and inspect the Zeus NSDI'23 traces.", no_args_is_help=True
)
app.add_typer(traces_app, name="traces")


def friendly_errors(command: F) -> F:
    """Turn USER_ERRORS raised by a command into one clean stderr line and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except USER_ERRORS as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@traces_app.command("fetch")
@friendly_errors
def traces_fetch(
    dest: Annotated[
        Optional[Path], typer.Option(help="Folder to download into (default: the user cache).")
    ] = None,
    base_url: Annotated[
        Optional[str],
        typer.Option(help="Mirror base URL (default: $ZEUS_GYM_TRACE_URL, else upstream)."),
    ] = None,
) -> None:
    """Download the pinned upstream traces and verify each file's SHA-256."""
    # Progress bars only for a person watching; piped or captured output stays plain.
    folder = fetch_traces(dest, base_url=base_url, progress=sys.stderr.isatty())
    typer.echo(f"traces in {folder}")
    typer.echo("\n".join(file_lines(folder)))


@traces_app.command("info")
@friendly_errors
def traces_info(
    trace_dir: Annotated[
        Optional[Path],
        typer.Option(help="Trace folder (default: $ZEUS_GYM_TRACE_DIR, else the user cache)."),
    ] = None,
    download: Annotated[
        bool, typer.Option(help="Download into the user cache when no traces are found.")
    ] = True,
) -> None:
    """Show where the traces are, their files and hashes, GPUs and workloads."""
    located = locate_traces(trace_dir, download=download)
    typer.echo("\n".join(describe(located, load_trace_set(located.path))))


from zeus_gym.cli_run import run as _run; app.command("run")(_run)  # noqa: E402, E702 (last: cli_run imports friendly_errors)
from zeus_gym.benchmark.command import benchmark as _benchmark, plot as _plot; app.command("benchmark")(_benchmark); app.command("plot")(_plot)  # noqa: E402, E702
from zeus_gym.cli_train import train as _train  # noqa: E402

app.command("train")(_train)
from zeus_gym.cluster.command import cluster as _cluster, fetch_groups as _fetch_groups, synth_groups as _synth_groups  # noqa: E402

app.command("cluster")(_cluster)
traces_app.command("synth-groups")(_synth_groups)
traces_app.command("fetch-groups")(_fetch_groups)
