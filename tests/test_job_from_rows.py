"""`job_from_rows` (grouped numpy indexing, pairwise sums on Python floats) equals the
definition it replaced: a numpy pass per batch size over the rows in file order."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from zeus_gym.core.job import JobRows, job_from_rows
from zeus_gym.workloads import JobSpec

SPEC = JobSpec(dataset="d", network="n", optimizer="adam", target_metric=0.5, max_epochs=50, b0=64)


def definition(rows: JobRows, batch_sizes: np.ndarray) -> dict[str, np.ndarray]:
    power_limits = np.unique(rows.limit)
    num_b, num_p = len(batch_sizes), len(power_limits)
    feasible, time_per_epoch, average_power = np.zeros((num_b, num_p), bool), np.zeros((num_b, num_p)), np.zeros((num_b, num_p))
    power_rows = [rows.batch == b for b in batch_sizes]
    for i, mine in enumerate(power_rows):
        cols = np.searchsorted(power_limits, rows.limit[mine])
        feasible[i, cols] = True
        time_per_epoch[i, cols] = rows.time[mine]
        average_power[i, cols] = rows.power[mine]
    paths = [rows.run_epochs[rows.run_batch == b] for b in batch_sizes]
    num_paths = np.array([len(p) for p in paths], dtype=np.int64)
    target_epochs = np.full((num_b, num_paths.max()), np.nan)
    for i, p in enumerate(paths):
        target_epochs[i, : len(p)] = p
    profile_energy = np.array([np.tile(rows.time[m] * rows.power[m], n).mean() for m, n in zip(power_rows, num_paths)])
    profile_time = np.array([np.tile(rows.time[m], n).mean() for m, n in zip(power_rows, num_paths)])
    return dict(feasible=feasible, time_per_epoch=time_per_epoch, energy_per_epoch=time_per_epoch * average_power,
                batch_max_limit=np.array([rows.limit[m].max() for m in power_rows], dtype=np.float64),
                num_paths=num_paths, target_epochs=target_epochs, profile_energy=profile_energy, profile_time=profile_time)


@st.composite
def job_rows(draw: st.DrawFn) -> tuple[JobRows, np.ndarray]:
    batch_sizes = np.array(sorted(draw(st.sets(st.sampled_from([16, 32, 64, 128, 256, 512]), min_size=1, max_size=6)) | {64}))
    limits = sorted(draw(st.sets(st.integers(100, 300), min_size=1, max_size=9)))
    # Power rows: every batch size at a non-empty subset of the limits, shuffled into a file order.
    cells = [(b, p) for b in batch_sizes.tolist() for p in draw(st.sets(st.sampled_from(limits), min_size=1))]
    cells = draw(st.permutations(cells))
    runs = [(b, draw(st.one_of(st.just(np.nan), st.integers(1, 40).map(float))))
            for b in batch_sizes.tolist() for _ in range(draw(st.integers(1, 12)))]
    runs = draw(st.permutations(runs))
    values = st.floats(0.01, 1e4, allow_nan=False)
    runs[next(i for i, (b, _) in enumerate(runs) if b == 64)] = (64, 10.0)  # b0 reaches the target
    rows = JobRows(np.array([b for b, _ in runs]), np.array([e for _, e in runs]), np.array([b for b, _ in cells]),
                   np.array([p for _, p in cells]), np.array([draw(values) for _ in cells]), np.array([draw(values) for _ in cells]))
    return rows, batch_sizes


@settings(max_examples=150, deadline=None)
@given(job_rows())
def test_job_arrays_equal_the_per_batch_size_definition(case):
    rows, batch_sizes = case
    job = job_from_rows(rows, batch_sizes, SPEC, "a40", 64, float(rows.limit.max()), 0.5)
    for name, expected in definition(rows, batch_sizes).items():
        got = getattr(job, name)
        assert got.dtype == expected.dtype, name
        np.testing.assert_array_equal(got, expected, err_msg=name)
