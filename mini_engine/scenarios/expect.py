"""A scenario's `expect` block checked against its recorded run (`mini-engine check`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mini_engine.files.read import printable
from mini_engine.scenarios.spec import Expect, Scenario

if TYPE_CHECKING:  # the recording layer sits above scenarios: read, never imported
    from mini_engine.recording.store import Recording


def has_expectations(expect: Expect | None) -> bool:
    """True when the block expects anything at all (an empty block checks nothing)."""
    return expect is not None and bool(expect.statuses or expect.total_steps is not None
                                       or expect.num_preemptions is not None)


def expect_differences(scenario: Scenario, rec: Recording) -> list[str]:
    """What differs between a scenario's `expect` block and a (complete) recording of it,
    one `key: expected X, got Y` line each (a request id shown printable and short);
    empty when everything matches."""
    exp = scenario.expect
    final = rec.seek(rec.num_steps)
    diffs = []
    for rid, want in exp.statuses.items():
        got = final.status_name(rid)
        if got != want:
            diffs.append(f"statuses.{printable(rid, 100)}: expected {want}, got {got}")
    if exp.total_steps is not None and exp.total_steps != rec.num_steps:
        diffs.append(f"total_steps: expected {exp.total_steps}, got {rec.num_steps}")
    if exp.num_preemptions is not None:
        got = int(rec.summary().num_preemptions.sum())
        if got != exp.num_preemptions:
            diffs.append(f"num_preemptions: expected {exp.num_preemptions}, got {got}")
    return diffs
