"""Gymnasium environments of zeus-gym."""

from zeus_gym.envs.recurring_job import RecurringJobEnv
from zeus_gym.envs.recurring_job_vector import RecurringJobVectorEnv

__all__ = ["RecurringJobEnv", "RecurringJobVectorEnv"]
