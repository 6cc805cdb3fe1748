"""`zeus-gym cluster`: every group of a cluster trace, in parallel into a resumable folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from zeus_gym.backends import check_backend
from zeus_gym.cli.errors import output_folder, user_errors
from zeus_gym.cli.options import Backend, Beta, Eta, Gpu, RayAddress, TraceDir
from zeus_gym.cli.progress import elapsed_since, progress_bar, terminate_as_interrupt


@user_errors()
def cluster(
    groups: Annotated[str, typer.Option(help="A group file (.csv, .csv.xz), 'synthetic' (SYNTHETIC groups, see --synthetic-groups) "
                                             "or 'alibaba' (upstream's alibaba_groups.csv.xz, verified by its git blob id).")] = "synthetic",
    synthetic_groups: Annotated[int, typer.Option(min=1, help="Number of synthetic groups, >= 1 (with --groups synthetic).")] = 1000,
    synthetic_seed: Annotated[int, typer.Option(min=0, help="Seed (>= 0) of the synthetic groups (with --groups synthetic).")] = 0,
    gpu: Gpu = "v100",
    eta: Eta = 0.5,
    beta: Beta = 2.0,
    agent: Annotated[str, typer.Option(help="zeus (ZeusAgent(concurrency=True), the artifact's), default, oracle, random, "
                                            "package.module:Class or path/file.py:Class.")] = "zeus",
    max_retries: Annotated[Optional[int], typer.Option(min=0, show_default=False, help="Give a submission up after this many retries, >= 0 "
                                                             "(default: retry until the target is reached, as the reference).")] = None,
    output: Annotated[Path, typer.Option(help="Output folder (created if missing); re-running the same command there resumes.")] = Path("cluster-results"),
    workers: Annotated[Optional[int], typer.Option(min=1, show_default=False, help="Worker processes, >= 1 (default: one per core, at most one per "
                                                         "1,000 groups to play: starting one costs about as much as playing them).")] = None,
    history: Annotated[Optional[Path], typer.Option("--histories", file_okay=False, show_default=False,
                                                    help="Write each group's runs as JSON Lines to the FOLDER's <group>.jsonl (one file per group).")] = None,
    trace_dir: TraceDir = None,
    backend: Backend = "local",
    ray_address: RayAddress = None,
) -> None:
    """Play an agent and Default on every recurring job group of a cluster trace (the Zeus
    artifact's run_alibaba.py), in parallel into a resumable folder; print a per-dataset summary."""
    start = time.perf_counter()
    # Imported here: the cluster modules need pandas, which every other command would pay for at start-up.
    from zeus_gym.cluster.run import RESULTS_FILE, SUMMARY_FILE, Settings, read_rows, run_cluster
    from zeus_gym.cluster.summary import summary_frame, summary_markdown

    settings = Settings(
        groups=groups, synthetic_groups=synthetic_groups, synthetic_seed=synthetic_seed, gpu=gpu, eta=eta, beta=beta,
        agent=agent, max_retries=max_retries, trace_dir=None if trace_dir is None else str(trace_dir),
        history=None if history is None else str(history),
    )
    with user_errors():
        check_backend(backend, ray_address, workers)
        output_folder(output)
        if history is not None:
            output_folder(history, "--histories")
        try:
            with terminate_as_interrupt(), progress_bar("groups", "groups") as update:
                table, rows, ran, workers = run_cluster(settings, output, workers=workers, on_rows=update,
                                                        backend=backend, ray_address=ray_address)
        except KeyboardInterrupt:
            done = len(read_rows(output / RESULTS_FILE))
            typer.echo(f"interrupted: {done} groups are in {output / RESULTS_FILE}; run the same command again to resume", err=True)
            raise typer.Exit(130) from None
        text = summary_markdown(summary_frame(rows), settings)
        (output / SUMMARY_FILE).write_text(text, encoding="utf-8")
        typer.echo(text)
        where = f"with {workers} worker{'s' * (workers != 1)}" if backend == "local" else f"on Ray ({ray_address or 'a local instance'})"
        typer.echo(f"{ran} groups played in {elapsed_since(start)} {where}, {len(rows) - ran} resumed; "
                   f"results in {output / RESULTS_FILE}, summary in {output / SUMMARY_FILE}"
                   + (f", histories in {history}" if history is not None else ""))
