"""Options several commands share, spelled and documented once (names, ranges, units, defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from zeus_gym.backends import RAY_EXTRA
from zeus_gym.benchmark.plots import FORMATS
from zeus_gym.traces import TracesNotFoundError
from zeus_gym.traces.locate import check_trace_folder



def one_of(value: str, allowed: tuple[str, ...]) -> str:
    """A choice among `allowed` (click's own Choice would list them in a box, not one line)."""
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}")
    return value


def positive(value: float, option: str) -> float:
    """A number > 0 (inf allowed)."""
    if not value > 0:
        raise typer.BadParameter(f"{value:g} is not > 0")
    return value


TRACE_DIR_HELP = "Folder of trace CSVs (default: $ZEUS_GYM_TRACE_DIR, else the Zeus traces shipped with zeus-gym)."



def trace_folder(value: Optional[Path]) -> Optional[Path]:
    """A --trace-dir that exists and holds trace files (checked before any work)."""
    if value is not None:
        try:
            check_trace_folder(value, "--trace-dir")
        except TracesNotFoundError as error:
            raise typer.BadParameter(str(error)) from None
    return value


TraceDir = Annotated[Optional[Path], typer.Option("--trace-dir", help=TRACE_DIR_HELP, show_default=False, callback=trace_folder)]
Gpu = Annotated[str, typer.Option("--gpu", help="GPU of the power trace (a40, p100, rtx6000, v100 or one of --trace-dir).")]
Eta = Annotated[float, typer.Option("--eta", min=0.0, max=1.0, help="Energy weight of the cost eta*energy + (1-eta)*MAXPOWER*time, in [0, 1].")]
Beta = Annotated[float, typer.Option("--beta", callback=lambda value: positive(value, "--beta"), help="Early-stop threshold, a multiple of the cheapest cost so far (> 0); inf disables early stopping.")]
Seed = Annotated[int, typer.Option("--seed", min=0, help="Seed (>= 0).")]
Recurrences = Annotated[Optional[int], typer.Option("--recurrences", min=1, show_default=False,
                                                    help="Recurrences per episode, >= 1 (default: 2*|B|*|P| of the job).")]
MaxRetries = Annotated[int, typer.Option("--max-retries", min=1, help="Failed attempts before b0 finishes a recurrence (>= 1).")]
Workers = Annotated[Optional[int], typer.Option("--workers", min=1, show_default=False, help="Worker processes, >= 1 (default: one per core).")]
Format = Annotated[str, typer.Option("--format", callback=lambda value: one_of(value, FORMATS), help="File format of the figures.")]
HistoryFile = Annotated[Optional[Path], typer.Option("--history", show_default=False, dir_okay=False,
                                                     help="Write each run as a line of JSON Lines to this FILE (its folder must exist).")]


_RAY_EXTRA = RAY_EXTRA.replace("[", "\\[")  # Rich would read "[ray]" in a help text as markup
Backend = Annotated[str, typer.Option(help=f"Where the episodes run: local (worker processes) or ray (Ray tasks; {_RAY_EXTRA}).")]
RayAddress = Annotated[Optional[str], typer.Option(
    help="With --backend ray, the Ray cluster to join: auto (the one started on this machine by `ray start`), host:port or "
         "ray://host:port; default: $RAY_ADDRESS if set, else start a local Ray instance for the run.")]
