"""Start-up stays light: the CLI, and the module the benchmark's fork server preloads, import
neither pandas (only parsing a trace needs it) nor the download stack (only `traces fetch`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("pandas", "pooch", "requests", "matplotlib", "torch", "stable_baselines3")


@pytest.mark.parametrize("module", ["zeus_gym", "zeus_gym.cli", "zeus_gym.benchmark.worker"])
def test_importing_loads_no_heavy_module(module):
    code = f"import sys, {module}; print(','.join(name for name in {HEAVY!r} if name in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""


def test_parsing_a_trace_still_finds_pandas(zeus_trace_dir):
    code = ("import sys; from zeus_gym.traces import load_trace_set; "
            f"print(len(load_trace_set({str(zeus_trace_dir)!r}).gpus), 'pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["4", "True"]
