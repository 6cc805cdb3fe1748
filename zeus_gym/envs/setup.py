"""From environment arguments to simulation `Params`, shared by the single and the vector env."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from zeus_gym.core import JobArrays, Params, build_job, make_params
from zeus_gym.core.params import check_knobs
from zeus_gym.traces import load_trace_set
from zeus_gym.workloads import JobSpec, resolve_workload


def load_params(
    workload: str | JobSpec | dict,
    gpu: str,
    *,
    eta_knob: float,
    beta_knob: float,
    num_recurrences: int | None,
    max_retries: int,
    trace_dir: str | os.PathLike | None,
) -> Params:
    """Load the traces (parsed once per process) and build the job's `Params`."""
    check_knobs(eta_knob, beta_knob, max_retries)
    spec = resolve_workload(workload)
    traces = load_trace_set(trace_dir)
    if gpu not in traces.power:
        raise ValueError(f"unknown gpu {gpu!r}: the traces in {traces.root} have {', '.join(traces.gpus)}")
    job = build_job(traces.train, traces.power[gpu], spec, gpu, eta_knob)
    return make_params([job], eta=eta_knob, beta=beta_knob, max_retries=max_retries, num_recurrences=num_recurrences)


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
