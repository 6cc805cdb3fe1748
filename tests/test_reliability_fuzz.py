"""Fuzzed trace files: random deletions, duplications and edits of cells, header names and lines of
small valid files (a toy, and an excerpt of the real traces). Loading either succeeds, and then
the frames and the job built from them pass every invariant, or fails with a one-line
TraceValidationError naming the file; never another exception, never a hang (hypothesis'
deadline bounds each example)."""

from __future__ import annotations

import math
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zeus_gym.core.job import JobSpecError
from zeus_gym.envs import RecurringJobEnv
from zeus_gym.traces import TraceValidationError, load_trace_set
from zeus_gym.traces.parse import POWER_SCHEMA, TRAIN_SCHEMA
from zeus_gym.traces.registry import TRAIN_FILE
from zeus_gym.workloads import JobSpec

from test_reliability_traces import POWER, POWER_HEADER, TRAIN, TRAIN_HEADER

POWER_NAME = "summary_power_a40.csv"
TOY_SPEC = JobSpec("squad", "bert", "adamw", 84.0, 6, 16)
REAL_SPEC = JobSpec("squad", "bert_base_uncased", "adamw", 84.0, 6, 32)


@pytest.fixture(scope="module")
def sources(zeus_trace_dir: Path) -> dict[str, tuple[JobSpec, list[str], list[str]]]:
    """Valid starting files: the toy, and squad on the A40 cut from the real traces (three batch
    sizes, three power limits, every run), as lines."""

    def excerpt(path: Path, keep: callable) -> list[str]:
        lines = path.read_text().splitlines()
        header = lines[0].split(",")
        return [lines[0], *(line for line in lines[1:] if keep(dict(zip(header, line.split(",")))))]

    def ours(row: dict[str, str]) -> bool:
        return (row["dataset"], row["network"], row["optimizer"]) == ("squad", "bert_base_uncased", "adamw") and row["batch_size"] in ("16", "32", "64")

    train = excerpt(zeus_trace_dir / TRAIN_FILE, lambda row: ours(row) and row["target_metric"] == "84.0")
    power = excerpt(zeus_trace_dir / POWER_NAME, lambda row: ours(row) and row["power_limit"] in ("200", "250", "300"))
    return {"toy": (TOY_SPEC, [TRAIN_HEADER, *TRAIN], [POWER_HEADER, *POWER]), "real": (REAL_SPEC, train, power)}


# Plausible values (so that many fuzzed files still load and their jobs get played) and hostile ones.
PLAUSIBLE = st.one_of(st.floats(1e-3, 1e4).map(repr), st.integers(1, 300).map(str), st.sampled_from(["16", "32", "64", "84.0", "nan", ""]))
TOKENS = st.one_of(
    PLAUSIBLE,
    PLAUSIBLE,
    st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "-1", "0", "1", "2.5", "1e-300", "1e300", "1e-30", "9_46.5", "0x10", "abc",
                     "\u0661", "\uff11", "\x00", '"', '""', '"a,b"', "a,b", "\r", "9" * 30, "squad", "power_limit", "batch_size",
                     "target_epoch", "1e5e5", "+3", " 7 "]),
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)


@st.composite
def mutations(draw: st.DrawFn) -> list[tuple]:
    """A few edits, each (file, (operation, arguments...)); indices are taken modulo the sizes.
    Half the examples are gentle (plausible values in data cells, data lines deleted or
    repeated: many still load, so the invariants of loaded jobs get exercised), half hostile."""
    index = st.integers(0, 10**6)
    if draw(st.booleans()):
        data_line = st.integers(1, 10**6)
        gentle = st.one_of(
            st.tuples(st.just("edit_cell"), data_line, index, PLAUSIBLE),
            st.tuples(st.just("delete_line"), data_line),
            st.tuples(st.just("duplicate_line"), data_line, data_line),
        )
        return draw(st.lists(st.tuples(st.sampled_from(["train", "power"]), gentle), min_size=1, max_size=3))
    cell_edit = st.tuples(st.just("edit_cell"), index, index, TOKENS)
    edit = st.one_of(
        cell_edit,
        cell_edit,
        st.tuples(st.just("delete_line"), index),
        st.tuples(st.just("duplicate_line"), index, index),
        st.tuples(st.just("swap_lines"), index, index),
        st.tuples(st.just("delete_cell"), index, index),
        st.tuples(st.just("duplicate_cell"), index, index),
        st.tuples(st.just("edit_header"), index, TOKENS),
        st.tuples(st.just("insert_line"), index, TOKENS),
        st.tuples(st.just("truncate"), index),
    )
    return draw(st.lists(st.tuples(st.sampled_from(["train", "power"]), edit), min_size=1, max_size=4))


def apply(lines: list[str], edit: tuple) -> list[str]:
    """One edit of a file's lines (the header is line 0)."""
    lines = list(lines)
    op, *args = edit
    if not lines:
        return [args[-1]] if op in ("insert_line", "edit_cell", "edit_header") else lines
    pick = lambda i, n: i % max(n, 1)  # noqa: E731
    if op == "delete_line":
        del lines[pick(args[0], len(lines))]
    elif op == "duplicate_line":
        lines.insert(pick(args[1], len(lines) + 1), lines[pick(args[0], len(lines))])
    elif op == "edit_cell" and args[0] >= 1 and len(lines) > 1:  # a data cell (gentle edits ask for one)
        cells = lines[1 + (args[0] - 1) % (len(lines) - 1)].split(",")
        cells[pick(args[1], len(cells))] = args[2]
        lines[1 + (args[0] - 1) % (len(lines) - 1)] = ",".join(cells)
    elif op == "swap_lines":
        i, j = pick(args[0], len(lines)), pick(args[1], len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op in ("delete_cell", "duplicate_cell", "edit_cell", "edit_header"):
        row = 0 if op == "edit_header" else pick(args[0], len(lines))
        cells = lines[row].split(",")
        k = pick(args[-2] if op != "edit_header" else args[0], len(cells))
        if op == "delete_cell":
            del cells[k]
        elif op == "duplicate_cell":
            cells.insert(k, cells[k])
        else:
            cells[k] = args[-1]
        lines[row] = ",".join(cells)
    elif op == "insert_line":
        lines.insert(pick(args[0], len(lines) + 1), args[1])
    elif op == "truncate":  # a torn file: cut inside the text
        text = "\n".join(lines)
        lines = text[: pick(args[0], len(text) + 1)].split("\n")
    return lines


def check_frames(traces) -> None:
    """Every invariant the loader promises about the parsed frames."""
    for frame, schema in [(traces.train, TRAIN_SCHEMA), *((power, POWER_SCHEMA) for power in traces.power.values())]:
        assert len(frame) > 0
        assert not frame.duplicated(subset=list(schema.key)).any()
        for name, column in schema.columns.items():
            values = frame[name]
            if column.kind == "text":
                assert values.str.strip().ne("").all()
                continue
            array = values.to_numpy(dtype=np.float64)
            present = ~np.isnan(array) if column.optional else np.ones(len(array), bool)
            assert np.isfinite(array[present]).all()
            if column.positive:
                assert (array[present] > 0).all()
            if column.kind == "int" or column.whole:
                assert (array[present] == np.floor(array[present])).all()
            if column.kind == "int":
                assert values.dtype == np.int64


def check_job(spec: JobSpec, folder: Path) -> None:
    """The job builds (or is refused by name: its rows may be gone) and plays within its spaces."""
    try:
        env = RecurringJobEnv(workload=spec, gpu="a40", trace_dir=folder, num_recurrences=4)
    except JobSpecError as error:
        assert "\n" not in str(error)
        event("loaded; the job is refused (JobSpecError)")
        return
    except ValueError as error:
        # Values the file format allows but the observation's fixed feature scales do not
        # (a power limit above 1000 W, a batch size above 65536): refused by job, in one line.
        assert "\n" not in str(error) and spec.describe() in str(error) and "feature scales" in str(error), error
        event("loaded; the job is refused (beyond the feature scales)")
        return
    event("loaded; the job plays")
    params = env.params
    assert np.isfinite(params.default_cost).all() and (params.default_cost > 0).all()
    assert np.isfinite(params.max_run_cost).all()
    obs, _ = env.reset(seed=0)
    for _ in range(12):
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert math.isfinite(reward) and reward <= 0
        assert math.isfinite(info["energy"]) and info["energy"] >= 0 and math.isfinite(info["time"]) and info["time"] >= 0
        assert float(info["epochs"]).is_integer()
        if terminated or truncated:
            break


@settings(max_examples=300, deadline=timedelta(seconds=5), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(["toy", "real"]), edits=mutations(), binary=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=40)))
def test_fuzzed_trace_files_load_valid_or_fail_naming_the_file(sources, source: str, edits: list[tuple], binary: bytes | None) -> None:
    spec, train, power = sources[source]
    files = {"train": train, "power": power}
    for which, edit in edits:
        files[which] = apply(files[which], edit)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = {"train": folder / TRAIN_FILE, "power": folder / POWER_NAME}
        for which, lines in files.items():
            data = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
            if binary is not None and which == edits[0][0]:
                data = data[: len(data) // 2] + binary + data[len(data) // 2:]  # raw bytes, maybe not UTF-8
            paths[which].write_bytes(data)
        try:
            traces = load_trace_set(folder)
        except TraceValidationError as error:
            message = str(error)
            assert "\n" not in message, message
            assert any(str(path) in message for path in paths.values()), message
            event(f"refused: {message.split(': ', 2)[1].split(',')[0][:40]}")
            return
        check_frames(traces)
        check_job(spec, folder)
