"""Group files: schema and validation, the synthetic generator, and the download of upstream's
Alibaba file verified by its git blob id (against a local HTTP server)."""

from __future__ import annotations

import lzma
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import zeus_gym.cluster.groups as groups_module
from zeus_gym.cluster.groups import (
    GroupTable, fetch_alibaba_groups, git_blob_sha1, group_seed, load_groups, locate_alibaba_groups, read_groups, validate_groups,
)
from zeus_gym.cluster.synth import DATASETS, synthesize_groups, write_groups
from zeus_gym.traces import TraceHashError, TracesNotFoundError, TraceValidationError
from zeus_gym.traces.registry import ALIBABA_FILE, ALIBABA_GIT_BLOB
from zeus_gym.traces.testing import closed_port_url, serve_folder

HEADER = "group,start_time,end_time,dataset,runtime_ratio\n"


def write(tmp_path: Path, text: str, name: str = "groups.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- git blob ids --------------------------------------------------------------------------------


def test_git_blob_sha1_is_what_git_computes(tmp_path):
    assert git_blob_sha1(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"  # git's empty blob
    data = b"group,start_time\nx,1.0\n" * 1000
    if shutil.which("git"):
        path = write(tmp_path, data.decode(), "blob.csv")
        out = subprocess.run(["git", "hash-object", str(path)], capture_output=True, text=True, check=True)
        assert git_blob_sha1(data) == out.stdout.strip()


# -- download verification -----------------------------------------------------------------------


@pytest.fixture
def isolated_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setattr(groups_module, "default_cache_dir", lambda: cache)
    monkeypatch.delenv("ZEUS_GYM_TRACE_DIR", raising=False)
    monkeypatch.delenv("ZEUS_GYM_TRACE_URL", raising=False)
    return cache


@pytest.fixture
def served(tmp_path):
    """A folder holding a (synthetic) alibaba_groups.csv.xz, and that file's git blob id."""
    folder = tmp_path / "served"
    folder.mkdir()
    path = write_groups(synthesize_groups(20, seed=3), folder / ALIBABA_FILE)
    return folder, git_blob_sha1(path.read_bytes())


def test_the_right_bytes_pass_and_are_cached(served, isolated_cache):
    folder, blob = served
    with serve_folder(folder) as mirror:
        path = fetch_alibaba_groups(base_url=mirror.url, expected_blob=blob)
    assert mirror.requests == [f"/{ALIBABA_FILE}"]
    assert path == (isolated_cache / ALIBABA_FILE).resolve()
    assert path.read_bytes() == (folder / ALIBABA_FILE).read_bytes()
    assert len(read_groups(path)) == len(synthesize_groups(20, seed=3))
    # A verified copy is not downloaded again: an unreachable mirror is fine.
    assert fetch_alibaba_groups(base_url=closed_port_url(), expected_blob=blob) == path


def test_altered_bytes_are_refused_and_not_kept(served, isolated_cache):
    folder, blob = served
    target = folder / ALIBABA_FILE
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with serve_folder(folder) as mirror, pytest.raises(TraceHashError, match=f"expected {blob}.*discarded") as error:
        fetch_alibaba_groups(base_url=mirror.url, expected_blob=blob)
    assert git_blob_sha1(bytes(data)) in str(error.value)
    assert not list(isolated_cache.glob("*")), "nothing may be kept of a refused download"


def test_anything_but_upstreams_file_is_refused_by_default(served, isolated_cache):
    folder, _ = served
    with serve_folder(folder) as mirror, pytest.raises(TraceHashError, match=ALIBABA_GIT_BLOB):
        fetch_alibaba_groups(base_url=mirror.url)
    with serve_folder(folder) as mirror, pytest.raises(TraceHashError, match=ALIBABA_GIT_BLOB):
        locate_alibaba_groups(base_url=mirror.url)
    assert not (isolated_cache / ALIBABA_FILE).exists()


def test_unreachable_or_missing_file_says_what_to_do(tmp_path, isolated_cache):
    with pytest.raises(TracesNotFoundError, match="could not download.*synth-groups"):
        fetch_alibaba_groups(base_url=closed_port_url())
    empty = tmp_path / "empty"
    empty.mkdir()
    with serve_folder(empty) as mirror, pytest.raises(TracesNotFoundError, match="HTTP 404"):
        fetch_alibaba_groups(base_url=mirror.url)
    with pytest.raises(TracesNotFoundError, match="downloading is off"):
        locate_alibaba_groups(download=False)


def test_a_local_copy_is_checked_too(served, tmp_path, isolated_cache):
    folder, _ = served  # a synthetic file under upstream's name is not upstream's file
    with pytest.raises(TraceHashError, match="not upstream's"):
        locate_alibaba_groups(trace_dir=folder)


# -- validation ----------------------------------------------------------------------------------


GOOD = HEADER + "g1,0,10,squad,1.0\ng1,5,20,squad,1.5\ng0,3,4.5,imagenet,0.5\n"


def test_a_valid_file_is_read_exactly(tmp_path):
    frame = read_groups(write(tmp_path, GOOD))
    assert frame["group"].tolist() == ["g1", "g1", "g0"]
    assert frame["end_time"].tolist() == [10.0, 20.0, 4.5]
    table = GroupTable(frame, "file")
    assert table.ids == ["g0", "g1"]  # sorted, as pandas' groupby
    assert table.group("g1").start.tolist() == [0.0, 5.0]
    assert table.group(0).dataset == "imagenet"
    assert table.rows("g1").index.tolist() == [0, 1]
    assert table.datasets == ["imagenet", "squad"]
    assert table.group("g1").seed == group_seed("g1")


@pytest.mark.parametrize(
    "text, message",
    [
        ("group,start_time,end_time,dataset\ng,0,1,squad\n", "missing column.*runtime_ratio"),
        (HEADER, "no data rows"),
        (HEADER + "g,0,abc,squad,1\n", "'end_time', line 2: expected a number"),
        (HEADER + "g,0,1,squad,1\ng,1,inf,squad,1\n", "'end_time', line 3: expected a finite number"),
        (HEADER + "g,0,1,squad,0\n", "'runtime_ratio', line 2: expected a positive value"),
        (HEADER + "g,0,1,squad,\n", "'runtime_ratio', line 2: empty value"),
        (HEADER + "g,0,1,mnist,1\n", "line 2: unknown dataset 'mnist'"),
        (HEADER + "g,5,4,squad,1\n", "line 2: end_time 4.0 is before start_time 5.0"),
        (HEADER + "g,0,1,squad,1\nh,0,1,squad,1\ng,2,3,imagenet,1\n", "line 4: group 'g' has dataset 'imagenet'.*'squad' at .*line 2"),
        (HEADER + "g,5,6,squad,1\ng,4,9,squad,1\n", "line 3: group 'g': start_time 4.0 is earlier"),
        (HEADER + " ,0,1,squad,1\n", "column 'group', line 2: empty value"),
    ],
)
def test_malformed_files_are_refused_with_the_line(tmp_path, text, message):
    with pytest.raises(TraceValidationError, match=message):
        read_groups(write(tmp_path, text))


def test_compressed_files_and_missing_files(tmp_path):
    path = tmp_path / "g.csv.xz"
    path.write_bytes(lzma.compress(GOOD.encode()))
    assert read_groups(path).equals(read_groups(write(tmp_path, GOOD)))
    with pytest.raises(TracesNotFoundError, match="no group file"):
        read_groups(tmp_path / "missing.csv")


def test_dataframes_are_validated_the_same_way():
    frame = pd.DataFrame({"group": ["a", "a"], "start_time": [0, 1], "end_time": [2, 3], "dataset": ["squad"] * 2, "runtime_ratio": [1, 2]})
    out = validate_groups(frame)
    assert out["start_time"].dtype == np.float64 and out["runtime_ratio"].tolist() == [1.0, 2.0]
    with pytest.raises(TraceValidationError, match="row 1: column 'runtime_ratio' needs a positive"):
        validate_groups(frame.assign(runtime_ratio=[1.0, -1.0]))
    with pytest.raises(TraceValidationError, match="column 'group' must be text"):
        validate_groups(frame.assign(group=[1, 1]))
    with pytest.raises(TraceValidationError, match="row 1: end_time"):
        validate_groups(frame.assign(end_time=[2.0, 0.5]))
    with pytest.raises(TraceValidationError, match="missing column"):
        validate_groups(frame.drop(columns="dataset"))
    with pytest.raises(ValueError, match="groups must be"):
        load_groups(3)


# -- the synthetic generator ---------------------------------------------------------------------


def test_synthetic_groups_are_seeded_valid_and_overlap():
    frame = synthesize_groups(300, seed=5)
    assert frame.equals(synthesize_groups(300, seed=5))
    assert not frame.equals(synthesize_groups(300, seed=6))
    table = GroupTable(validate_groups(frame), "synthetic")
    assert len(table) == 300 and all(gid.startswith("syn5-") for gid in table.ids)
    assert set(frame["dataset"]) == set(DATASETS)
    sizes = frame.groupby("group").size()
    assert sizes.min() >= 2 and sizes.max() <= 15
    assert np.allclose(frame.groupby("dataset")["runtime_ratio"].mean(), 1.0)
    duration = frame["end_time"] - frame["start_time"]
    assert np.allclose(frame["runtime_ratio"] / duration, (1 / duration.groupby(frame["dataset"]).transform("mean")))
    overlapping = total = 0
    for _, rows in frame.groupby("group"):
        start, end = rows["start_time"].to_numpy(), rows["end_time"].to_numpy()
        overlapping += sum(start[k] < end[:k].max() for k in range(1, len(start)))
        total += len(start) - 1
    assert 0.3 < overlapping / total < 0.8


def test_every_dataset_appears_with_six_groups_and_sizes_are_bounded():
    assert set(synthesize_groups(6, seed=0)["dataset"]) == set(DATASETS)
    sizes = synthesize_groups(50, seed=1, min_size=3, max_size=4).groupby("group").size()
    assert set(sizes) <= {3, 4}
    for bad in (dict(n=0), dict(n=3, min_size=5, max_size=4)):
        with pytest.raises(ValueError):
            synthesize_groups(**{"seed": 0, **bad})


@pytest.mark.parametrize("name", ["g.csv", "g.csv.xz"])
def test_written_groups_read_back_bit_for_bit(tmp_path, name):
    frame = synthesize_groups(40, seed=2)
    back = read_groups(write_groups(frame, tmp_path / name))
    pd.testing.assert_frame_equal(back, frame, check_exact=True, check_dtype=False)
    assert load_groups(tmp_path / name).ids == load_groups(frame).ids


def test_upstreams_file_is_found_in_the_trace_folder_then_the_cache(served, tmp_path, isolated_cache, monkeypatch, zeus_trace_dir):
    from zeus_gym.cluster import ClusterTraceEnv
    from zeus_gym.traces.testing import copy_traces

    folder, blob = served
    monkeypatch.setattr(groups_module, "ALIBABA_GIT_BLOB", blob)  # pretend the served file is upstream's
    traces = copy_traces(zeus_trace_dir, tmp_path / "traces")
    shutil.copyfile(folder / ALIBABA_FILE, traces / ALIBABA_FILE)
    assert locate_alibaba_groups(trace_dir=traces, download=False) == (traces / ALIBABA_FILE).resolve()
    env = ClusterTraceEnv("alibaba", gpu="v100", trace_dir=traces)
    assert env.groups.ids == load_groups(folder / ALIBABA_FILE).ids
    # Not in the trace folder: the cache, else a download into it.
    with serve_folder(folder) as mirror:
        assert locate_alibaba_groups(base_url=mirror.url) == (isolated_cache / ALIBABA_FILE).resolve()
    assert locate_alibaba_groups(download=False) == (isolated_cache / ALIBABA_FILE).resolve()
