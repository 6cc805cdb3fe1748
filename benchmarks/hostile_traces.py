"""How fast hostile trace files are refused, next to parsing the real summary_train.csv (187 KB,
valid) in the same run: a 1.2 MB header of 200,000 columns (which took pandas over 300 s before
the header was bounded), a header of MAX_COLUMNS + 1 columns, 20 MB of rows with 50,000 fields.

    ZEUS_GYM_TRACE_DIR=... python benchmarks/hostile_traces.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from zeus_gym.traces import TraceValidationError, resolve_trace_dir
from zeus_gym.traces.parse import MAX_COLUMNS, TRAIN_SCHEMA, read_trace_csv
from zeus_gym.traces.registry import TRAIN_FILE


def seconds(path: Path, repeat: int = 3) -> tuple[float, str]:
    """Best of `repeat` parses of one file, and how it ended."""
    best, outcome = float("inf"), ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            read_trace_csv(path, TRAIN_SCHEMA)
            outcome = "loaded"
        except TraceValidationError as error:
            outcome = str(error).split(": ", 1)[1][:70]
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    real = resolve_trace_dir() / TRAIN_FILE
    header = real.read_text().splitlines()[0]
    reference, _ = seconds(real)
    print(f"reference: parsing the real {TRAIN_FILE}: {reference * 1e3:.1f} ms")
    cases = {
        "200,000-column header (1.2 MB)": ",".join(f"c{i}" for i in range(200_000)) + "\n1,2\n",
        f"{MAX_COLUMNS + 1}-column header": ",".join(f"c{i}" for i in range(MAX_COLUMNS + 1)) + "\n1\n",
        "200 rows of 50,000 fields (20 MB)": header + "\n" + ("1," * 50_000 + "\n") * 200,
        "a repeated header name": header + ",run\n" + "x\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / TRAIN_FILE
        for label, text in cases.items():
            path.write_text(text)
            took, outcome = seconds(path)
            print(f"{label}: refused in {took * 1e3:.2f} ms = {took / reference:.4f} x the reference ({outcome})")


if __name__ == "__main__":
    main()
