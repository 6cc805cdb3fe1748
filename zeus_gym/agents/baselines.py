"""Simple baselines: Default (b0 at its top limit), grid search, and uniform random play."""

from __future__ import annotations

from typing import Any

import numpy as np

from zeus_gym.agents.base import BaseAgent, JobInfo, Observation, default_action, make_action


class DefaultAgent(BaseAgent):
    """What a user does without an optimizer: b0 at its largest power limit, every run."""

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """b0 at its top limit."""
        return default_action(self.job_info)


class RandomAgent(BaseAgent):
    """Uniform over the playable actions (profiling included), from `default_rng(seed)`."""

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Seed the generator."""
        super().reset(job_info, seed)
        self.rng = np.random.default_rng(seed)
        self.actions = np.argwhere(job_info["playable"])

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """A uniformly drawn playable action."""
        b, p = self.actions[self.rng.integers(len(self.actions))]
        return make_action(b, p)


class GridSearchAgent(BaseAgent):
    """Tries every measured configuration once (b0 at its top limit first, then row-major), then
    plays the cheapest one whose run reached the target (b0 at its top limit if none did).

    b0 goes first because its run sets the early-stopping threshold: without one, a hopeless
    configuration (a tiny batch size, say) would run all of max_epochs."""

    def reset(self, job_info: JobInfo, seed: int | None) -> None:
        """Queue the whole grid."""
        super().reset(job_info, seed)
        measured = np.asarray(job_info["playable"])[:, : job_info["profile_action"]]
        first = tuple(int(i) for i in default_action(job_info))
        grid = [tuple(int(i) for i in config) for config in np.argwhere(measured)]
        self.untried = [first] + [config for config in grid if config != first]
        self.costs: dict[tuple[int, int], float] = {}  # cost of each try; inf if it missed

    def act(self, observation: Observation, info: dict[str, Any]) -> np.ndarray:
        """The next untried configuration, else the cheapest observed."""
        if self.untried:
            return make_action(*self.untried[0])
        best = min(self.costs, key=self.costs.__getitem__)
        return default_action(self.job_info) if self.costs[best] == np.inf else make_action(*best)

    def learn(self, action: np.ndarray, info: dict[str, Any]) -> None:
        """Record the try."""
        config = (int(action[0]), int(action[1]))
        if self.untried and self.untried[0] == config:
            self.untried.pop(0)
            self.costs[config] = info["cost"] if info["reached"] else np.inf
