"""load_agent: built-in names, package.module:Class, path/to/file.py:Class, and clear errors."""

from __future__ import annotations

import gymnasium as gym
import pytest

import zeus_gym  # noqa: F401
from zeus_gym.agents import AGENTS, DefaultAgent, FrugalAgent, GridSearchAgent, OracleAgent, RandomAgent, ZeusAgent, load_agent

AGENT_MODULE = '''
import numpy as np

class FixedAgent:
    def reset(self, job_info, seed):
        self.action = np.array([job_info["b0_index"], job_info["profile_action"]])

    def act(self, observation, info):
        return self.action

    def observe(self, action, observation, reward, terminated, truncated, info):
        pass

class NotAnAgent:
    pass

class NeedsArguments(FixedAgent):
    def __init__(self, size):
        self.size = size

helper = 3
'''


def test_built_in_names(zeus_trace_dir):
    env = gym.make("ZeusGym/RecurringJob-v2", workload="squad", gpu="a40")
    kinds = {name: type(load_agent(name, env)) for name in AGENTS}
    assert kinds == {"zeus": ZeusAgent, "frugal": FrugalAgent, "default": DefaultAgent, "oracle": OracleAgent, "grid": GridSearchAgent, "random": RandomAgent}
    assert load_agent("zeus") is not load_agent("zeus")  # a new agent each time
    with pytest.raises(ValueError, match="the oracle agent reads the traces"):
        load_agent("oracle")


def test_file_and_module_specs(tmp_path, monkeypatch):
    path = tmp_path / "my_agents.py"
    path.write_text(AGENT_MODULE)
    assert type(load_agent(f"{path}:FixedAgent")).__name__ == "FixedAgent"
    monkeypatch.syspath_prepend(str(tmp_path))
    assert type(load_agent("my_agents:FixedAgent")).__name__ == "FixedAgent"
    assert isinstance(load_agent("zeus_gym.agents.baselines:DefaultAgent"), DefaultAgent)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("mystery", "unknown agent 'mystery': use one of zeus, frugal, default, oracle, grid, random, sb3:DIR, package.module:Class"),
        ("module:", "unknown agent 'module:'"),
        ("no_such_module_here:Agent", "cannot import 'no_such_module_here'"),
        ("{dir}/missing.py:Agent", "no agent file '.*missing.py'"),
        ("{dir}/my_agents.py:Nope", "has no class 'Nope'"),
        ("{dir}/my_agents.py:helper", "has no class 'helper'"),
        ("{dir}/my_agents.py:NotAnAgent", "is not an agent: it needs reset"),
        ("{dir}/my_agents.py:NeedsArguments", "buildable without arguments"),
    ],
)
def test_bad_specs_say_what_is_wrong(tmp_path, spec, message):
    (tmp_path / "my_agents.py").write_text(AGENT_MODULE)
    with pytest.raises(ValueError, match=message):
        load_agent(spec.format(dir=tmp_path))
