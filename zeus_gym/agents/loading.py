"""Find an agent by name, by `package.module:Class`, or by `path/to/file.py:Class`."""

from __future__ import annotations

import importlib
import json
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from zeus_gym.agents.base import Agent
from zeus_gym.agents.baselines import DefaultAgent, GridSearchAgent, RandomAgent
from zeus_gym.agents.frugal import FrugalAgent
from zeus_gym.agents.oracle import OracleAgent
from zeus_gym.agents.zeus import ZeusAgent

# Built-in agents by name; each factory gets the env (only the privileged Oracle reads it).
AGENTS: dict[str, Callable[[Any], Agent]] = {
    "zeus": lambda env: ZeusAgent(),
    "frugal": lambda env: FrugalAgent(),
    "default": lambda env: DefaultAgent(),
    "oracle": OracleAgent,
    "grid": lambda env: GridSearchAgent(),
    "random": lambda env: RandomAgent(),
}


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise ValueError(f"no agent file {str(path)!r}")
    name = f"zeus_gym_user_agent_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look classes up there
    spec.loader.exec_module(module)
    return module


SB3_PREFIX = "sb3:"


def agent_env_kwargs(spec: str) -> dict[str, Any]:
    """Env arguments an agent needs: a trained policy (`sb3:DIR`) its action slots and the
    observation layout it was trained on (folders from before v1 have none: the v0 "slots")."""
    if not spec.startswith(SB3_PREFIX):
        return {}
    path = Path(spec[len(SB3_PREFIX):]) / "config.json"
    if not path.is_file():
        raise ValueError(f"agent {spec!r}: no trained policy there (no {path}); train one with `zeus-gym train`")
    saved = json.loads(path.read_text())
    return {"slots": tuple(saved["slots"]), "observation": saved.get("observation", "slots")}


def load_agent(spec: str, env: Any = None) -> Agent:
    """A new agent: a name in `AGENTS`, `sb3:DIR` (a policy saved by `zeus-gym train`), or a
    class (built without arguments) named by `package.module:Class` or `path/to/file.py:Class`."""
    if spec.startswith(SB3_PREFIX):
        agent_env_kwargs(spec)  # checks the folder
        from zeus_gym.training import Sb3Agent  # needs the `rl` extra

        return Sb3Agent(spec[len(SB3_PREFIX):])
    if spec in AGENTS:
        if spec == "oracle" and env is None:
            raise ValueError("the oracle agent reads the traces: pass the env to load_agent")
        return AGENTS[spec](env)
    target, _, name = spec.rpartition(":")
    if not target or not name.isidentifier():
        raise ValueError(
            f"unknown agent {spec!r}: use one of {', '.join(AGENTS)}, "
            "sb3:DIR, package.module:Class, or path/to/file.py:Class"
        )
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(Path(target))
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise ValueError(f"agent {spec!r}: cannot import {target!r} ({error})") from None
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise ValueError(f"agent {spec!r}: {target!r} has no class {name!r}")
    try:
        agent = cls()
    except TypeError as error:
        raise ValueError(f"agent {spec!r}: the class must be buildable without arguments ({error})") from None
    if not isinstance(agent, Agent):
        raise ValueError(f"agent {spec!r} is not an agent: it needs reset(job_info, seed), act(observation, info) and observe(...)")
    return agent
