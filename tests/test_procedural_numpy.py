"""The numpy generator of procedural jobs equals the pandas one (tests/procedural_reference.py):
the same job, field for field and dtype for dtype, and the same random stream after, per seed."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import procedural_reference
from zeus_gym.core import JobArrays
from zeus_gym.procedural import ProceduralJobs


def assert_same_job(a: JobArrays, b: JobArrays) -> None:
    for field in dataclasses.fields(JobArrays):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y, equal_nan=True), field.name
        else:
            assert type(x) is type(y) and x == y, field.name


@pytest.fixture(scope="module")
def generators(zeus_trace_dir):
    return {
        "default": ProceduralJobs(trace_dir=zeus_trace_dir),
        "held out": ProceduralJobs(workloads=["squad", "imagenet"], gpus=["a40"], trace_dir=zeus_trace_dir),
        # Rough draws: more batch sizes dropped, more redraws, and real jobs mixed in.
        "rough": ProceduralJobs(epoch_scale=(0.2, 6.0), tilt=1.0, drop_batch=0.7, power_noise=0.3, real_share=0.3, trace_dir=zeus_trace_dir),
        "single source": ProceduralJobs(workloads=["librispeech"], gpus=["v100"], trace_dir=zeus_trace_dir),
        "short": ProceduralJobs(short_share=0.6, real_share=0.1, trace_dir=zeus_trace_dir),
        "flat": ProceduralJobs(short_share=0.5, flat_share=0.7, trace_dir=zeus_trace_dir),
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**63 - 1), eta=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
       name=st.sampled_from(["default", "held out", "rough", "single source", "short", "flat"]))
def test_numpy_path_gives_the_pandas_jobs(generators, seed, eta, name):
    generator = generators[name]
    fast, slow = np.random.default_rng(seed), np.random.default_rng(seed)
    assert_same_job(generator.sample(fast, eta), procedural_reference.sample(generator, slow, eta))
    assert fast.bit_generator.state == slow.bit_generator.state  # the same draws, in the same order


def test_many_consecutive_draws_are_equal(generators):
    # One stream through many jobs: a drift in what a draw consumes would show after the first.
    generator = generators["rough"]
    fast, slow = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(100):
        assert_same_job(generator.sample(fast, 0.5), procedural_reference.sample(generator, slow, 0.5))


def test_draws_that_fail_validation_are_redrawn_alike(zeus_trace_dir):
    # Wild noise: many draws break the cost bounds and are redrawn; some seeds find no valid job.
    generator = ProceduralJobs(config_noise=2.0, batch_time_noise=2.0, epoch_scale=(0.05, 20.0), tilt=3.0, max_attempts=2,
                               trace_dir=zeus_trace_dir)
    failed = 0
    for seed in range(30):
        results = []
        for run in (generator.sample, lambda rng, eta: procedural_reference.sample(generator, rng, eta)):
            try:
                results.append(run(np.random.default_rng(seed), 0.5))
            except ValueError as error:
                results.append(str(error))
        if isinstance(results[0], str):
            assert results[0] == results[1]
            failed += 1
        else:
            assert_same_job(*results)
    assert 0 < failed < 30  # both outcomes were compared
