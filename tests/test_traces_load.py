"""Parsing and validating trace files: the real upstream set, malformed copies, user traces."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeus_gym.traces import TracesNotFoundError, TraceValidationError, load_trace_set
from zeus_gym.traces.registry import DEFAULT_GPUS, power_file

TRAIN_COLUMNS = "dataset,network,batch_size,optimizer,learning_rate,run,target_metric,target_epoch"
POWER_COLUMNS = "dataset,network,batch_size,optimizer,power_limit,time_per_epoch,average_power"
TRAIN_ROWS = (
    "cifar100,shufflenetv2,1024,adadelta,1e-1,1,0.05,1",
    "cifar100,shufflenetv2,1024,adadelta,1e-1,1,0.1,nan",
    "cifar100,shufflenetv2,512,adadelta,1e-1,2,0.05,",
)
POWER_ROWS = (
    "cifar100,shufflenetv2,1024,adadelta,100,27.130000000000003,106.88881213499654",
    "cifar100,shufflenetv2,1024,adadelta,125,16.85,118.98703190840182",
    "cifar100,shufflenetv2,512,adadelta,100,20.5,99.5",
)


def _write(path: Path, header: str, rows: tuple[str, ...] | list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _make_folder(root: Path, train=TRAIN_ROWS, power=POWER_ROWS, gpu: str = "a40") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _write(root / "summary_train.csv", TRAIN_COLUMNS, train)
    _write(root / power_file(gpu), POWER_COLUMNS, power)
    return root


def _with_cell(header: str, rows: tuple[str, ...], row: int, column: str, value: str) -> list[str]:
    """Rows with one cell replaced."""
    cells = [line.split(",") for line in rows]
    cells[row][header.split(",").index(column)] = value
    return [",".join(line) for line in cells]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_real_traces_load_with_expected_shape_and_dtypes(zeus_trace_dir: Path) -> None:
    traces = load_trace_set(zeus_trace_dir)
    assert traces.root == zeus_trace_dir.resolve()
    assert traces.gpus == DEFAULT_GPUS
    assert isinstance(traces.power, MappingProxyType)
    train_text = _csv_rows(zeus_trace_dir / "summary_train.csv")
    assert len(traces.train) == len(train_text)
    assert traces.train["dataset"].tolist() == [row["dataset"] for row in train_text]
    assert int(traces.train["target_epoch"].isna().sum()) == sum(
        row["target_epoch"] == "nan" for row in train_text
    )
    for gpu in DEFAULT_GPUS:
        assert len(traces.power[gpu]) == len(_csv_rows(zeus_trace_dir / power_file(gpu)))
    for name in ("batch_size", "run"):
        assert traces.train[name].dtype == np.int64
    for name in ("learning_rate", "target_metric", "target_epoch"):
        assert traces.train[name].dtype == np.float64
    power = traces.power["v100"]
    assert [power[c].dtype for c in ("batch_size", "power_limit")] == [np.int64, np.int64]
    assert [power[c].dtype for c in ("time_per_epoch", "average_power")] == [np.float64] * 2
    assert all(isinstance(value, str) for value in power["optimizer"])


def test_real_trace_floats_are_correctly_rounded(zeus_trace_dir: Path) -> None:
    traces = load_trace_set(zeus_trace_dir)
    for gpu in traces.gpus:
        text = _csv_rows(zeus_trace_dir / power_file(gpu))
        for column in ("time_per_epoch", "average_power"):
            expected = [float(row[column]) for row in text]
            assert traces.power[gpu][column].tolist() == expected, (gpu, column)
    text = _csv_rows(zeus_trace_dir / "summary_train.csv")
    for column in ("learning_rate", "target_metric"):
        assert traces.train[column].tolist() == [float(row[column]) for row in text]


def test_parsed_once_per_file_state(zeus_trace_dir: Path, tmp_path: Path) -> None:
    folder = _make_folder(tmp_path / "t")
    first = load_trace_set(folder)
    assert load_trace_set(str(folder)) is first
    train = folder / "summary_train.csv"
    _write(train, TRAIN_COLUMNS, TRAIN_ROWS[:2])
    os.utime(train, ns=(1, 1))
    second = load_trace_set(folder)
    assert second is not first and len(second.train) == 2


def test_blank_values_mean_never_reached_and_extra_columns_are_kept(tmp_path: Path) -> None:
    rows = [row + f",note{i}" for i, row in enumerate(TRAIN_ROWS)]
    folder = _make_folder(tmp_path / "t", train=[])
    _write(folder / "summary_train.csv", TRAIN_COLUMNS + ",note", rows)
    traces = load_trace_set(folder)
    assert traces.train["target_epoch"].tolist()[0] == 1.0
    assert traces.train["target_epoch"].isna().tolist() == [False, True, True]
    assert traces.train["note"].tolist() == ["note0", "note1", "note2"]


def test_user_traces_with_a_custom_gpu(zeus_trace_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "summary_train.csv").write_bytes((zeus_trace_dir / "summary_train.csv").read_bytes())
    a40 = (zeus_trace_dir / "summary_power_a40.csv").read_text().splitlines()
    _write(folder / "summary_power_h100.csv", a40[0], a40[1:11])
    traces = load_trace_set(folder)
    assert traces.gpus == ("h100",)
    assert traces.power["h100"]["average_power"].tolist() == [
        float(line.split(",")[-1]) for line in a40[1:11]
    ]


ERROR_CASES = [
    # (file, row, column, value, problem)
    ("train", 0, "batch_size", "abc", "expected an integer"),
    ("train", 2, "batch_size", "12.5", "expected an integer"),
    ("train", 1, "batch_size", "0", "expected a positive value"),
    ("train", 1, "run", "1.5", "expected an integer"),
    ("train", 2, "dataset", "", "empty value"),
    ("train", 0, "learning_rate", "fast", "expected a number"),
    ("train", 1, "learning_rate", "", "empty value"),
    ("train", 2, "target_metric", "inf", "expected a finite number"),
    ("train", 1, "target_epoch", "0", "expected a positive value"),
    ("train", 0, "target_epoch", "-inf", "expected a finite number"),
    ("power", 0, "power_limit", "-100", "expected a positive value"),
    ("power", 1, "power_limit", "150.5", "expected an integer"),
    ("power", 2, "power_limit", "", "empty value"),
    ("power", 1, "time_per_epoch", "inf", "expected a finite number"),
    ("power", 2, "average_power", "nan", "expected a finite number"),
    ("power", 0, "average_power", "-3", "expected a positive value"),
    ("power", 1, "time_per_epoch", "0", "expected a positive value"),
    ("power", 0, "optimizer", "  ", "empty value"),
]


@pytest.mark.parametrize(("kind", "row", "column", "value", "problem"), ERROR_CASES)
def test_malformed_cell_names_file_column_line_and_value(
    tmp_path: Path, kind: str, row: int, column: str, value: str, problem: str
) -> None:
    if kind == "train":
        rows = _with_cell(TRAIN_COLUMNS, TRAIN_ROWS, row, column, value)
        folder = _make_folder(tmp_path, train=rows)
        name = "summary_train.csv"
    else:
        rows = _with_cell(POWER_COLUMNS, POWER_ROWS, row, column, value)
        folder = _make_folder(tmp_path, power=rows)
        name = "summary_power_a40.csv"
    with pytest.raises(TraceValidationError) as info:
        load_trace_set(folder)
    message = str(info.value)
    assert str(folder / name) in message
    assert f"column {column!r}, line {row + 2}:" in message
    assert problem in message and f"got {value!r}" in message


def test_blank_lines_do_not_shift_line_numbers(tmp_path: Path) -> None:
    bad = _with_cell(POWER_COLUMNS, POWER_ROWS, 2, "batch_size", "x")
    folder = _make_folder(tmp_path, power=[bad[0], "", bad[1], "", bad[2]])
    with pytest.raises(TraceValidationError, match="column 'batch_size', line 6:"):
        load_trace_set(folder)


def test_missing_columns_are_listed_with_those_found(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path)
    header = POWER_COLUMNS.replace(",power_limit", "").replace("average_power", "avg_power")
    _write(folder / "summary_power_a40.csv", header, ["cifar100,shufflenetv2,1024,adam,1.0,2.0"])
    with pytest.raises(TraceValidationError) as info:
        load_trace_set(folder)
    message = str(info.value)
    assert "summary_power_a40.csv" in message
    assert "missing column(s) power_limit, average_power" in message and "'avg_power'" in message


def test_duplicate_power_configuration_names_both_lines(tmp_path: Path) -> None:
    rows = [*POWER_ROWS, POWER_ROWS[1].replace(",16.85,", ",17.0,")]
    folder = _make_folder(tmp_path, power=rows)
    with pytest.raises(TraceValidationError, match=r"lines 3 and 5 both describe") as info:
        load_trace_set(folder)
    assert "summary_power_a40.csv" in str(info.value) and "power_limit=125" in str(info.value)


def test_duplicate_train_row_names_both_lines(tmp_path: Path) -> None:
    # Same run and target written differently ("0.10" vs "0.1") is still the same row.
    rows = [*TRAIN_ROWS, TRAIN_ROWS[1].replace(",0.1,nan", ",0.10,7")]
    folder = _make_folder(tmp_path, train=rows)
    with pytest.raises(TraceValidationError, match=r"summary_train\.csv: lines 3 and 5 both"):
        load_trace_set(folder)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "file is empty"),
        (TRAIN_COLUMNS + "\n", "no data rows"),
        ("a,b\n1,2,3\n", "more fields than the header"),
        ("a,b\n1,2\n1,2,3\n", "cannot be read as CSV"),
    ],
)
def test_empty_or_unreadable_file(tmp_path: Path, content: str, problem: str) -> None:
    folder = _make_folder(tmp_path)
    (folder / "summary_train.csv").write_text(content)
    with pytest.raises(TraceValidationError, match=problem):
        load_trace_set(folder)


def test_folder_without_power_files(tmp_path: Path) -> None:
    folder = _make_folder(tmp_path)
    (folder / "summary_power_a40.csv").unlink()
    with pytest.raises(TracesNotFoundError, match="summary_power_"):
        load_trace_set(folder)


# Within a power file, times and energies per epoch may span at most MAX_COST_SPREAD (1e20):
# beyond it the derived costs do not fit the float32 spaces (refused, see test_reliability_traces).
# Values in [1e-4, 1e5] keep energies within 1e18 of each other (1e-5 and 1e6 reached 1e21: refused).
finite_positive = st.floats(min_value=1e-4, max_value=1e5)
float_text = st.one_of(
    finite_positive.map(repr),
    finite_positive.map(lambda x: f"{x:.17e}"),
    finite_positive.map(lambda x: f"{x:.6g}"),
    st.integers(1, 10**5).map(str),
)


@settings(max_examples=40, deadline=None)
@given(
    cells=st.lists(st.tuples(float_text, float_text), min_size=1, max_size=20),
    bad_row=st.integers(0, 19),
)
def test_power_values_round_trip_exactly_and_bad_rows_are_located(
    cells: list[tuple[str, str]], bad_row: int
) -> None:
    rows = [f"d,n,8,adam,{100 + i},{t},{p}" for i, (t, p) in enumerate(cells)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = _make_folder(Path(tmp), power=rows)
        power = load_trace_set(folder).power["a40"]
        assert power["time_per_epoch"].tolist() == [float(t) for t, _ in cells]
        assert power["average_power"].tolist() == [float(p) for _, p in cells]
        bad_row %= len(rows)
        rows[bad_row] = rows[bad_row].rsplit(",", 1)[0] + ",-1"
        _write(folder / "summary_power_a40.csv", POWER_COLUMNS, rows)
        with pytest.raises(TraceValidationError, match=f"line {bad_row + 2}: expected a positive"):
            load_trace_set(folder)
