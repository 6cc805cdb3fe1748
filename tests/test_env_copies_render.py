"""Gymnasium conventions of issue 11 §4: render_mode None / "ansi", and deepcopy / pickle continuation."""

from __future__ import annotations

import copy
import pickle

import gymnasium as gym
import numpy as np
import pytest

import zeus_gym  # noqa: F401  (registers the environments)
from zeus_gym.envs import RecurringJobEnv, RecurringJobVectorEnv

ENV_ID = "ZeusGym/RecurringJob-v2"
COPIES = {"deepcopy": copy.deepcopy, "pickle": lambda env: pickle.loads(pickle.dumps(env))}


def actions(env, seed: int, steps: int) -> list[np.ndarray]:
    """A fixed list of playable actions for `env`'s job."""
    rng = np.random.default_rng(seed)
    playable = np.argwhere(env.unwrapped.job_info["playable"])
    return [playable[i] for i in rng.integers(0, len(playable), steps)]


def transitions(env, moves: list[np.ndarray]) -> list[tuple]:
    out = []
    for move in moves:
        obs, reward, terminated, truncated, info = env.step(np.asarray(move, dtype=np.int64))
        out.append((tuple(v.tobytes() for v in obs.values()), reward, terminated, truncated, info["energy"], info["epochs"], info["cost"]))
        if terminated:
            break
    return out


@pytest.mark.parametrize("how", COPIES)
@pytest.mark.parametrize("workload, gpu", [("librispeech", "v100"), (["squad", "imagenet"], ["a40", "p100"])])
def test_a_copy_continues_exactly_as_the_original_and_leaves_it_alone(how, workload, gpu):
    make = lambda: gym.make(ENV_ID, workload=workload, gpu=gpu, slots=(15, 9)).unwrapped  # noqa: E731
    original, untouched = make(), make()
    original.reset(seed=7)
    untouched.reset(seed=7)
    before = actions(original, 0, 30)
    assert transitions(original, before) == transitions(untouched, before)
    duplicate = COPIES[how](original)
    assert duplicate.np_random is not original.np_random
    after = actions(original, 1, 60)
    from_copy = transitions(duplicate, after)  # the copy first: it must not advance the original
    assert transitions(original, after) == from_copy == transitions(untouched, after)
    # Fresh episodes from the copy's stream too (the job draw of a multi-workload env included).
    assert duplicate.reset()[1]["workload"] == original.reset()[1]["workload"]


@pytest.mark.parametrize("how", COPIES)
def test_a_copy_of_the_vector_env_continues_exactly(how):
    original = RecurringJobVectorEnv(4, workload="squad", gpu="a40", num_recurrences=5)
    untouched = RecurringJobVectorEnv(4, workload="squad", gpu="a40", num_recurrences=5)
    original.reset(seed=3)
    untouched.reset(seed=3)
    rng = np.random.default_rng(0)
    playable = np.argwhere(original.single_action_space.playable)
    moves = [playable[rng.integers(0, len(playable), 4)] for _ in range(40)]
    for move in moves[:10]:
        original.step(move)
        untouched.step(move)
    duplicate = COPIES[how](original)

    def run(env):
        return [tuple(np.asarray(x).tobytes() for x in env.step(move)[1:3]) for move in moves[10:]]

    ours = run(duplicate)
    assert run(original) == ours == run(untouched)


def test_render_modes():
    assert RecurringJobEnv.metadata["render_modes"] == ["ansi"] == RecurringJobVectorEnv.metadata["render_modes"]
    with pytest.raises(ValueError, match="render_mode must be None or one of \\['ansi'\\], got 'human'"):
        RecurringJobEnv(render_mode="human")
    env = gym.make(ENV_ID, workload="librispeech", gpu="v100", render_mode="ansi")
    _, info = env.reset(seed=1)
    assert env.render() == "librispeech on v100: no run yet"
    _, _, _, _, step = env.step(np.array([info["b0_index"], info["profile_action"]]))
    line = env.render()
    assert "\n" not in line and line.startswith(f"librispeech on v100 recurrence 1/{info['num_recurrences']} attempt 1: batch size {info['b0']} at ")
    assert f"{step['power_limit']} W (profiled), {step['epochs']} epochs, {step['energy']:.6g} J, {step['time']:.6g} s, " \
           f"cost {step['cost']:.6g}, {'reached' if step['reached'] else 'missed'} the target" in line
    quiet = gym.make(ENV_ID, workload="squad", gpu="a40").unwrapped
    quiet.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode=None"):
        assert quiet.render_mode is None and quiet.render() is None


def test_vector_render_is_a_line_per_sub_environment():
    envs = gym.make_vec(ENV_ID, num_envs=3, workload="squad", gpu="a40", render_mode="ansi")
    envs.reset(seed=0)
    assert envs.render() == ("squad on a40: no run yet",) * 3
    envs.step(envs.action_space.sample())
    lines = envs.render()
    assert len(lines) == 3 and all(line.startswith("squad on a40 recurrence 1/") for line in lines)
