"""Shared fixtures: where the upstream Zeus traces are, and how missing traces are treated.

The traces come from ZEUS_GYM_TRACE_DIR if set, else the way the product finds them (user cache,
then a verified download). Outside CI missing traces skip the tests that need them; in CI (``CI``
set) they fail them, so that a broken trace setup can never pass as a green run of skips.
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


def _zeus_trace_dir() -> Path | None:
    value = os.environ.get(TRACE_ENV_VAR)
    if not value:
        from zeus_gym.traces import TracesNotFoundError, resolve_trace_dir

        try:
            return resolve_trace_dir()
        except TracesNotFoundError:
            return None
    path = Path(value)
    return path if all((path / name).is_file() for name in REQUIRED_FILES) else None


@pytest.fixture(scope="session")
def zeus_trace_dir() -> Path:
    """The folder of the upstream Zeus NSDI'23 traces (from ZEUS_GYM_TRACE_DIR)."""
    path = _zeus_trace_dir()
    if path is None:
        message = (
            f"the Zeus traces are needed: set {TRACE_ENV_VAR} to a folder holding "
            f"{', '.join(REQUIRED_FILES)} (got {os.environ.get(TRACE_ENV_VAR)!r})"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path
