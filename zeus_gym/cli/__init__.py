"""The `zeus-gym` command line (typer): `app` holds the commands, `main` is the installed script.

One module per command (run, benchmark, plot, train, cluster, traces), one error path (errors),
the options they share (options) and their progress bars (progress); only `app` registers them.
"""

from zeus_gym.cli.app import app, main

__all__ = ["app", "main"]
