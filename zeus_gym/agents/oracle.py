"""The Oracle: the configuration with the lowest expected cost, computed from the traces."""

from __future__ import annotations

from typing import Any

import numpy as np

from zeus_gym.agents.base import BaseAgent, JobInfo, make_action
from zeus_gym.core import JobArrays, Params


def expected_costs(job: JobArrays, eta: float) -> tuple[np.ndarray, np.ndarray]:
    """Per configuration (B, P): expected cost of one recurrence without early stopping, and
    whether every training path reaches the target (inf cost where unmeasured or never reached).

    A missed run trains `max_epochs` and is retried, so a recurrence costs E[run] / P(reach).
    """
    paths = np.arange(job.target_epochs.shape[1]) < job.num_paths[:, None]  # (B, R): real paths
    reaches = paths & (job.target_epochs <= job.max_epochs)  # NaN (never) compares False
    epochs = np.where(reaches, job.target_epochs, job.max_epochs)[:, None, :]  # (B, 1, R)
    energy = job.energy_per_epoch[:, :, None] * epochs
    time = job.time_per_epoch[:, :, None] * epochs
    run_cost = eta * energy + (1 - eta) * job.max_power * time
    mean_cost = np.where(paths[:, None, :], run_cost, 0.0).sum(axis=2) / job.num_paths[:, None]
    reach_rate = reaches.sum(axis=1) / job.num_paths  # (B,)
    with np.errstate(divide="ignore", invalid="ignore"):  # never-reached rows are masked
        cost = np.where(job.feasible & (reach_rate[:, None] > 0), mean_cost / reach_rate[:, None], np.inf)
    always = job.feasible & (reach_rate == 1.0)[:, None]
    return cost, always


def oracle_choice(job: JobArrays, eta: float) -> tuple[int, int, float]:
    """(batch index, power index, expected cost per recurrence) of the Oracle's configuration:
    the cheapest among those whose every path reaches the target (among all if there are none)."""
    cost, always = expected_costs(job, eta)
    ranked = np.where(always, cost, np.inf) if always.any() else cost
    b, p = np.unravel_index(int(np.argmin(ranked)), ranked.shape)
    return int(b), int(p), float(cost[b, p])


def episode_job(params: Params, job_info: JobInfo) -> JobArrays:
    """The job of the episode `job_info` describes (a multi-workload env holds several)."""
    for job in params.jobs:
        if job.spec == job_info["workload"] and job.gpu == job_info["gpu"]:
            return job
    raise ValueError(f"the env has no job {job_info['workload'].describe()} on {job_info['gpu']}")


class OracleAgent(BaseAgent):
    """Privileged baseline: always plays `oracle_choice` of the episode's job (it reads the traces)."""

    def __init__(self, env: Any) -> None:
        self.params: Params = env.unwrapped.params

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Compute the episode job's best configuration."""
        super().reset(job_info, seed)
        self.choice = oracle_choice(episode_job(self.params, job_info), self.params.eta)

    def act(self, observation: dict, info: dict[str, Any]) -> np.ndarray:
        """The Oracle's configuration, every time."""
        return make_action(self.choice[0], self.choice[1])
