"""The README's statements match the code: its command lines parse, its Python API is as described."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
from typer.main import get_command

from zeus_gym.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def command_lines() -> list[list[str]]:
    """Every `zeus-gym ...` command of the README's bash blocks, as arguments."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line.split("#")[0] for block in blocks for line in block.splitlines()]
    commands = []
    for line in lines:
        for part in line.split("&&"):
            words = shlex.split(part)
            if words[:1] == ["zeus-gym"]:
                commands.append(words[1:])
    return commands


def test_every_readme_command_line_uses_existing_commands_and_options():
    root = get_command(app)
    commands = command_lines()
    assert len(commands) >= 10
    for words in commands:
        command, ctx, rest = root, click.Context(root), list(words)
        while hasattr(command, "get_command"):  # a group (typer may vendor its own click)
            command = command.get_command(ctx, rest.pop(0))
            assert command is not None, words
        known = {opt for param in command.params for opt in [*param.opts, *getattr(param, "secondary_opts", [])]}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in known, (words, word)


def test_run_episode_returns_an_episode_as_the_readme_says():
    import gymnasium as gym

    from zeus_gym.agents import DefaultAgent
    from zeus_gym.runner import Episode, run_episode

    assert "returns an `Episode`" in README
    env = gym.make("ZeusGym/RecurringJob-v2", workload="squad", gpu="a40", num_recurrences=3)
    episode = run_episode(env, DefaultAgent(), seed=0)
    assert isinstance(episode, Episode) and episode.summary.recurrences == 3 and len(episode.history) >= 3
