"""Agents for zeus-gym: the protocol, Zeus itself, an adapter for Zeus's optimizers, and baselines.

Every agent implements `Agent` (`reset(job_info, seed)`, `act(observation, info)`,
`observe(action, observation, reward, terminated, truncated, info)`); `zeus_gym.runner` plays one
on an env and `load_agent` finds one by name, `package.module:Class` or `path/file.py:Class`.
"""

from zeus_gym.agents.base import Agent, BaseAgent, JobInfo, config_action, default_action, make_action, top_limit_index
from zeus_gym.agents.baselines import DefaultAgent, GridSearchAgent, RandomAgent
from zeus_gym.agents.frugal import FrugalAgent
from zeus_gym.agents.legacy import LegacyJob, LegacyLoop, ZeusOptimizerAgent
from zeus_gym.agents.loading import AGENTS, agent_env_kwargs, load_agent
from zeus_gym.agents.oracle import OracleAgent, episode_job, expected_costs, oracle_choice
from zeus_gym.agents.power import JITPowerLimits
from zeus_gym.agents.pruning import PruningExplorer
from zeus_gym.agents.thompson import GaussianThompson
from zeus_gym.agents.zeus import ZeusAgent, ZeusBatchSizeOptimizer

__all__ = [
    "AGENTS",
    "Agent",
    "BaseAgent",
    "DefaultAgent",
    "FrugalAgent",
    "GaussianThompson",
    "GridSearchAgent",
    "JITPowerLimits",
    "JobInfo",
    "LegacyJob",
    "LegacyLoop",
    "OracleAgent",
    "PruningExplorer",
    "RandomAgent",
    "ZeusAgent",
    "ZeusBatchSizeOptimizer",
    "ZeusOptimizerAgent",
    "config_action",
    "agent_env_kwargs",
    "default_action",
    "episode_job",
    "expected_costs",
    "load_agent",
    "make_action",
    "oracle_choice",
    "top_limit_index",
]
