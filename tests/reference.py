"""Helpers that drive the reference simulator (zeus==0.16.0) for parity tests."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

zeus_simulate = pytest.importorskip("zeus._legacy.simulate", reason="zeus==0.16.0 is a test dependency")
from zeus._legacy.job import Job  # noqa: E402


def reference_frames(trace_dir: Path, gpu: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and power traces as the reference reads them (pandas' default parser)."""
    return pd.read_csv(trace_dir / "summary_train.csv"), pd.read_csv(trace_dir / f"summary_power_{gpu}.csv")


def reference_job(spec, b0: int) -> Job:
    """The reference's Job for a zeus-gym JobSpec (with b0 already capped)."""
    return Job(spec.dataset, spec.network, spec.optimizer, spec.target_metric, spec.max_epochs, b0)


class ScriptedBSO:
    """Plays a fixed list of (batch size, power limit or None=profile) choices through the reference."""

    name = "scripted"

    def __init__(self, choices: list[tuple[int, int | None]]) -> None:
        self.choices = choices
        self.plo = ScriptedPLO()
        self.turn = 0

    def register_job(self, job: Job, batch_sizes: list[int]) -> None:
        self.batch_sizes = batch_sizes

    def predict(self, job: Job) -> int:
        bs, pl = self.choices[self.turn]
        self.turn += 1
        self.plo.next(pl)
        return bs

    def observe(self, job: Job, batch_size: int, cost: float, converged: bool | None = None) -> None:
        pass


class ScriptedPLO:
    """Returns the scripted limit, or asks for a profile and then picks its cheapest limit."""

    name = "scripted"

    def next(self, pl: int | None) -> None:
        self.pl, self.profile = pl, {}

    def predict(self, job: Job, batch_size: int) -> int | None:
        if self.pl is not None:
            return self.pl
        if not self.profile:
            return None
        # Profiles arrive from high to low limits; the first strictly cheaper one wins.
        best = None
        for pl, cost in self.profile.items():
            if best is None or self.profile[best] > cost:
                best = pl
        return best

    def observe(self, job: Job, batch_size: int, power_limit: int, cost: float) -> None:
        self.profile[power_limit] = cost


def run_scripted(trace_dir: Path, gpu: str, spec, b0: int, choices, *, recurrences: int, eta: float, beta: float, seed: int):
    """Run the reference on scripted choices; returns its `_run_job` results (one per attempt,
    including runs that could not start) and whether it stopped with its 20-tries error."""
    train, power = reference_frames(trace_dir, gpu)
    bso = ScriptedBSO(choices)
    simulator = zeus_simulate.Simulator(train, power, bso, bso.plo, seed=seed, verbose=False)
    runs: list[tuple[int, int, float, float, bool]] = []
    real_run_job = simulator._run_job

    def recording_run_job(**kwargs):
        energy, time, reached = real_run_job(**kwargs)
        runs.append((kwargs["batch_size"], kwargs["power_limit"], energy, time, reached))
        return energy, time, reached

    simulator._run_job = recording_run_job
    # Deep copies inside simulate_one_job would detach the scripted PLO from its BSO.
    simulator.bso = bso
    simulator.plo = bso.plo
    gave_up = False
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            simulate_without_copies(simulator, reference_job(spec, b0), recurrences, beta, eta)
        except RuntimeError as error:
            if "20 tries" not in str(error) and "did not converge" not in str(error):
                raise
            gave_up = True
    return runs, gave_up


def simulate_without_copies(simulator, job, recurrences: int, beta: float, eta: float):
    """`simulate_one_job` with its deepcopy of the optimizers disabled (ours are scripted)."""
    original = zeus_simulate.deepcopy
    zeus_simulate.deepcopy = lambda obj: obj
    try:
        return simulator.simulate_one_job(job, recurrences, beta, eta)
    finally:
        zeus_simulate.deepcopy = original


def random_choices(job_arrays, rng: np.random.Generator, count: int) -> list[tuple[int, int | None]]:
    """b0 at its top limit first (the reference insists the first recurrence converges), then
    uniformly random playable configurations, a quarter of them profiled."""
    b0 = job_arrays.b0
    choices: list[tuple[int, int | None]] = [(b0, int(job_arrays.batch_max_limit[job_arrays.b0_index]))]
    measured = np.argwhere(job_arrays.feasible)
    for _ in range(count - 1):
        b, p = measured[rng.integers(len(measured))]
        profile = rng.random() < 0.25
        choices.append((int(job_arrays.batch_sizes[b]), None if profile else int(job_arrays.power_limits[p])))
    return choices
