"""The README's vector-env and training snippets run as written (with fewer steps)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


@pytest.mark.parametrize("section", ["Many environments at once"])
def test_snippets_run(zeus_trace_dir, section):
    blocks = python_blocks(section)
    assert len(blocks) >= 2
    for block in blocks:
        block = block.replace("learn(20_000, progress_bar=True)", "learn(512)")  # the step count only
        exec(compile(block, f"README:{section}", "exec"), {})


def test_held_out_results_are_quoted_from_the_generated_report():
    generated = (README.parent / "docs" / "training" / "held_out" / "README.md").read_text()
    rows = [line for line in generated.splitlines() if line.startswith("| **mean over folds**")]
    assert len(rows) == 2  # one per protocol
    readme = README.read_text()
    for protocol, row in zip(("workload", "GPU"), rows):
        means = re.findall(r"\*\*(\d+\.\d+)\*\*", row)
        assert len(means) == 7  # learned, cloned, final, frugal, zeus, default, oracle
        assert f"| leave one {protocol} out | " + " | ".join(means) + " |" in readme


def test_the_seeds_table_is_quoted_from_the_generated_file():
    generated = (README.parent / "docs" / "training" / "held_out_seeds.md").read_text()
    rows = [line for line in generated.splitlines() if line.startswith("| **mean over folds**")]
    assert len(rows) == 2  # one per protocol
    seeds = re.search(r"with `--seed` ([\d, ]+)\n", generated).group(1).split(", ")
    assert len(seeds) >= 2
    readme = README.read_text()
    for protocol, row in zip(("workload", "GPU"), rows):
        means = re.findall(r"\*\*(\d+\.\d+)\*\*", row)
        assert len(means) == len(seeds) + 3  # learned with each training seed, their mean, frugal, zeus
        assert f"| leave one {protocol} out | " + " | ".join(means) + " |" in readme
