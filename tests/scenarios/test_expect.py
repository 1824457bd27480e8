"""scenarios/expect.py: a scenario's expect block against its recorded run."""

from __future__ import annotations

import dataclasses

from mini_engine.recording.recorder import record
from mini_engine.scenarios.expect import expect_differences, has_expectations
from mini_engine.scenarios.spec import Expect
from mini_engine.sources import open_scenario


def test_has_expectations():
    assert not has_expectations(None)
    assert not has_expectations(Expect())
    assert has_expectations(Expect(total_steps=3))
    assert has_expectations(Expect(num_preemptions=0))
    assert has_expectations(Expect(statuses={"a": "FINISHED_LENGTH"}))


def test_a_bundled_scenario_matches_its_expect_block():
    scenario = open_scenario("kv_preemption")
    assert has_expectations(scenario.expect)
    assert expect_differences(scenario, record(scenario)) == []


def test_every_difference_is_named():
    scenario = open_scenario("hello")
    rec = record(scenario)
    wrong = Expect(statuses={"req-0": "FINISHED_ABORTED"}, total_steps=rec.num_steps + 1,
                   num_preemptions=2)
    assert expect_differences(dataclasses.replace(scenario, expect=wrong), rec) == [
        "statuses.req-0: expected FINISHED_ABORTED, got FINISHED_LENGTH",
        f"total_steps: expected {rec.num_steps + 1}, got {rec.num_steps}",
        "num_preemptions: expected 2, got 0",
    ]
