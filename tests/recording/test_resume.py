"""Resuming a recorded run at any step: the engine picks up exactly where the recording was."""

from __future__ import annotations

import pytest

from mini_engine.recording.jsonl import load_jsonl, save_jsonl, step_dict
from mini_engine.recording.recorder import SNAPSHOT_STEPS, emitted_frames, record, resume_at
from mini_engine.scenarios.catalog import bundled_names, resolve_scenario
from mini_engine.scenarios.loader import load_scenario

SMALL = [n for n in bundled_names() if n != "large_workload"]


def _lines(scenario, runner=None, first=0):
    return [step_dict(s, a, first + i)
            for i, (s, a) in enumerate(emitted_frames(scenario, runner=runner))]


@pytest.mark.parametrize("name", SMALL)
def test_resuming_at_every_step_continues_the_recorded_run(name):
    sc = load_scenario(resolve_scenario(name))
    rec = record(sc)
    reference = _lines(sc)
    assert len(reference) == rec.num_steps + 1
    for k in range(rec.num_steps + 1):
        runner = resume_at(rec, k)
        assert runner.steps_done == k
        assert _lines(sc, runner, k + 1) == reference[k + 1:], f"resumed at {k}"


def test_a_live_recording_keeps_a_snapshot_every_snapshot_steps():
    rec = record(load_scenario(resolve_scenario("preemption_thrash")))
    assert rec.num_steps > SNAPSHOT_STEPS
    assert sorted(rec.snapshots) == list(range(0, rec.num_steps, SNAPSHOT_STEPS))


def test_a_loaded_recording_makes_its_snapshots_on_the_way(tmp_path):
    sc = load_scenario(resolve_scenario("preemption_thrash"))
    save_jsonl(record(sc), tmp_path / "r.jsonl")
    rec = load_jsonl(tmp_path / "r.jsonl")
    assert rec.snapshots == {}
    last = rec.num_steps
    runner = resume_at(rec, last - 1)
    assert sorted(rec.snapshots) == list(range(0, last - 1, SNAPSHOT_STEPS))
    assert _lines(sc, runner, last) == _lines(sc)[last:]


def test_resume_out_of_range():
    rec = record(load_scenario(resolve_scenario("hello")))
    with pytest.raises(IndexError, match="step 5 out of range 0..4"):
        resume_at(rec, 5)
