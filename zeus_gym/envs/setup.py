"""From environment arguments to simulation `Params`, shared by the single and the vector env."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from zeus_gym.core import JobArrays, Params, build_job, make_params
from zeus_gym.core.params import check_knobs, check_slots
from zeus_gym.traces import load_trace_set
from zeus_gym.workloads import WORKLOADS, JobSpec, resolve_workload

Workloads = str | JobSpec | dict | list | tuple
Gpus = str | list | tuple


def _as_list(value: object, everything: list, name: str) -> list:
    if isinstance(value, str) and value == "all":
        return list(everything)
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ValueError(f"{name} must name at least one {name}, or be 'all'")
    return items


def load_params(
    workload: Workloads,
    gpu: Gpus,
    *,
    eta_knob: float,
    beta_knob: float,
    num_recurrences: int | None,
    max_retries: int,
    trace_dir: str | os.PathLike | None,
    slots: tuple[int, int] | None = None,
) -> Params:
    """Load the traces (parsed once per process) and build `Params` of every (workload, gpu) pair.

    `workload` and `gpu` may each be one value, a list, or "all" (the six default workloads; every
    GPU of the traces)."""
    eta_knob, beta_knob, max_retries = check_knobs(eta_knob, beta_knob, max_retries)  # numpy scalars as Python numbers
    slots = check_slots(slots)
    specs = [resolve_workload(w) for w in _as_list(workload, list(WORKLOADS), "workload")]
    traces = load_trace_set(trace_dir)
    gpus = _as_list(gpu, list(traces.gpus), "gpu")
    for name in gpus:
        if name not in traces.power:
            raise ValueError(f"unknown gpu {name!r}: the traces in {traces.root} have {', '.join(traces.gpus)}")
    jobs = [build_job(traces.train, traces.power[g], spec, g, eta_knob) for spec in specs for g in gpus]
    return make_params(jobs, eta=eta_knob, beta=beta_knob, max_retries=max_retries, num_recurrences=num_recurrences, slots=slots)


def job_index(params: Params, job: int | tuple) -> int:
    """Index of `job` (an index, or a (workload, gpu) pair) among the env's jobs."""
    if isinstance(job, tuple) and len(job) == 2:
        spec, gpu = resolve_workload(job[0]), job[1]
        for i, arrays in enumerate(params.jobs):
            if (arrays.spec, arrays.gpu) == (spec, gpu):
                return i
    elif isinstance(job, (int, np.integer)) and not isinstance(job, bool) and 0 <= job < len(params.jobs):
        return int(job)
    known = [(arrays.spec.dataset, arrays.gpu) for arrays in params.jobs]
    raise ValueError(f"options['job'] must be an index below {len(params.jobs)} or a (workload, gpu) pair of {known}, got {job!r}")


def check_options(options: dict | None, known: tuple[str, ...]) -> None:
    """Refuse reset options the env does not know (a misspelt key would be ignored silently)."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise ValueError(f"options must be a dict or None, got {options!r}")
    unknown = [key for key in options if key not in known]
    if unknown:
        raise ValueError(f"unknown reset option(s) {', '.join(map(repr, unknown))}: the known options are {', '.join(map(repr, known))}")


def pick_jobs(params: Params, draw: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, options: dict | None) -> np.ndarray:
    """The job of each env in `rows` (a mask) at reset: `options["job"]`, else drawn uniformly
    (a single-job env draws nothing, so its random stream is the reference simulator's)."""
    if options and "job" in options:
        return np.full(len(rows), job_index(params, options["job"]), dtype=np.int64)
    return draw(np.where(rows, len(params.jobs), 1))


def job_info(params: Params, index: int = 0) -> dict[str, Any]:
    """What an agent may know about job `index` before it acts (also the env's reset info)."""
    job: JobArrays = params.jobs[index]
    return {
        "workload": job.spec,
        "gpu": job.gpu,
        "batch_sizes": job.batch_sizes.tolist(),
        "power_limits": job.power_limits.tolist(),
        "playable": params.playable[index].copy(),
        "profile_action": params.max_power_limits,
        "b0": job.b0,
        "b0_index": job.b0_index,
        "max_epochs": job.max_epochs,
        "max_power": job.max_power,
        "eta": params.eta,
        "beta": params.beta,
        "max_retries": params.max_retries,
        "num_recurrences": int(params.num_recurrences[index]),
        "default_cost": job.default_cost,
        "synthetic": job.synthetic,
    }


def describe_invalid(params: Params, job: int, action: np.ndarray) -> str:
    """Why `action` is not playable for job `job`, with the values that are."""
    arrays = params.jobs[job]
    num_b, num_p = len(arrays.batch_sizes), params.max_power_limits
    b, p = int(action[0]), int(action[1])
    if not (0 <= b < num_b and (0 <= p < len(arrays.power_limits) or p == num_p)):
        return (
            f"action {[b, p]} is out of range: batch size index must be in [0, {num_b - 1}] "
            f"(batch sizes {arrays.batch_sizes.tolist()}), power index in [0, {num_p}] "
            f"(limits {arrays.power_limits.tolist()} W, {num_p} = profile just in time)"
        )
    limits = arrays.power_limits[arrays.feasible[b]].tolist()
    return (
        f"action {[b, p]}: the traces have no measurement of batch size {arrays.batch_sizes[b]} at "
        f"{arrays.power_limits[p]} W on {arrays.gpu}; its measured limits are {limits} W "
        f"(or use power index {num_p} to profile just in time)"
    )


class JobSource:
    """Where an env's jobs come from, for `rows` environments: the fixed jobs of the traces
    (`params.jobs`, one drawn per reset), or a procedural generator (`workload="procedural"` or
    a `ProceduralJobs`): then each reset of environment i draws a new job into row i of `params`.

    A procedural job is drawn from a seed taken from the environment's own random stream with the
    same `draw` the simulation uses, so a vector env's sub-environment i draws the jobs of a
    single env seeded alike."""

    JOB_SEED_BOUND = 2**31 - 1

    def __init__(self, workload: Workloads, gpu: Gpus, rows: int, *, eta_knob: float, beta_knob: float,
                 num_recurrences: int | None, max_retries: int, trace_dir: str | os.PathLike | None,
                 slots: tuple[int, int] | None) -> None:
        self.generator = procedural_jobs(workload, gpu, trace_dir)
        if self.generator is None:
            self.params = load_params(workload, gpu, eta_knob=eta_knob, beta_knob=beta_knob, num_recurrences=num_recurrences,
                                      max_retries=max_retries, trace_dir=trace_dir, slots=slots)
            self.bounds: tuple[float, float] | None = None
            return
        check_knobs(eta_knob, beta_knob, max_retries)
        self.bounds = self.generator.bounds(eta_knob)
        self.knobs = dict(eta=eta_knob, beta=beta_knob, max_retries=max_retries, num_recurrences=num_recurrences,
                          slots=tuple(slots) if slots is not None else self.generator.largest_slots())
        # Placeholders until the first reset draws each environment's job.
        self.current = [self.generator.sample(np.random.default_rng(0), eta_knob)] * rows
        self.params = make_params(self.current, **self.knobs)

    def pick(self, draw: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, options: dict | None) -> np.ndarray:
        """The job index of every environment after resetting those in `rows` (a mask); with a
        generator, `params` then holds their new jobs (row i for environment i)."""
        if self.generator is None:
            return pick_jobs(self.params, draw, rows, options)
        if options and "job" in options:
            raise ValueError("options['job'] does not apply to procedural jobs: every reset draws a new one")
        seeds = draw(np.where(rows, self.JOB_SEED_BOUND, 1))
        for i in np.flatnonzero(rows).tolist():
            self.current[i] = self.generator.sample(np.random.default_rng(int(seeds[i])), self.knobs["eta"])
        self.params = make_params(self.current, **self.knobs)
        return np.arange(len(rows), dtype=np.int64)


def procedural_jobs(workload: Workloads, gpu: Gpus, trace_dir: str | os.PathLike | None) -> Any:
    """The `ProceduralJobs` an env's `workload` asks for (its sources on `gpu`), or None."""
    from zeus_gym.procedural import ProceduralJobs, is_procedural

    if not is_procedural(workload):
        return None
    if isinstance(workload, ProceduralJobs):
        return workload
    gpus = None if isinstance(gpu, str) and gpu == "all" else _as_list(gpu, [], "gpu")
    return ProceduralJobs(gpus=gpus, trace_dir=trace_dir)
