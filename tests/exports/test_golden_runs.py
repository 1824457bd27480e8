"""Every bundled scenario's `mini-engine run NAME --format table`, pinned as reviewed text.

The tables were read by eye once (queues, why-waiting reasons, preemptions, finishes)
and are pinned here so any change in scheduling or in what the recording reports
shows up as a readable diff. Regenerate after an intended change with:

    for n in <names>; do mini-engine run $n --format table > tests/golden_runs/$n.txt; done

large_workload is pinned by its `expect` block (steps and preemptions) instead: its
table is 23k lines.
"""

from pathlib import Path

import pytest

from mini_engine.cli import main
from mini_engine.scenarios.catalog import bundled_names

GOLDEN = Path(__file__).parent / "golden_runs"
NAMES = [n for n in bundled_names() if n != "large_workload"]


def test_every_small_bundled_scenario_has_a_golden_table():
    assert sorted(p.stem for p in GOLDEN.glob("*.txt")) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_run_table_matches_the_reviewed_golden(name, capsys):
    assert main(["run", name, "--format", "table"]) == 0
    out = capsys.readouterr().out
    assert out == (GOLDEN / f"{name}.txt").read_text()
