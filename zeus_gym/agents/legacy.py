"""Drive optimizers with Zeus's legacy interfaces (zeus._legacy.policy) from the env's steps."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from zeus_gym.agents.base import BaseAgent, JobInfo, Observation, config_action


@dataclass(frozen=True)
class LegacyJob:
    """The job as Zeus's legacy optimizers see it: the fields of `zeus._legacy.job.Job`."""

    dataset: str
    network: str
    optimizer: str
    target_metric: float
    max_epochs: int
    default_bs: int | None = None

    @classmethod
    def from_job_info(cls, job_info: JobInfo) -> LegacyJob:
        """The job of an env, with its (capped) b0 as default batch size."""
        spec = job_info["workload"]
        return cls(spec.dataset, spec.network, spec.optimizer, spec.target_metric, spec.max_epochs, job_info["b0"])


class LegacyLoop(BaseAgent):
    """The reference simulator's loop around a batch size and a power limit optimizer.

    Subclasses say where the optimizers come from (`make_optimizers`). Per step: the batch size
    optimizer predicts the batch size, the power limit optimizer its limit or None (then the run
    profiles just in time and the profile is observed from the highest limit down). A run that
    could not afford one epoch is observed as cost `100 * beta * min_cost`, not converged.

    On an env whose runs overlap (`ZeusGym/ClusterTrace-v0`: infos with `in_flight` and
    `finished`) it is the reference's group loop instead: each run's cost is observed when the
    run finishes (0 if it could not start), and while runs are in flight the batch size of the
    cheapest run that reached the target so far (b0 before any) is submitted at its known limit,
    without asking the batch size optimizer.
    """

    def make_optimizers(self, job_info: JobInfo, seed: int | None) -> tuple[Any, Any]:
        """Fresh (batch size optimizer, power limit optimizer) for one episode."""
        raise NotImplementedError

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Register the job with fresh optimizers."""
        super().reset(job_info, seed)
        self.job = LegacyJob.from_job_info(job_info)
        self.bso, self.plo = self.make_optimizers(job_info, seed)
        self.bso.register_job(self.job, list(job_info["batch_sizes"]))
        self.min_cost = np.inf  # cheapest completed recurrence before the coming step
        # Runs that overlap: the batch size of the cheapest run that reached the target.
        self.best_batch_size, self.best_run_cost = job_info["b0"], np.inf

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """The optimizers' batch size, at their limit or profiling it."""
        if info.get("in_flight"):
            # As the reference: no prediction while runs are in flight, the best known instead.
            return config_action(self.job_info, self.best_batch_size, self.plo.predict(self.job, self.best_batch_size))
        batch_size = self.bso.predict(self.job)
        return config_action(self.job_info, batch_size, self.plo.predict(self.job, batch_size))

    def learn(self, action: np.ndarray, info: dict[str, Any]) -> None:
        """Feed the profile (if any) and the run's cost to the optimizers."""
        if "finished" in info:
            self._learn_finished(info)
            return
        batch_size = info["batch_size"]
        if info["profiled"]:
            self._observe_profile(batch_size, info)
        if info["ran"]:
            self.bso.observe(self.job, batch_size, info["cost"], info["reached"])
        else:
            self.bso.observe(self.job, batch_size, 100 * self.job_info["beta"] * self.min_cost, False)
        self.min_cost = info["min_cost"]

    def _learn_finished(self, info: dict[str, Any]) -> None:
        # Overlapping runs: the profile is known when the run starts, its cost when it ends.
        submitted = info["submitted"]
        if submitted["profiled"]:
            self._observe_profile(submitted["batch_size"], submitted)
        for run in info["finished"]:
            self.bso.observe(self.job, run["batch_size"], run["cost"], run["reached"])
            if run["reached"] and self.best_run_cost > run["cost"]:
                self.best_batch_size, self.best_run_cost = run["batch_size"], run["cost"]

    def _observe_profile(self, batch_size: int, info: dict[str, Any]) -> None:
        # The profile is taken even when the run then cannot start, as in the reference.
        limits = self.job_info["power_limits"]
        costs = info["profile_epoch_cost"][: len(limits)]  # multi-workload envs pad it
        for limit, cost in zip(limits[::-1], costs[::-1]):
            if np.isfinite(cost):
                self.plo.observe(self.job, batch_size, limit, float(cost))
        chosen = self.plo.predict(self.job, batch_size)
        if chosen != info["power_limit"]:
            warnings.warn(
                f"after profiling batch size {batch_size} the power limit optimizer chose {chosen} W, but a "
                f"profiling run uses the limit with the lowest epoch cost ({info['power_limit']} W); "
                "results will differ from the reference simulator",
                stacklevel=4,  # the caller of observe()
            )


class ZeusOptimizerAgent(LegacyLoop):
    """Plays any optimizers with Zeus's legacy interfaces, e.g. zeus's own unchanged:

    `bso.register_job(job, batch_sizes)`, `bso.predict(job) -> batch_size`,
    `bso.observe(job, batch_size, cost, converged)`, `plo.predict(job, batch_size) -> limit | None`,
    `plo.observe(job, batch_size, power_limit, cost)`. Each episode starts from deep copies of the
    objects passed in, as the reference simulator does, so their own seeds make episodes repeat.
    """

    def __init__(self, bso: Any, plo: Any) -> None:
        self.templates = (bso, plo)

    def make_optimizers(self, job_info: JobInfo, seed: int | None) -> tuple[Any, Any]:
        """Deep copies of the optimizers given (the seed is theirs, not the episode's)."""
        return copy.deepcopy(self.templates)
