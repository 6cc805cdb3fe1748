"""`zeus-gym benchmark`: agents x workloads x GPUs x seeds into a resumable folder, a table and figures.

`parse_grid` / `Grid` describe the cases, `run_benchmark` plays them in worker processes into
`results.csv` (see `zeus_gym.benchmark.results` for the crash-safe format), `summary` makes the
paper-style table, `plots` the figures and `figures` draws a folder's set of them; `zeus_gym.cli.benchmark` and `zeus_gym.cli.plot` hold the CLI commands.
"""

from zeus_gym.benchmark.grid import DEFAULT_AGENTS, Case, Grid, parse_grid
from zeus_gym.benchmark.results import COLUMNS, read_results
from zeus_gym.benchmark.run import run_benchmark
from zeus_gym.benchmark.summary import Cell, summarize

__all__ = ["COLUMNS", "DEFAULT_AGENTS", "Case", "Cell", "Grid", "parse_grid", "read_results", "run_benchmark", "summarize"]
