"""The command-line options that choose a backend (shared by `zeus-gym benchmark` and `zeus-gym cluster`)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from zeus_gym.backends import RAY_EXTRA

_EXTRA = RAY_EXTRA.replace("[", "\\[")  # Rich would read "[ray]" in a help text as markup

Backend = Annotated[str, typer.Option(help=f"Where the episodes run: local (worker processes) or ray (Ray tasks; {_EXTRA}).")]
RayAddress = Annotated[Optional[str], typer.Option(
    help="With --backend ray, the Ray cluster to join: auto (the one started on this machine by `ray start`), host:port or "
         "ray://host:port; default: $RAY_ADDRESS if set, else start a local Ray instance for the run.")]
