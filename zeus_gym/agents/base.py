"""The agent protocol the runner and the CLI drive, and small helpers for writing agents."""

from __future__ import annotations

from typing import Any, Protocol, SupportsFloat, runtime_checkable

import numpy as np

JobInfo = dict[str, Any]
Observation = dict[str, np.ndarray]


@runtime_checkable
class Agent(Protocol):
    """Anything that picks the configuration of each run of a recurring job.

    Per episode the runner calls `reset` once, then alternates `act` and `observe` until the episode
    ends. `job_info` is the env's reset info: feasible `batch_sizes` and `power_limits`, the
    `playable` (B, P + 1) mask, `b0` and `b0_index`, `eta`, `beta`, `profile_action` (the power
    index that profiles just in time), ... An action is `[batch size index, power limit index]`.
    """

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Start an episode of the job described by `job_info`; seed any randomness with `seed`."""

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """The next action; `info` is the last step's info (`job_info` before the first step)."""

    def observe(
        self,
        action: np.ndarray,
        observation: Observation,
        reward: SupportsFloat,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """Learn from what `action` did."""


class BaseAgent:
    """Keeps `job_info` on reset: subclass it, write `act`, and `learn` if feedback matters."""

    job_info: JobInfo

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Remember the job."""
        self.job_info = job_info

    def observe(
        self,
        action: np.ndarray,
        observation: Observation,
        reward: SupportsFloat,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        """Pass the step to `learn`: the step's info has everything the simple agents need."""
        self.learn(action, info)

    def learn(self, action: np.ndarray, info: dict[str, Any]) -> None:
        """Learn from what `action` did (`info` is the step's info); by default nothing."""


def make_action(batch_index: int, power_index: int) -> np.ndarray:
    """The env's action array for indices into `batch_sizes` and `power_limits`."""
    return np.array([batch_index, power_index], dtype=np.int64)


def top_limit_index(job_info: JobInfo, batch_index: int) -> int:
    """Index of the largest power limit the traces measured for batch size `batch_index`."""
    measured = np.asarray(job_info["playable"])[batch_index, : job_info["profile_action"]]
    return int(np.flatnonzero(measured)[-1])


def default_action(job_info: JobInfo) -> np.ndarray:
    """What a user without an optimizer runs: b0 at its largest power limit."""
    return make_action(job_info["b0_index"], top_limit_index(job_info, job_info["b0_index"]))


def config_action(job_info: JobInfo, batch_size: int, power_limit: int | None) -> np.ndarray:
    """The action for a batch size and power limit in W (None: profile just in time)."""
    b = job_info["batch_sizes"].index(batch_size)
    p = job_info["profile_action"] if power_limit is None else job_info["power_limits"].index(power_limit)
    return make_action(b, p)
