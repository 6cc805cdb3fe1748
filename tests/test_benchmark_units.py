"""Benchmark building blocks without the simulator: grid parsing, the results file, the summary."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from zeus_gym.benchmark import COLUMNS, Case, Grid, parse_grid, read_results, summarize
from zeus_gym.benchmark.results import ConfigMismatch, ResultsWriter, agent_hashes, format_line, open_folder, write_sorted
from zeus_gym.benchmark.summary import markdown

GPUS = ("a40", "p100", "rtx6000", "v100")


def grid(**changes) -> Grid:
    options = dict(agents="zeus,default", workloads="squad,librispeech", gpus="a40", seeds="1-2", etas="0.5", betas="2")
    options.update(changes)
    return parse_grid(options["agents"], options["workloads"], options["gpus"], options["seeds"], options["etas"], options["betas"], GPUS)


def row(case: Case, ratio: float, over_oracle: float) -> dict:
    values = {name: 0 if parse is int else 0.0 for name, parse in COLUMNS.items() if name not in Case._fields}
    return {**case._asdict(), **values, "cost_over_default": ratio, "cost_over_oracle": over_oracle, "total_cost": 0.1 + 0.2, "beta": case.beta}


def test_lists_all_and_seed_ranges():
    full = parse_grid("all", "all", "all", "1-3,7,2", "0.5,1", "2,inf", GPUS)
    assert full.agents == ("zeus", "frugal", "default", "oracle", "grid", "random")
    assert full.workloads == ("cifar100", "imagenet", "squad", "librispeech", "movielens-1m", "sentiment140")
    assert full.gpus == GPUS and full.seeds == (1, 2, 3, 7) and full.etas == (0.5, 1.0) and full.betas == (2.0, math.inf)
    assert len(full.cases()) == 6 * 6 * 4 * 4 * 2 * 2
    small = grid(agents="zeus, my.module:Agent,zeus")
    assert small.agents == ("zeus", "my.module:Agent")
    # Grouped by job, so that a worker's cached env serves consecutive cases.
    assert [(c.workload, c.agent, c.seed) for c in small.cases()][:4] == [("squad", "zeus", 1), ("squad", "zeus", 2), ("squad", "my.module:Agent", 1), ("squad", "my.module:Agent", 2)]


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(workloads="squad,mnist"), "unknown workload 'mnist' in --workloads"),
        (dict(gpus="h100"), "unknown gpu 'h100' in --gpus: use a40, p100, rtx6000, v100 or all"),
        (dict(seeds="5-1"), "--seeds: '5-1' must be"),
        (dict(seeds="a"), "--seeds: 'a' is neither a seed nor a range a-b"),
        (dict(seeds=","), "--seeds needs at least one value"),
        (dict(seeds="1-1000000000"), "--seeds: '1-1000000000' gives 1,000,000,000 seeds, more than 10,000"),
        (dict(seeds="0-5,10000-20000"), "--seeds: '0-5,10000-20000' gives 10,007 seeds"),
        (dict(seeds="4294967296"), "--seeds: '4294967296' goes past the largest seed, 4294967295"),
        (dict(etas="2"), "--etas: 2.0 is not in [0, 1]"),
        (dict(betas="0"), "--betas: 0.0 is not > 0"),
        (dict(betas="nan"), "--betas: nan is not > 0"),
        (dict(betas="x"), "--betas: 'x' is not a comma-separated list of numbers"),
    ],
)
def test_bad_grids(changes, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        grid(**changes)


def test_grid_json_round_trip():
    original = grid(betas="2,inf")
    assert json.loads(json.dumps(original.to_json(), allow_nan=False))["betas"] == [2.0, "inf"]
    assert Grid.from_json(original.to_json()) == original


def test_rows_are_repr_exact_and_a_torn_line_is_cut(tmp_path):
    path = tmp_path / "results.csv"
    cases = grid().cases()
    rows = [row(case, 1 / 3 + i, math.pi * i) for i, case in enumerate(cases)]
    writer = ResultsWriter(path)
    for r in rows[:3]:
        writer.append(r)
    writer.close()
    assert read_results(path) == rows[:3]  # the same bits come back
    with open(path, "a") as file:  # a crash in the middle of a write
        file.write(format_line(rows[3])[:25])
    assert read_results(path) == rows[:3]
    assert read_results(path, repair=True) == rows[:3]
    assert path.read_text().endswith("\n")
    writer = ResultsWriter(path)
    writer.append(rows[3])
    writer.close()
    write_sorted(path, reversed(read_results(path)), cases)
    assert read_results(path) == rows[:4]
    with open(path, "a") as file:
        file.write(format_line(rows[0]))
    with pytest.raises(ValueError, match="twice"):
        read_results(path)


def test_a_folder_refuses_another_configuration(tmp_path):
    config = {**grid().to_json(), "zeus_gym_version": "0.1.0", "traces": {"summary_train.csv": "ab"}}
    assert open_folder(tmp_path, config) == config
    reordered = {**config, "seeds": [2, 1]}
    assert open_folder(tmp_path, reordered) == config  # the same cases: the folder's order is kept
    with pytest.raises(ConfigMismatch, match=r"seeds: \[1, 2\] there, \[1, 2, 3\] now\); .*new --output folder"):
        open_folder(tmp_path, {**config, "seeds": [1, 2, 3]})
    with pytest.raises(ConfigMismatch, match=r"the trace files differ \(SHA-256\)"):
        open_folder(tmp_path, {**config, "traces": {"summary_train.csv": "cd"}})
    with pytest.raises(ConfigMismatch, match=r"the agents' files differ \(SHA-256\)"):
        open_folder(tmp_path, {**config, "agent_files": {"my.py:Agent": "ef"}})
    (tmp_path / "config.json").unlink()
    (tmp_path / "results.csv").write_text("agent\n")
    with pytest.raises(ConfigMismatch, match="no config.json"):
        open_folder(tmp_path, config)


def test_summary_means_stds_and_regret():
    g = grid(seeds="1-3")
    ratios = {"zeus": [0.5, 0.6, 0.7], "default": [1.0, 1.1, 0.9]}
    rows = [row(case, ratios[case.agent][case.seed - 1] * (2 if case.workload == "squad" else 1), 1.1) for case in g.cases()]
    cells = {(c.workload, c.agent): c for c in summarize(rows, g)}
    zeus_squad = cells["squad", "zeus"]
    assert zeus_squad.seeds == 3 and zeus_squad.cost_over_default == pytest.approx(1.2)
    assert zeus_squad.std == pytest.approx(statistics.stdev([1.0, 1.2, 1.4]))
    assert zeus_squad.regret_pct == pytest.approx(10.0)
    overall = cells["all", "zeus"]
    assert overall.cost_over_default == pytest.approx((1.2 + 0.6) / 2)
    assert overall.std == pytest.approx(statistics.stdev([0.75, 0.9, 1.05]))  # of each seed's mean over pairs
    text = markdown(list(cells.values()), g)
    assert "| workload | GPU | zeus | default |" in text
    assert "| squad | a40 | 1.200 ± 0.200 (+10.0 %) | 2.000 ± 0.200 (+10.0 %) |" in text
    assert text.rstrip().splitlines()[-1].startswith("| **mean** | **all pairs** | **0.900 ± 0.150 (+10.0 %)**")


def test_regret_is_against_the_oracles_episodes_so_the_oracle_reads_zero():
    g = grid(agents="zeus,oracle", seeds="1-3")
    # The Oracle played below its expectation (over_oracle < 1): its regret must still be 0, not negative.
    ratios = {"zeus": [0.5, 0.6, 0.7], "oracle": [0.45, 0.5, 0.55]}
    rows = [row(case, ratios[case.agent][case.seed - 1], 0.97) for case in g.cases()]
    cells = {(c.workload, c.agent): c for c in summarize(rows, g)}
    for workload in ("squad", "librispeech", "all"):
        assert cells[workload, "oracle"].regret_pct == 0.0 and cells[workload, "oracle"].regret_vs == "oracle episodes"
        assert cells[workload, "zeus"].regret_pct == pytest.approx((0.6 / 0.5 - 1) * 100)
    text = markdown(list(cells.values()), g)
    assert "cost per recurrence / Default's expected cost per recurrence" in text
    assert "% above the Oracle's mean cost over the same seeds (its own regret is 0)" in text
    assert "| squad | a40 | 0.600 ± 0.100 (+20.0 %) | 0.500 ± 0.050 (+0.0 %) |" in text
    assert "-0.0 %" not in text and "(-" not in text


def test_one_seed_shows_no_spread():
    g = grid(seeds="4")
    rows = [row(case, 0.8, 1.25) for case in g.cases()]
    cells = summarize(rows, g)
    assert all(math.isnan(c.std) for c in cells)
    text = markdown(cells, g)
    assert "±" not in text and "one seed (no spread)" in text and "the Oracle's expected cost" in text
    assert "| squad | a40 | 0.800 (+25.0 %) | 0.800 (+25.0 %) |" in text


def test_agents_with_files_of_their_own_are_hashed(tmp_path):
    agent = tmp_path / "agent.py"
    agent.write_text("class A: pass\n")
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "model.zip").write_bytes(b"weights")
    specs = ["zeus", f"{agent}:A", f"sb3:{policy}", "zeus_gym.agents:ZeusAgent"]
    first = agent_hashes(specs)
    assert set(first) == set(specs[1:])  # built-in agents are zeus-gym's version
    agent.write_text("class A: x = 1\n")
    (policy / "model.zip").write_bytes(b"re-trained")
    second = agent_hashes(specs)
    assert all(first[spec] != second[spec] for spec in specs[1:3]) and first[specs[3]] == second[specs[3]]


def test_readme_quotes_the_generated_default_table():
    """The README's benchmark row is the generated summary's, not typed by hand."""
    root = Path(__file__).resolve().parents[1]
    summary = (root / "docs/benchmark/default/summary.md").read_text().splitlines()
    readme = (root / "README.md").read_text()
    for line in summary:
        if line.startswith(("| workload", "| **mean**")):
            assert line in readme
