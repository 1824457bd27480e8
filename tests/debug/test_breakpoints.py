"""Breakpoints in the session: names checked against the run (did-you-mean, range warnings,
percent), when/while modes, enable/disable, hit counts, and hit steps that agree with a
brute-force evaluation of the condition at every step (one seek per step)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mini_engine.debug.conditions import evaluate
from mini_engine.debug.session import MAX_BREAKPOINTS, BreakpointError, DebugSession
from mini_engine.recording.recorder import Recorder
from mini_engine.recording.store import Recording
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario

_recordings: dict[str, Recording] = {}


def recording(name: str) -> Recording:
    if name not in _recordings:
        recorder = Recorder(load_scenario(resolve_scenario(name)))
        while recorder.advance(10_000):
            pass
        _recordings[name] = recorder.recording
    return _recordings[name]


def session(name: str) -> DebugSession:
    return DebugSession(recording(name))


METRIC = {"running": "num_requests_running", "waiting": "num_requests_waiting",
          "kv_cache_usage": "kv_cache_usage_perc", "free_blocks": "num_free_blocks",
          "scheduled_tokens": "num_scheduled_tokens", "prefill_tokens": "prefill_tokens",
          "decode_tokens": "decode_tokens", "preemptions": "num_preemptions",
          "prefix_cache_hits": "prefix_cache_hits"}


def brute_levels(rec: Recording, node) -> list[bool]:
    """The condition at every step, from a full seek of each step (the slow, obvious way)."""
    preemptions = np.cumsum(rec.summary().num_preemptions)
    out = []
    for s in range(rec.num_steps + 1):
        st = rec.seek(s)

        def resolve(path):
            if len(path) == 2:
                if path[1] == "waiting_reason":
                    return st.waiting_reason(path[0])
                return getattr(st.request(path[0]), path[1])
            name = path[0]
            if name == "step":
                return s
            if name == "finished":
                return len(st.finished)
            if name == "total_preemptions":
                return int(preemptions[s])
            return getattr(st.metrics, METRIC[name])

        out.append(bool(evaluate(node, resolve)))
    return out


def expected_hits(levels: list[bool], mode: str) -> list[int]:
    if mode == "while":
        return [s for s, v in enumerate(levels) if v]
    return [s for s, v in enumerate(levels) if v and not (s > 0 and levels[s - 1])]


CASES = [
    ("kv_preemption", "kv_cache_usage > 50%"),
    ("kv_preemption", "c.status == RUNNING"),
    ("kv_preemption", "b.num_blocks >= 2 and waiting > 0"),
    ("kv_preemption", "b.num_preemptions > 0 or finished >= 2"),
    ("kv_preemption", "b.waiting_reason == kv_cache"),
    ("preemption_thrash", "total_preemptions >= 2 and not (running > 2)"),
    ("preemption_thrash", "waiting > 1"),
    ("chunked_prefill", "scheduled_tokens == prefill_tokens and decode_tokens == 0"),
    ("priority", "free_blocks < 3 or preemptions > 0"),
    ("prefix_caching", "prefix_cache_hits > 0"),
]


@pytest.mark.parametrize("scenario,text", CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("mode", ["when", "while"])
def test_hit_steps_agree_with_a_brute_force_evaluation(scenario, text, mode):
    s = session(scenario)
    rec = s.recording
    names = [p for p in __import__("mini_engine.debug.conditions", fromlist=["names_in"])
             .names_in(s.parse_breakpoint(text).condition) if len(p) == 2]
    for rid, _ in names:  # request fields name a request of the scenario
        assert rid in rec.request_index
    bp = s.add_breakpoint(f"{mode} {text}")
    assert (bp.text, bp.mode, bp.label) == (text, mode, f"{mode} {text}")
    expected = expected_hits(brute_levels(rec, bp.condition), mode)
    assert s.breakpoint_steps(0) == expected
    assert s.hit_steps() == set(expected)
    assert s.breakpoint_hits() == {0: expected}
    assert s.hit_counts(0) == (int(expected[:1] == [0]), len(expected))
    for step in range(rec.num_steps + 1):
        assert bool(s.hits_at(step)) == (step in expected)


def test_the_cases_hit_somewhere_and_while_differs_from_when():
    differs = 0
    for scenario, text in CASES:
        s = session(scenario)
        s.add_breakpoint(text)
        s.add_breakpoint("while " + text)
        assert s.breakpoint_steps(0), text
        differs += s.breakpoint_steps(0) != s.breakpoint_steps(1)
    assert differs >= 5


def test_while_stops_at_every_step_where_it_holds_when_only_where_it_turns_true():
    s = session("kv_preemption")
    levels = brute_levels(s.recording, s.parse_breakpoint("kv_cache_usage > 0.5").condition)
    true_steps = [i for i, v in enumerate(levels) if v]
    s.add_breakpoint("while kv_cache_usage > 0.5")
    stops = []
    while s.continue_(1) is not None:
        stops.append(s.cursor)
    assert stops == [t for t in true_steps if t > 0]
    s.set_mode(0)  # now "when"
    assert s.breakpoints[0].label == "when kv_cache_usage > 0.5"
    s.go(0)
    stops = []
    while s.continue_(1) is not None:
        stops.append(s.cursor)
    assert stops == [t for t in expected_hits(levels, "when") if t > 0]
    assert len(stops) < len(true_steps)


def test_a_disabled_breakpoint_never_stops_and_keeps_its_place():
    s = session("kv_preemption")
    preemptions = list(s.recording.event_steps("preemption"))
    finishes = list(s.recording.event_steps("finish"))
    s.add_breakpoint("preemption")
    s.add_breakpoint("finish")
    assert s.set_enabled(0).enabled is False
    assert [bp.text for bp in s.breakpoints] == ["preemption", "finish"]
    assert s.hit_steps() == set(finishes)
    assert all(not s.hits_at(p) for p in preemptions if p not in finishes)
    assert s.continue_(1) == finishes[0]
    s.set_enabled(1, False)
    s.go(0)
    assert s.continue_(1) is None and s.cursor == 0 and s.hit_steps() == set()
    # Counts are still kept for a disabled one (the list shows them).
    assert s.hit_counts(0) == (0, len(preemptions))
    # Adding it again re-enables it rather than duplicating it.
    assert s.add_breakpoint("preemption").enabled
    assert len(s.breakpoints) == 2 and s.continue_(1) == preemptions[0]


def test_hit_counts_so_far_and_in_the_run():
    s = session("kv_preemption")
    steps = list(s.recording.event_steps("finish"))
    s.add_breakpoint("finish")
    for cursor in (0, steps[0], steps[0] + 1, s.last_step):
        s.go(cursor)
        assert s.hit_counts(0) == (sum(x <= cursor for x in steps), len(steps))


def test_hits_grow_with_a_recording_still_being_recorded():
    full = session("kv_preemption")
    full.add_breakpoint("c.status == RUNNING")
    full.add_breakpoint("while kv_cache_usage > 0.5")
    live = DebugSession.recording_scenario(load_scenario(resolve_scenario("kv_preemption")))
    live.record_more(3)
    live.add_breakpoint("c.status == RUNNING")
    live.add_breakpoint("while kv_cache_usage > 0.5")
    while True:
        for i in (0, 1):
            assert live.breakpoint_steps(i) == [
                x for x in full.breakpoint_steps(i) if x <= live.last_step]
        if not live.record_more(2):
            break
    assert live.breakpoint_steps(0) == full.breakpoint_steps(0)
    assert live.breakpoint_steps(1) == full.breakpoint_steps(1)


# ----------------------------------------------------------------------------- names


@pytest.mark.parametrize("text, message", [
    ("kv_cache_usge > 0.9", "unknown name 'kv_cache_usge'; did you mean kv_cache_usage? "
                            "at column 1: kv_cache_usge > 0.9"),
    ("waiting > 1 and runing < 3", "unknown name 'runing'; did you mean running? "
                                   "at column 17: waiting > 1 and runing < 3"),
    ("b.status == RUNNIG", "unknown name 'RUNNIG'; did you mean RUNNING? "
                           "at column 13: b.status == RUNNIG"),
    ("bb.status == RUNNING", "unknown request 'bb'; did you mean b? "
                             "at column 1: bb.status == RUNNING"),
    ("b.stauts == RUNNING", "unknown field 'stauts'; did you mean status? (fields: status, "
                            "num_computed_tokens, num_tokens, num_output_tokens, "
                            "num_prompt_tokens, num_preemptions, num_blocks, num_cached_tokens, "
                            "waiting_reason) at column 1: b.stauts == RUNNING"),
    ("while xyzzy > 1", "unknown name 'xyzzy' at column 7: while xyzzy > 1"),
    ("waiting.status == RUNNING", "waiting.status: use <request id>.<field> at column 1: "
                                  "waiting.status == RUNNING"),
    ("b.status.x == 1", "b.status.x: use <request id>.<field> at column 1: b.status.x == 1"),
    ("waiting > 50%", "waiting is not a fraction: a percent such as 50% only applies to "
                      "0..1 fields at column 1: waiting > 50%"),
    ("finish bb", "unknown request 'bb'; did you mean b?"),
])
def test_unknown_names_are_errors_with_a_did_you_mean(text, message):
    s = session("kv_preemption")
    with pytest.raises(BreakpointError) as err:
        s.add_breakpoint(text)
    assert str(err.value) == message
    assert s.breakpoints == []


@pytest.mark.parametrize("text, warnings", [
    ("kv_cache_usage > 90", ("kv_cache_usage is 0..1, so 90 is out of range; the screen "
                             "shows percent: write 90% or 0.9",)),
    ("waiting > 50", ("waiting is 0..3, so 50 is out of range",)),
    ("step < -1", ("step is >= 0, so -1 is out of range",)),
    ("b.status == 'RUNNIG'", ("b.status is never 'RUNNIG'; did you mean RUNNING?",)),
    ("b.status == 3", ("b.status is text: it never equals the number 3",)),
    ("waiting == 'x'", ("waiting is a number: it never equals the text 'x'",)),
    ("kv_cache_usage > 0.9", ()),
    ("kv_cache_usage >= 100%", ()),
    ("b.status == RUNNING and b.waiting_reason != kv_cache", ()),
    ("step == '[/x]'", ("step is a number: it never equals the text '[/x]'",)),
])
def test_out_of_range_literals_are_warnings_not_errors(text, warnings):
    s = session("kv_preemption")
    bp = s.add_breakpoint(text)
    assert bp.warnings == warnings
    assert s.breakpoints == [bp]


def test_a_percent_is_the_fraction_for_fractional_fields():
    s = session("kv_preemption")
    s.add_breakpoint("kv_cache_usage > 50%")
    s.add_breakpoint("kv_cache_usage > 0.5")
    assert s.breakpoint_steps(0) == s.breakpoint_steps(1) != []
    s.add_breakpoint("while kv_cache_usage >= 100%")
    s.add_breakpoint("while kv_cache_usage >= 1")
    assert s.breakpoint_steps(2) == s.breakpoint_steps(3)


def test_status_names_request_ids_and_reasons_stay_literals():
    s = session("kv_preemption")
    for text in ("c.status == RUNNING", "b.status != FINISHED_STOPPED",
                 "b.waiting_reason == kv_cache", "RUNNING == RUNNING"):
        assert s.add_breakpoint(text).warnings == ()


def test_events_have_no_mode_and_the_number_of_breakpoints_is_bounded():
    s = session("kv_preemption")
    s.add_breakpoint("preemption")
    with pytest.raises(BreakpointError, match="is an event: it has no when/while mode"):
        s.set_mode(0)
    for i in itertools.count():
        if len(s.breakpoints) == MAX_BREAKPOINTS:
            break
        s.add_breakpoint(f"step == {i}")
    with pytest.raises(BreakpointError, match=f"too many breakpoints \\(at most "
                                              f"{MAX_BREAKPOINTS}\\)"):
        s.add_breakpoint("step == 999")
    s.remove_breakpoint(0)
    s.add_breakpoint("step == 999")
