"""Procedural jobs: seeded, valid by the trace rules, labelled synthetic, and equal in both envs."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zeus_gym  # noqa: F401
from zeus_gym.procedural import SYNTHETIC, ProceduralJobs, _flatten
from zeus_gym.wrappers import FlatActions

ENV_ID = "ZeusGym/RecurringJob-v2"


@pytest.fixture(scope="module")
def generator(zeus_trace_dir):
    return ProceduralJobs(trace_dir=zeus_trace_dir)


def test_same_seed_same_jobs(generator):
    first = [generator.sample(np.random.default_rng(seed), 0.5) for seed in range(5)]
    again = [generator.sample(np.random.default_rng(seed), 0.5) for seed in range(5)]
    for a, b in zip(first, again):
        assert (a.spec, a.gpu) == (b.spec, b.gpu)
        assert np.array_equal(a.target_epochs, b.target_epochs, equal_nan=True)
        assert np.array_equal(a.time_per_epoch, b.time_per_epoch) and np.array_equal(a.energy_per_epoch, b.energy_per_epoch)
    assert len({(job.spec, job.batch_sizes.tobytes(), float(job.default_cost)) for job in first}) == 5  # new jobs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), eta=st.sampled_from([0.0, 0.2, 0.5, 1.0]))
def test_generated_jobs_pass_the_trace_rules(generator, seed, eta):
    job = generator.sample(np.random.default_rng(seed), eta)
    assert job.synthetic and job.spec.dataset.startswith("synthetic:") and job.gpu.startswith("synthetic:")
    assert job.b0 in job.batch_sizes.tolist()
    b0 = job.b0_index
    paths = job.target_epochs[b0, : job.num_paths[b0]]
    assert (paths[~np.isnan(paths)] <= job.max_epochs).any()  # the target is reachable at b0
    assert np.all(np.diff(job.batch_sizes) > 0) and np.all(np.diff(job.power_limits) > 0)
    reached = job.target_epochs[~np.isnan(job.target_epochs)]
    assert np.all(reached >= 1) and np.all(reached == np.round(reached))
    measured = job.feasible
    assert np.all(job.time_per_epoch[measured] > 0) and np.all(job.energy_per_epoch[measured] > 0)
    average_power = job.energy_per_epoch[measured] / job.time_per_epoch[measured]
    limits = np.broadcast_to(job.power_limits, measured.shape)[measured]
    assert np.all(average_power <= limits * (1 + 1e-12))
    assert np.isfinite(job.default_cost) and job.default_cost > 0
    assert job.max_run_cost <= generator.bounds(eta)[0]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_short_jobs_keep_b0_and_one_neighbour(zeus_trace_dir, seed):
    short = ProceduralJobs(trace_dir=zeus_trace_dir, short_share=1.0)
    job = short.sample(np.random.default_rng(seed), 0.5)
    source = next(s for s in short._source_rows() if SYNTHETIC + s.spec.dataset == job.spec.dataset and SYNTHETIC + s.gpu == job.gpu)
    home = int(np.searchsorted(source.batch_sizes, job.b0))
    neighbours = set(source.batch_sizes[max(home - 1, 0): home + 2].tolist()) - {job.b0}
    others = set(job.batch_sizes.tolist()) - {job.b0}
    assert job.b0 in job.batch_sizes.tolist() and len(others) <= 1 and others <= neighbours
    assert job.num_recurrences == 2 * len(job.batch_sizes) * len(job.power_limits)
    assert job.synthetic


def test_short_share_zero_leaves_the_draws_unchanged(generator, zeus_trace_dir):
    explicit = ProceduralJobs(trace_dir=zeus_trace_dir, short_share=0.0)
    for seed in range(5):
        a, b = generator.sample(np.random.default_rng(seed), 0.5), explicit.sample(np.random.default_rng(seed), 0.5)
        assert np.array_equal(a.target_epochs, b.target_epochs, equal_nan=True) and np.array_equal(a.batch_sizes, b.batch_sizes)


def test_short_jobs_are_common_at_half_share(zeus_trace_dir):
    half = ProceduralJobs(trace_dir=zeus_trace_dir, short_share=0.5)
    sizes = [len(half.sample(np.random.default_rng(seed), 0.5).batch_sizes) for seed in range(40)]
    assert 10 <= sum(n <= 2 for n in sizes) <= 34  # about half, the rest as drop_batch leaves them


def test_env_draws_a_new_synthetic_job_per_reset_and_checkers_pass(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="procedural", gpu="all", trace_dir=zeus_trace_dir).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env)
        sb3_check_env(FlatActions(env))
    infos = [env.reset(seed=seed)[1] for seed in (1, 2, 1)]
    assert all(info["synthetic"] for info in infos)
    assert infos[0]["workload"] == infos[2]["workload"] and infos[0]["default_cost"] == infos[2]["default_cost"]
    assert infos[0]["default_cost"] != infos[1]["default_cost"]


def test_real_jobs_are_not_synthetic(zeus_trace_dir):
    _, info = gym.make(ENV_ID, workload="squad", gpu="a40").reset(seed=0)
    assert info["synthetic"] is False


def test_held_out_sources(zeus_trace_dir):
    generator = ProceduralJobs(workloads=["squad", "imagenet"], gpus=["a40"], trace_dir=zeus_trace_dir)
    datasets = {generator.sample(np.random.default_rng(seed), 0.5).spec.dataset for seed in range(20)}
    assert datasets == {"synthetic:squad", "synthetic:imagenet"}
    env = gym.make(ENV_ID, workload=generator, gpu="a40")
    assert env.reset(seed=0)[1]["gpu"] == "synthetic:a40"


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_env_equals_sync_vector_env(zeus_trace_dir, mode):
    kwargs = dict(workload="procedural", gpu="all", num_recurrences=3, max_retries=4, slots=(15, 9))
    native = gym.make_vec(ENV_ID, num_envs=3, vectorization_mode="vector_entry_point", autoreset_mode=mode, **kwargs)
    sync = SyncVectorEnv([lambda: gym.make(ENV_ID, **kwargs) for _ in range(3)], autoreset_mode=mode)
    assert data_equivalence(native.reset(seed=7), sync.reset(seed=7), exact=True)
    native.action_space.seed(0)
    ended = 0
    for i in range(60):
        actions = native.action_space.sample()  # playable in the current jobs of both
        ours, theirs = native.step(actions), sync.step(actions)
        ended += ours[2].sum()
        assert data_equivalence(ours, theirs, exact=True), f"step {i} differs"
    assert ended >= 3


def test_job_option_is_refused(zeus_trace_dir):
    env = gym.make(ENV_ID, workload="procedural", gpu="v100")
    with pytest.raises(ValueError, match=r"options\['job'\] does not apply to procedural jobs"):
        env.reset(seed=0, options={"job": 0})


@settings(max_examples=60, deadline=None)
@given(keep=st.floats(0.0, 1.0), eta=st.floats(0.0, 1.0), seed=st.integers(0, 2**32 - 1))
def test_flattening_raises_each_limits_cost_ratio_to_the_power_keep(keep, eta, seed):
    rng = np.random.default_rng(seed)
    sizes = np.repeat([32, 64, 128], 4)
    limits = np.tile([150, 200, 250, 300], 3)
    order = rng.permutation(len(sizes))  # file order need not sort the limits
    sizes, limits = sizes[order], limits[order]
    time = rng.uniform(1.0, 3.0, len(sizes))
    power = np.minimum(rng.uniform(100.0, 300.0, len(sizes)), limits)
    flat = _flatten(time, power, sizes, limits, eta, keep)
    def cost(t):
        return t * (eta * power + (1 - eta) * 300.0)
    for b in (32, 64, 128):
        mine = sizes == b
        top = np.flatnonzero(mine)[np.argmax(limits[mine])]
        assert flat[top] == time[top]
        np.testing.assert_allclose(cost(flat)[mine] / cost(flat)[top], (cost(time)[mine] / cost(time)[top]) ** keep, rtol=1e-12)


def test_flat_share_zero_leaves_the_draws_unchanged(generator, zeus_trace_dir):
    explicit = ProceduralJobs(trace_dir=zeus_trace_dir, flat_share=0.0)
    for seed in range(5):
        a, b = generator.sample(np.random.default_rng(seed), 0.5), explicit.sample(np.random.default_rng(seed), 0.5)
        assert np.array_equal(a.time_per_epoch, b.time_per_epoch) and np.array_equal(a.energy_per_epoch, b.energy_per_epoch)


def test_flat_jobs_save_less_with_power_limits(zeus_trace_dir):
    """Over many draws, flattened jobs' best limit saves less of b0's top-limit epoch cost."""
    def savings(generator: ProceduralJobs) -> float:
        values = []
        for seed in range(40):
            job = generator.sample(np.random.default_rng(seed), 0.5)
            row = job.epoch_cost[job.b0_index][job.feasible[job.b0_index]]
            values.append(1.0 - row.min() / row[-1])
        return float(np.mean(values))
    assert savings(ProceduralJobs(trace_dir=zeus_trace_dir, flat_share=1.0)) < 0.6 * savings(ProceduralJobs(trace_dir=zeus_trace_dir))
