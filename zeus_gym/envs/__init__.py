"""Gymnasium environments of zeus-gym."""

from zeus_gym.envs.recurring_job import RecurringJobEnv

__all__ = ["RecurringJobEnv"]
