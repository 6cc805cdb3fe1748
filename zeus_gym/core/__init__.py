"""The pure-numpy simulation core shared by every zeus-gym environment."""

from zeus_gym.core.job import JobArrays, JobSpecError, build_job
from zeus_gym.core.params import Params, make_params
from zeus_gym.core.sim import Outcome, State, invalid_actions, observe, reset, step

__all__ = [
    "JobArrays",
    "JobSpecError",
    "Outcome",
    "Params",
    "State",
    "build_job",
    "invalid_actions",
    "make_params",
    "observe",
    "reset",
    "step",
]
