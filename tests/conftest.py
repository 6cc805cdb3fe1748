"""Shared fixtures: where the upstream Zeus traces are.

The traces are ZEUS_GYM_TRACE_DIR's if set, else the copy shipped in the package (the product's
own resolution). They are always there, so no test skips for want of them: a ZEUS_GYM_TRACE_DIR
that lacks files fails the tests that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TRACE_ENV_VAR = "ZEUS_GYM_TRACE_DIR"
REQUIRED_FILES = (
    "summary_train.csv",
    "summary_power_a40.csv",
    "summary_power_p100.csv",
    "summary_power_rtx6000.csv",
    "summary_power_v100.csv",
)


@pytest.fixture(scope="session")
def zeus_trace_dir() -> Path:
    """The folder of the upstream Zeus NSDI'23 traces ($ZEUS_GYM_TRACE_DIR, else the embedded copy)."""
    from zeus_gym.traces import resolve_trace_dir

    path = resolve_trace_dir()
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        pytest.fail(f"{TRACE_ENV_VAR}={os.environ.get(TRACE_ENV_VAR)!r} lacks {', '.join(missing)}: unset it to use the embedded traces")
    return path
