"""An ignored request's reason shows in `run` (issue 9, defect 5): the table's `notes`
column and a log line say when (add_request's frame, step 0 for a request there from the
start, reported by the next step; or this step's schedule()) and why, in the words the
recording stores. Before, `run` showed `huge:ignored` at step 1 and no reason at all."""

from __future__ import annotations

from mini_engine.exports.perfetto import iter_trace_events
from mini_engine.exports.table import iter_table_lines
from mini_engine.exports.vllm_log import iter_log_lines
from mini_engine.recording.analysis import ignore_note, ignored_at
from mini_engine.recording.recorder import record
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario, load_scenario_text

HUGE = "prompt needs 7 KV blocks, the cache has 4 usable blocks"
OUTGROW = """
name: outgrow
description: one request outgrows the whole cache while decoding; a late one never fits
engine: {num_gpu_blocks: 3}
requests:
  - {id: big, prompt: "0123456789", max_tokens: 40, ignore_eos: true}
  - {id: late, prompt: "This prompt needs six blocks of sixteen tokens: far more than two",
     max_tokens: 2, arrival_step: 2}
"""


def never_fits():
    return record(load_scenario(resolve_scenario("never_fits")))


def test_the_recording_holds_the_ignore_at_step_0_and_step_1_reports_it():
    rec = never_fits()
    assert ignored_at(rec, "huge") == (0, HUGE)
    assert ignored_at(rec, "normal") is None
    assert [rec.request_ids[i] for i in rec.delta(1).reported_finished] == ["huge"]
    assert ignore_note(rec, "huge", 1) == f"huge ignored at add_request (step 0): {HUGE}"
    assert ignore_note(rec, "normal", 4) is None


def test_run_table_shows_the_reason_and_the_step_it_happened():
    lines = list(iter_table_lines(never_fits()))
    assert lines[0].split()[-2:] == ["KV", "notes"]
    assert lines[1] == ("   1  normal:+15p  15/2048  normal   -              huge:ignored   "
                        f"25.0% 1/4  huge ignored at add_request (step 0): {HUGE}")
    assert lines[2].endswith("25.0% 1/4")  # no note, no trailing space


def test_run_log_says_it_before_the_step_that_reports_it():
    lines = list(iter_log_lines(never_fits()))
    assert lines[0] == f"Request huge ignored at add_request (step 0): {HUGE}"
    assert lines[1].startswith("Iteration(1): ")


def test_a_late_arrival_and_a_request_that_outgrows_the_cache():
    rec = record(load_scenario_text(OUTGROW, "outgrow.yaml"))
    late = "prompt needs 5 KV blocks, the cache has 2 usable blocks"
    assert ignored_at(rec, "late") == (2, late)
    step, reason = ignored_at(rec, "big")
    assert reason == "needs 3 KV blocks for 33 tokens, the cache has 2 usable blocks"
    assert rec.delta(step).reported_finished == (rec.request_index["big"],)
    lines = list(iter_table_lines(rec))
    assert lines[3].endswith(f"late:ignored  50.0% 1/2   late ignored at add_request "
                             f"(step 2): {late}")
    assert lines[step].endswith(f"big ignored by schedule(): {reason}")
    log = [line for line in iter_log_lines(rec) if line.startswith("Request ")]
    assert log == [f"Request late ignored at add_request (step 2): {late}",
                   f"Request big ignored by schedule(): {reason}"]


def test_perfetto_ignored_instant_carries_the_reason():
    ignored = [e for e in iter_trace_events(never_fits()) if e.get("name") == "ignored"]
    assert [e["args"] for e in ignored] == [
        {"step": 0, "status": "FINISHED_IGNORED", "reason": "ignored", "why": HUGE}]
