"""The SB3 adapter's scalar backend (single envs on the fast path) equals its vector backend."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence

import zeus_gym  # noqa: F401
from zeus_gym.procedural import ProceduralJobs
from zeus_gym.sb3 import make_sb3_vec_env
from zeus_gym.sb3_scalar import SB3ScalarVecEnv
from tests.test_sb3_vec_env import plain

SHORT = dict(num_recurrences=3, max_retries=4)


def masked_rollout(venv, steps: int, flat: bool, seed: int = 5) -> list:
    """Reset (seed 11), then `steps` steps of uniformly drawn playable actions (the same draws
    for equal masks); records everything SB3 sees, masks and reset infos included."""
    rng = np.random.default_rng(seed)
    venv.seed(11)
    data = [(venv.reset(), list(venv.reset_infos))]
    for _ in range(steps):
        masks = np.stack(venv.env_method("action_masks"))
        flat_actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        actions = flat_actions if flat else np.stack(np.divmod(flat_actions, venv.action_space.nvec[1]), axis=1)
        data.append((masks, *venv.step(actions), list(venv.reset_infos)))
    return plain(data)


CASES = {
    "one job, MultiDiscrete": (5, False, dict(workload="movielens-1m", gpu="rtx6000", **SHORT)),
    "several jobs, flat": (4, True, dict(workload=["squad", "imagenet", "cifar100"], gpu=["a40", "v100"], **SHORT)),
    "procedural, flat": (3, True, dict(workload="procedural", gpu="all", slots=(15, 9), **SHORT)),
    "padded slots, more retries": (2, True, dict(workload="librispeech", gpu="v100", slots=(15, 9), num_recurrences=4, max_retries=20)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_scalar_backend_equals_vector_backend(zeus_trace_dir, case):
    num_envs, flat, kwargs = CASES[case]
    scalar = make_sb3_vec_env(num_envs, flat_actions=flat, backend="scalar", **kwargs)
    vector = make_sb3_vec_env(num_envs, flat_actions=flat, backend="vector", **kwargs)
    assert isinstance(scalar, SB3ScalarVecEnv)
    assert scalar.observation_space == vector.observation_space and scalar.action_space == vector.action_space
    steps = 150
    a, b = masked_rollout(scalar, steps, flat), masked_rollout(vector, steps, flat)
    assert sum(step[3].sum() for step in a[1:]) >= num_envs  # episodes ended and reset at once
    assert sum("terminal_observation" in info for step in a[1:] for info in step[4]) >= num_envs
    for i, (x, y) in enumerate(zip(a, b)):
        assert data_equivalence(x, y, exact=True), f"{case}: step {i} differs"


def test_shared_procedural_generator_as_in_training(zeus_trace_dir):
    """Training passes one ProceduralJobs to every env; the spawned envs share it."""
    def make(backend):
        generator = ProceduralJobs(workloads=("squad", "imagenet"), gpus=["a40"], trace_dir=zeus_trace_dir)
        return make_sb3_vec_env(3, flat_actions=True, backend=backend, workload=generator, gpu="a40", **SHORT)

    a, b = masked_rollout(make("scalar"), 80, True), masked_rollout(make("vector"), 80, True)
    for i, (x, y) in enumerate(zip(a, b)):
        assert data_equivalence(x, y, exact=True), f"step {i} differs"


@pytest.mark.parametrize("backend", ["scalar", "vector"])
def test_refused_action_names_the_env_and_changes_nothing(zeus_trace_dir, backend):
    venv = make_sb3_vec_env(3, flat_actions=True, backend=backend, workload="movielens-1m", gpu="rtx6000", **SHORT)
    venv.seed(0)
    first = venv.reset()
    masks = np.stack(venv.env_method("action_masks"))
    actions = masks.argmax(axis=1)
    bad = actions.copy()
    bad[1] = np.flatnonzero(masks[1] == 0)[0]
    with pytest.raises(ValueError, match="sub-environment 1: .*no measurement"):
        venv.step(bad)
    again = make_sb3_vec_env(3, flat_actions=True, backend=backend, workload="movielens-1m", gpu="rtx6000", **SHORT)
    again.seed(0)
    assert data_equivalence(plain(again.reset()), plain(first), exact=True)
    assert data_equivalence(plain(venv.step(actions)), plain(again.step(actions)), exact=True)


def test_auto_backend(zeus_trace_dir):
    assert isinstance(make_sb3_vec_env(2, workload="squad", gpu="a40"), SB3ScalarVecEnv)
    assert not isinstance(make_sb3_vec_env(2, workload="squad", gpu="a40", observation="slots"), SB3ScalarVecEnv)
    with pytest.raises(ValueError, match="backend"):
        make_sb3_vec_env(2, backend="numba", workload="squad", gpu="a40")


@pytest.mark.parametrize("options", [{"job": ("squad", "v100")}, [{"job": ("imagenet", "a40")}, {}, {"job": ("squad", "v100")}, {"job": ("imagenet", "a40")}]])
def test_set_options_picks_the_jobs_on_both_backends(zeus_trace_dir, options):
    kwargs = dict(workload=["squad", "imagenet", "cifar100"], gpu=["a40", "v100"], **SHORT)
    runs = []
    for backend in ("scalar", "vector"):
        venv = make_sb3_vec_env(4, flat_actions=True, backend=backend, **kwargs)
        venv.set_options(options)
        venv.seed(3)
        obs = venv.reset()
        runs.append(plain((obs, list(venv.reset_infos))))
        wanted = options if isinstance(options, list) else [options] * 4
        for info, option in zip(venv.reset_infos, wanted):
            if option:
                assert (info["workload"].dataset, info["gpu"]) == option["job"]
        venv.reset()  # options and seeds are for one reset only, as in SB3
        assert venv._options == [{}] * 4
    assert data_equivalence(runs[0], runs[1], exact=True)


def test_set_options_refuses_a_reset_mask(zeus_trace_dir):
    venv = make_sb3_vec_env(2, backend="vector", workload="squad", gpu="v100")
    venv.set_options({"reset_mask": [True, False]})
    with pytest.raises(ValueError, match="env 0: set_options takes the options of one env; 'reset_mask' is not one of them"):
        venv.reset()
