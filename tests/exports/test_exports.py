"""Exports of a recording: the Perfetto trace (structure, spans, counters, determinism),
the vLLM-style log lines and the step table, pinned exactly on small scenarios."""

from __future__ import annotations

import io
import json

import pytest
from helpers import HELLO_LOG

from mini_engine.exports import STEP_US, iter_log_lines, iter_trace_events, write_perfetto
from mini_engine.exports.perfetto import export_perfetto
from mini_engine.exports.table import iter_table_lines
from mini_engine.exports.vllm_log import stats_line
from mini_engine.recording.recorder import record
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario, load_scenario_text


def bundled(name):
    return load_scenario(resolve_scenario(name))


def trace_json(source) -> dict:
    buf = io.StringIO()
    write_perfetto(source, buf)
    return json.loads(buf.getvalue())


def request_events(doc: dict) -> dict[str, list[tuple]]:
    """Per request id: its spans and instants as (ph, name, ts, dur), in file order."""
    names = {e["tid"]: e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name" and e["tid"] > 0}
    out: dict[str, list[tuple]] = {rid: [] for rid in names.values()}
    for e in doc["traceEvents"]:
        if e["ph"] in ("X", "i") and e["tid"] > 0:
            out[names[e["tid"]]].append((e["ph"], e["name"], e["ts"], e.get("dur")))
    return out


# ----------------------------------------------------------------------------- perfetto

def test_perfetto_tracks_one_per_request_in_scenario_order():
    doc = trace_json(bundled("kv_preemption"))
    meta = [e for e in doc["traceEvents"] if e["ph"] == "M"]
    assert {e["pid"] for e in doc["traceEvents"]} == {1}
    threads = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert threads == {0: "steps", 1: "a", 2: "b", 3: "c"}
    process = [e for e in meta if e["name"] == "process_name"]
    assert process[0]["args"]["name"] == "mini-engine: kv_preemption"
    assert doc["displayTimeUnit"] == "ms"
    assert doc["otherData"]["time_unit"] == "1 step = 1000 us"
    assert STEP_US == 1000


def test_perfetto_spans_of_kv_preemption():
    """a: prefill in step 1, decodes 2..12 (one merged span), finishes after step 12.
    b: preempted in step 10, resumed in step 13 with a 17-token recompute.
    c: preempted in step 2 (its own victim), resumed in step 13, finishes after 23."""
    ev = request_events(trace_json(bundled("kv_preemption")))
    assert sorted(ev["a"], key=lambda t: (t[2], t[0] == "i")) == [
        ("X", "PREFILL", 0, 1000),
        ("X", "DECODE", 1000, 11000),
        ("i", "finished", 12000, None)]
    assert sorted(ev["b"], key=lambda t: (t[2], t[0] == "X")) == [
        ("X", "PREFILL", 0, 1000),
        ("X", "DECODE", 1000, 8000),
        ("i", "preempted", 9000, None),
        ("X", "PREEMPTED", 9000, 3000),
        ("X", "PREFILL", 12000, 1000),
        ("X", "DECODE", 13000, 2000),
        ("i", "finished", 15000, None)]
    assert sorted(ev["c"], key=lambda t: (t[2], t[0] == "X")) == [
        ("X", "PREFILL", 0, 1000),
        ("i", "preempted", 1000, None),
        ("X", "PREEMPTED", 1000, 11000),
        ("X", "PREFILL", 12000, 1000),
        ("X", "DECODE", 13000, 10000),
        ("i", "finished", 23000, None)]


def test_perfetto_span_args():
    doc = trace_json(bundled("kv_preemption"))
    by = [(e["tid"], e["name"], e.get("ts")) for e in doc["traceEvents"]]
    events = dict(zip(by, doc["traceEvents"]))
    assert events[(2, "PREFILL", 12000)]["args"] == {"samples": True, "step": 13, "tokens": 17}
    assert events[(3, "DECODE", 13000)]["args"] == {
        "first_step": 14, "last_step": 23, "steps": 10, "tokens": 10}
    pre = events[(2, "preempted", 9000)]
    assert pre["s"] == "t"
    assert pre["args"]["step"] == 10 and pre["args"]["tokens_lost"] == 16
    fin = events[(1, "finished", 12000)]["args"]
    assert fin == {"reason": "length", "status": "FINISHED_LENGTH", "step": 12}


def test_perfetto_waiting_spans():
    """max_num_seqs: short-1 and short-2 arrive after step 1 and wait for a seat (admitted
    in steps 7 and 9), so WAITING runs from 1000 us to the start of that step."""
    ev = request_events(trace_json(bundled("max_num_seqs")))
    waiting = {rid: [e for e in evs if e[1] == "WAITING"] for rid, evs in ev.items()}
    assert waiting["long-1"] == [] and waiting["long-2"] == []  # admitted at once: no span
    assert waiting["short-1"] == [("X", "WAITING", 1000, 5000)]
    assert waiting["short-2"] == [("X", "WAITING", 1000, 7000)]


def test_perfetto_abort_and_partial_recording():
    text = """
name: small
description: an abort while waiting, and a request cut off by the end of the recording
engine: {max_num_seqs: 1, max_num_batched_tokens: 64, max_model_len: 64}
requests:
  - {id: x, prompt: "xxxx", max_tokens: 6, ignore_eos: true}
  - {id: y, prompt: "yyyy", max_tokens: 2, ignore_eos: true, arrival_step: 1}
events: [{step: 3, abort: y}]
"""
    sc = load_scenario_text(text, "small.yaml")
    ev = request_events(trace_json(sc))
    assert ev["y"] == [("X", "WAITING", 1000, 2000), ("i", "aborted", 3000, None)]
    assert ev["x"] == [("X", "PREFILL", 0, 1000), ("X", "DECODE", 1000, 5000),
                       ("i", "finished", 6000, None)]
    from mini_engine.recording.recorder import Recorder
    recorder = Recorder(sc)
    recorder.advance(4)
    ev = request_events(trace_json(recorder.recording))
    assert ev["x"] == [("X", "PREFILL", 0, 1000), ("X", "DECODE", 1000, 3000)]  # closed at 4


def test_perfetto_counters():
    doc = trace_json(bundled("kv_preemption"))
    counters: dict[str, list] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "C":
            counters.setdefault(e["name"], []).append((e["ts"], e["args"]["value"]))
    assert set(counters) == {"running", "waiting", "scheduled tokens", "KV cache usage %"}
    assert counters["running"][:3] == [(0, 0), (1000, 3), (2000, 2)]
    assert counters["waiting"][:4] == [(0, 3), (1000, 0), (2000, 1), (10000, 2)]
    assert counters["scheduled tokens"][:2] == [(0, 24), (1000, 2)]
    assert counters["scheduled tokens"][-1] == (23000, 0)
    assert counters["KV cache usage %"][:3] == [(0, 0.0), (1000, 75.0), (6000, 100.0)]
    steps = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["tid"] == 0]
    assert len(steps) == 23 and steps[0]["args"]["kind"] == "prefill"
    assert steps[1]["args"]["kind"] == "preemption"


def test_perfetto_is_deterministic_and_streamed(tmp_path):
    sc = bundled("preemption_thrash")
    rec = record(sc)
    a, b = io.StringIO(), io.StringIO()
    write_perfetto(rec, a)
    write_perfetto(record(sc), b)
    assert a.getvalue() == b.getvalue()
    lines = a.getvalue().splitlines()
    # One event per line, each with sorted keys.
    for line in lines[1:-1]:
        event = json.loads(line.rstrip(","))
        assert list(event) == sorted(event)
    out = tmp_path / "t.json"
    n = export_perfetto(rec, out)
    assert out.read_text() == a.getvalue()
    assert n == len(json.loads(out.read_text())["traceEvents"])
    assert not (tmp_path / "t.json.tmp").exists()


def test_perfetto_every_bundled_scenario_is_valid_json():
    for name in ("abort", "chunked_prefill", "never_fits", "prefix_caching", "priority",
                 "starved_budget", "eos_vs_length", "continuous_batching"):
        doc = trace_json(bundled(name))
        for e in doc["traceEvents"]:
            assert e["ph"] in ("M", "X", "i", "C")
            if e["ph"] == "X":
                assert e["dur"] > 0 and e["ts"] >= 0


def test_iter_trace_events_accepts_a_scenario_or_a_recording():
    sc = bundled("hello")
    assert list(iter_trace_events(sc)) == list(iter_trace_events(record(sc)))
    with pytest.raises(TypeError):
        list(iter_trace_events("hello"))


# ----------------------------------------------------------------------------- vLLM log

def test_log_lines_hello():
    assert list(iter_log_lines(bundled("hello"))) == HELLO_LOG


def test_log_lines_with_preemptions():
    lines = list(iter_log_lines(bundled("kv_preemption")))
    assert lines[9] == ("Iteration(10): 0 context requests, 0 context tokens, "
                        "1 generation requests, 1 generation tokens")
    assert lines[10] == (
        "Engine 000: Avg prompt throughput: 2.4 tokens/step, Avg generation throughput: "
        "2.0 tokens/step, Running: 1 reqs, Waiting: 2 reqs, Preemptions: 2, "
        "GPU KV cache usage: 62.5%, Prefix cache hit rate: 0.0%")
    # The resume recomputes b (17 tokens) and c (9 tokens) as context in one step.
    assert lines[13] == ("Iteration(13): 2 context requests, 26 context tokens, "
                         "0 generation requests, 0 generation tokens")
    # No preemption in steps 11..20: vLLM leaves the Preemptions part out.
    assert lines[21] == (
        "Engine 000: Avg prompt throughput: 0.0 tokens/step, Avg generation throughput: "
        "1.3 tokens/step, Running: 1 reqs, Waiting: 0 reqs, GPU KV cache usage: 50.0%, "
        "Prefix cache hit rate: 0.0%")
    assert len(lines) == 23 + 3  # 23 iteration lines, stats after 10, 20 and the last step


def test_log_stats_interval_and_hit_rate():
    lines = list(iter_log_lines(bundled("prefix_caching"), stats_interval=1))
    stats = [line for line in lines if line.startswith("Engine 000:")]
    iterations = [line for line in lines if line.startswith("Iteration(")]
    assert len(stats) == record(bundled("prefix_caching")).num_steps
    assert len(iterations) <= len(stats)
    assert any(not s.endswith("Prefix cache hit rate: 0.0%") for s in stats)
    with pytest.raises(ValueError):
        list(iter_log_lines(bundled("hello"), stats_interval=0))


def test_stats_line_format():
    assert stats_line(12.25, 3.0, 4, 5, 0, 0.5, 0.25) == (
        "Engine 000: Avg prompt throughput: 12.2 tokens/step, Avg generation throughput: "
        "3.0 tokens/step, Running: 4 reqs, Waiting: 5 reqs, GPU KV cache usage: 50.0%, "
        "Prefix cache hit rate: 25.0%")
    assert ", Preemptions: 3, GPU KV" in stats_line(0, 0, 0, 0, 3, 0, 0)


def test_log_skips_idle_steps():
    text = """
name: late
description: a request arriving after two idle steps
requests: [{id: r, prompt: "ab", max_tokens: 1, ignore_eos: true, arrival_step: 2}]
"""
    lines = list(iter_log_lines(load_scenario_text(text, "late.yaml")))
    assert lines[0].startswith("Iteration(3): 1 context requests, 2 context tokens")
    assert len(lines) == 2


# ----------------------------------------------------------------------------- table

def test_table_kv_preemption_rows():
    lines = list(iter_table_lines(bundled("kv_preemption")))
    assert lines[0].split() == ["step", "scheduled", "budget", "running", "waiting", "(why)",
                                "finished", "KV", "notes"]
    assert lines[2].split() == ["2", "a:+1", "b:+1", "2/2048", "a", "b", "c(preempted)", "-",
                                "75.0%", "6/8"]
    assert lines[10].split() == ["10", "a:+1", "1/2048", "a", "b(preempted)", "c(preemption)",
                                 "-", "62.5%", "5/8"]
    assert lines[12].split() == ["12", "a:+1", "1/2048", "-", "b(kv_cache)", "c(head_of_line)",
                                 "a:length", "0.0%", "0/8"]
    assert lines[13].split() == ["13", "b:+17p", "c:+9p", "26/2048", "b", "c", "-", "-",
                                 "100.0%", "8/8"]


def test_table_ignored_and_aborted():
    lines = list(iter_table_lines(bundled("never_fits")))
    assert "huge:ignored" in lines[1]
    lines = list(iter_table_lines(bundled("abort")))
    assert "victim:abort" in lines[5]


def test_table_truncates_long_lists():
    reqs = "\n".join(f"  - {{id: r{i}, prompt: 'abc', max_tokens: 2, ignore_eos: true}}"
                     for i in range(12))
    sc = load_scenario_text(f"name: many\ndescription: d\nrequests:\n{reqs}\n", "many.yaml")
    lines = list(iter_table_lines(sc, max_names=8))
    assert "r7:+3p +4" in lines[1]
    assert "r0 r1 r2 r3 r4 r5 r6 r7 +4" in lines[1]
