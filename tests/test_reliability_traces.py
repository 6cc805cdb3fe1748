"""Hostile trace files and downloads (issue 12, part 2): each is refused by a one-line
TraceValidationError (or TracesNotFoundError for a folder) naming the file, fast, never a hang."""

from __future__ import annotations

import os
import tempfile
import threading
import warnings
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeus_gym.traces import TraceHashError, TracesNotFoundError, TraceValidationError, fetch_traces, load_trace_set
from zeus_gym.traces.load import TraceFileIgnored
from zeus_gym.traces.parse import MAX_COLUMNS, MAX_COST_SPREAD, MAX_HEADER_BYTES
from zeus_gym.traces.registry import REGISTRY, TRAIN_FILE

TRAIN_HEADER = "dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch"
POWER_HEADER = "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power"
TRAIN = [
    "squad,bert,8,adamw,1e-5,1,84.0,2",
    "squad,bert,8,adamw,1e-5,2,84.0,3",
    "squad,bert,16,adamw,1e-5,1,84.0,3",
    "squad,bert,16,adamw,1e-5,2,84.0,",
]
POWER = [
    "squad,bert,8,adamw,100,30.5,95.25",
    "squad,bert,8,adamw,150,21.0,140.5",
    "squad,bert,16,adamw,100,20.0,98.0",
    "squad,bert,16,adamw,150,15.75,145.0",
]


def toy_folder(root: Path, train: list[str] | None = None, power: list[str] | None = None,
               train_header: str = TRAIN_HEADER, power_header: str = POWER_HEADER) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / TRAIN_FILE).write_text("\n".join([train_header, *(TRAIN if train is None else train)]) + "\n")
    (root / "summary_power_a40.csv").write_text("\n".join([power_header, *(POWER if power is None else power)]) + "\n")
    return root


def refused(folder: Path, error: type[Exception] = TraceValidationError) -> str:
    with pytest.raises(error) as info:
        load_trace_set(folder)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_the_toy_folder_is_valid_and_makes_an_env(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    assert load_trace_set(folder).gpus == ("a40",)
    spec = {"dataset": "squad", "network": "bert", "optimizer": "adamw", "target_metric": 84.0, "max_epochs": 6, "b0": 16}
    env = gym.make("ZeusGym/RecurringJob-v2", workload=spec, gpu="a40", trace_dir=folder)
    env.reset(seed=0)
    env.step(env.action_space.sample())


# -- the header --------------------------------------------------------------------------------


def test_a_200000_column_header_is_refused_at_once_naming_the_file(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    header = ",".join(f"c{i}" for i in range(200_000))  # 1.2 MB on one line: pandas took > 300 s
    assert len(header) > 1_000_000
    (folder / TRAIN_FILE).write_text(header + "\n" + ",".join("1" * 10) + "\n")
    message = refused(folder)
    assert str(folder / TRAIN_FILE) in message and f"header line is longer than {MAX_HEADER_BYTES} bytes" in message


def test_a_header_wider_than_the_bound_is_refused(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path, train_header=",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)))
    assert f"more than {MAX_COLUMNS} columns" in refused(folder)


def test_rows_far_wider_than_any_trace_are_refused_before_pandas(tmp_path: Path) -> None:
    # 200 rows of 50,000 fields (20 MB): pandas' own check took over 20 s to say so.
    folder = toy_folder(tmp_path, train=[*TRAIN[:2], *(["1," * 50_000] * 200)])
    message = refused(folder)
    assert f"{folder / TRAIN_FILE}: line 4 has more than {MAX_COLUMNS} fields" in message


def test_a_file_with_carriage_return_line_ends_loads(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    for name in (TRAIN_FILE, "summary_power_a40.csv"):
        path = folder / name
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    traces = load_trace_set(folder)
    assert len(traces.train) == len(TRAIN) and len(traces.power["a40"]) == len(POWER)


def test_a_duplicated_header_name_is_refused_not_renamed(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path, power_header=POWER_HEADER + ",power_limit", power=[row + ",200" for row in POWER])
    message = refused(folder)
    assert str(folder / "summary_power_a40.csv") in message
    assert "column name 'power_limit' appears twice (columns 5 and 8)" in message


def test_an_unnamed_header_column_is_refused(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path, power_header=POWER_HEADER + ",", power=[row + ",x" for row in POWER])
    assert "column 8 has no name" in refused(folder)


# -- cells --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("learning_rate", "9_46.5", "expected a number (a plain decimal literal"),  # Python: 946.5
        ("learning_rate", "0x10", "expected a number"),
        ("learning_rate", "\u0661\u0662", "expected a number"),  # Arabic-Indic digits: float() takes them
        ("learning_rate", "1e5e5", "expected a number"),
        ("batch_size", "1_6", "expected an integer"),  # int() takes it
        ("batch_size", "\uff11\uff16", "expected an integer"),  # full-width 16
        ("target_epoch", "2.5", "expected a whole number"),
        ("target_epoch", "2.000001", "expected a whole number"),
    ],
)
def test_numbers_must_be_plain_decimal_literals_and_epochs_whole(tmp_path: Path, column: str, value: str, problem: str) -> None:
    cells = TRAIN[1].split(",")
    cells[TRAIN_HEADER.split(",").index(column)] = value
    folder = toy_folder(tmp_path, train=[TRAIN[0], ",".join(cells), *TRAIN[2:]])
    message = refused(folder)
    assert f"{folder / TRAIN_FILE}: column {column!r}, line 3: {problem}" in message and repr(value) in message


@pytest.mark.parametrize("value", ["2", "2.0", "2e0", " 3 ", "nan", ""])
def test_whole_epochs_in_any_plain_spelling_and_missing_ones_load(tmp_path: Path, value: str) -> None:
    folder = toy_folder(tmp_path, train=[TRAIN[0].rsplit(",", 1)[0] + f",{value}", *TRAIN[1:]])
    epoch = load_trace_set(folder).train["target_epoch"].iloc[0]
    if value.strip() in ("", "nan"):
        assert epoch != epoch  # NaN: never reached
    else:
        assert epoch == float(value)


@pytest.mark.parametrize(
    ("row", "time", "power", "problem"),
    [
        (2, "1e-300", "98.0", "time_per_epoch 1e-300 is more than 1e+20 times smaller than on line 2"),
        (1, "1e300", "98.0", "time_per_epoch 1e+300 is more than 1e+20 times larger"),
        (3, "30.0", "1e-30", "energy per epoch (time_per_epoch x average_power) 3e-29 is more than 1e+20 times smaller"),
        (0, "1e200", "1e200", "energy per epoch (time_per_epoch x average_power) is inf, which overflows"),
        (1, "1e-200", "1e-200", "energy per epoch (time_per_epoch x average_power) is 0.0, which underflows"),
    ],
)
def test_costs_beyond_what_the_float32_spaces_hold_are_refused_at_load(
    tmp_path: Path, row: int, time: str, power: str, problem: str
) -> None:
    rows = list(POWER)
    rows[row] = ",".join([*rows[row].split(",")[:5], time, power])
    folder = toy_folder(tmp_path, power=rows)
    message = refused(folder)
    assert f"{folder / 'summary_power_a40.csv'}: line {row + 2}:" in message and problem in message


def test_the_widest_allowed_spread_still_builds_valid_spaces(tmp_path: Path) -> None:
    # Just inside MAX_COST_SPREAD: loads, and the env's spaces hold its observations.
    low, high = 1e-9, 9e10
    rows = list(POWER)
    rows[3] = ",".join([*rows[3].split(",")[:5], repr(low), "145.0"])
    rows[0] = ",".join([*rows[0].split(",")[:5], repr(high), "95.25"])
    folder = toy_folder(tmp_path, power=rows)
    assert MAX_COST_SPREAD / 2 < high / low < MAX_COST_SPREAD
    spec = {"dataset": "squad", "network": "bert", "optimizer": "adamw", "target_metric": 84.0, "max_epochs": 6, "b0": 16}
    env = gym.make("ZeusGym/RecurringJob-v2", workload=spec, gpu="a40", trace_dir=folder)
    obs, _ = env.reset(seed=0)
    for _ in range(20):
        assert env.observation_space.contains(obs)
        obs, _, terminated, _, _ = env.step(env.action_space.sample())
        if terminated:
            break


# -- file names and kinds ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["summary_power_a40.bak.csv", "summary_power_.csv", "summary_power_A40.csv", "summary_power_a 40.csv"])
def test_files_whose_name_makes_no_gpu_are_ignored_by_name(tmp_path: Path, name: str) -> None:
    folder = toy_folder(tmp_path)
    (folder / name).write_text((folder / "summary_power_a40.csv").read_text())
    with pytest.warns(TraceFileIgnored, match=f"ignored {name}: .* is not a GPU name"):
        traces = load_trace_set(folder)
    assert traces.gpus == ("a40",)
    assert name in traces.ignored and "a-z, 0-9" in traces.ignored[name]


def test_a_folder_with_only_misnamed_power_files_says_which_were_ignored(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / "summary_power_a40.csv").rename(folder / "summary_power_a40.bak.csv")
    message = refused(folder, TracesNotFoundError)
    assert "lacks any summary_power_<gpu>.csv" in message and "summary_power_a40.bak.csv was ignored" in message


def test_a_valid_gpu_name_loads_without_warning(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / "summary_power_h100-sxm_80gb.csv").write_text((folder / "summary_power_a40.csv").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error", TraceFileIgnored)
        assert load_trace_set(folder).gpus == ("a40", "h100-sxm_80gb")


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_train_file_symlinked_to_dev_zero_is_said_to_be_one(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / TRAIN_FILE).unlink()
    (folder / TRAIN_FILE).symlink_to("/dev/zero")
    message = refused(folder, TracesNotFoundError)
    assert f"{TRAIN_FILE} (it is a symlink to /dev/zero, a character device, not a regular file)" in message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_power_file_symlinked_to_dev_zero_is_refused_not_read(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / "summary_power_v100.csv").symlink_to("/dev/zero")
    message = refused(folder)
    assert f"{folder / 'summary_power_v100.csv'}: is a symlink to /dev/zero, a character device, not a regular file" in message


def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    os.mkfifo(folder / "summary_power_v100.csv")  # opening it to read would wait for a writer forever
    assert "is a named pipe, not a regular file" in refused(folder)


def test_a_folder_named_like_a_power_file_is_refused(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / "summary_power_v100.csv").mkdir()
    assert "summary_power_v100.csv: is a folder" in refused(folder)


def test_a_broken_symlink_is_said_to_be_one(tmp_path: Path) -> None:
    folder = toy_folder(tmp_path)
    (folder / "summary_power_v100.csv").symlink_to(tmp_path / "nowhere.csv")
    assert "is a broken symlink" in refused(folder)


# -- downloads -----------------------------------------------------------------------------------


@contextmanager
def hostile_mirror(announce: bool) -> Iterator[tuple[str, list[int]]]:
    """A mirror that answers every file with an endless stream of bytes (announcing 314 MB in
    Content-Length if `announce`); yields its URL and the bytes it managed to send per request."""
    sent: list[int] = []

    class Endless(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            if announce:
                self.send_header("Content-Length", str(314 * 1024 * 1024))
            self.end_headers()
            count, block = 0, b"x" * 65536
            try:
                while count < 314 * 1024 * 1024:
                    self.wfile.write(block)
                    count += len(block)
            except ConnectionError:  # the client hung up: what we want
                pass
            sent.append(count)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", sent
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("announce", [True, False], ids=["announced", "unannounced"])
def test_a_download_stops_at_the_pinned_size(tmp_path: Path, announce: bool) -> None:
    dest = tmp_path / "dest"
    with hostile_mirror(announce) as (url, sent):
        with pytest.raises(TraceHashError) as info:
            fetch_traces(dest, base_url=url)
    message = str(info.value)
    first = next(iter(REGISTRY))
    pinned = REGISTRY[first]
    assert first in message and f"{pinned.size} bytes" in message and pinned.sha256 in message
    assert ("announced as" in message) if announce else ("stopped after" in message)
    # Nothing is kept, and nothing near 314 MB was ever written.
    assert not dest.exists() or [path.name for path in dest.iterdir()] == []


# -- exact parsing over the whole float range (where no cost range applies) -----------------------

wide = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.tuples(wide, st.sampled_from(["repr", ".17e", ".6g"])), min_size=1, max_size=12))
def test_learning_rates_round_trip_exactly_over_the_whole_float_range(values: list[tuple[float, str]]) -> None:
    texts = [repr(x) if style == "repr" else format(x, style) for x, style in values]
    rows = [f"squad,bert,{8 * (i + 1)},adamw,{text},1,84.0,2" for i, text in enumerate(texts)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = toy_folder(Path(tmp), train=rows)
        assert load_trace_set(folder).train["learning_rate"].tolist() == [float(text) for text in texts]
