"""JSONL recordings: round trip equality, determinism, streaming, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from helpers import req, scenario

from mini_engine.recording.jsonl import FORMAT, VERSION, RecordingError, load_jsonl, save_jsonl
from mini_engine.recording.recorder import record

SCENARIOS = Path(__file__).resolve().parents[2] / "mini_engine" / "scenarios"


def sample():
    return scenario([req("a", 8, max_tokens=8), req("b", 8, max_tokens=8),
                     req("c", 2, max_tokens=2, arrival=1), req("d", "hé", max_tokens=3),
                     req("huge", 100)],
                    events=[(3, "d")], block_size=4, num_gpu_blocks=6,
                    max_num_batched_tokens=16, max_num_seqs=4)


@pytest.fixture
def saved(tmp_path):
    rec = record(sample())
    path = tmp_path / "rec.jsonl"
    save_jsonl(rec, path)
    return rec, path


def test_round_trip_equal(saved):
    rec, path = saved
    back = load_jsonl(path)
    assert back == rec
    assert back.scenario == rec.scenario
    for s in range(rec.num_steps + 1):
        assert back.seek(s) == rec.seek(s)
        assert back.step_record(s) == rec.step_record(s)
    for rid in rec.request_ids:
        assert back.lifecycle(rid) == rec.lifecycle(rid)
        assert back.request_metrics(rid) == rec.request_metrics(rid)
        assert back.text(rid) == rec.text(rid)
    assert back.event_steps("preemption") == rec.event_steps("preemption")


@pytest.mark.parametrize("name", ["priority", "prefix_caching", "preemption_thrash", "abort"])
def test_round_trip_bundled(name, tmp_path):
    from mini_engine.scenarios.loader import load_scenario
    rec = record(load_scenario(SCENARIOS / f"{name}.yaml"))
    save_jsonl(rec, tmp_path / "r.jsonl")
    assert load_jsonl(tmp_path / "r.jsonl") == rec


def test_round_trip_vllm_compat(tmp_path):
    """vLLM's mode: FINISHED_LENGTH_CAPPED, the trailing step, `vllm_compat` in the header."""
    sc = scenario([req("a", 8, max_tokens=3), req("b", 5, max_tokens=2, arrival=1)],
                  block_size=4, num_gpu_blocks=8, vllm_compat=True)
    rec = record(sc)
    save_jsonl(rec, tmp_path / "r.jsonl")
    text = (tmp_path / "r.jsonl").read_text(encoding="utf-8")
    assert '"vllm_compat":true' in text and "FINISHED_LENGTH_CAPPED" in text
    assert load_jsonl(tmp_path / "r.jsonl") == rec


def test_header_and_lines(saved):
    rec, path = saved
    lines = path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == FORMAT and header["version"] == VERSION == 2
    assert header["engine"]["num_gpu_blocks"] == 6
    assert [r["request_id"] for r in header["requests"]] == ["a", "b", "c", "d", "huge"]
    assert header["producer"]["name"] == "mini-engine"
    assert len(lines) == 1 + rec.num_steps + 1 + 1
    steps = [json.loads(x) for x in lines[1:-1]]
    assert [x["step"] for x in steps] == list(range(rec.num_steps + 1))
    # Frame 0: the arrivals at step 0 ("huge" can never fit: ignored at once).
    assert [(e["kind"], e["request_id"]) for e in steps[0]["after"]] == [
        ("queued", "a"), ("queued", "b"), ("queued", "d"), ("ignored", "huge")]
    # Step 1: what schedule() decided, with the tokens sampled (null: a chunk that samples nothing).
    assert steps[1]["scheduled"][0][:2] == ["a", 8]
    kinds = [e["kind"] for e in steps[1]["events"]]
    assert kinds[:3] == ["blocks_allocated", "blocks_cached", "admitted"]
    assert json.loads(lines[-1]) == {"final": {"num_steps": rec.num_steps, "complete": True}}


def test_deterministic_bytes(tmp_path):
    a, b = io.StringIO(), io.StringIO()
    save_jsonl(record(sample()), a)
    save_jsonl(record(sample()), b)
    assert a.getvalue() == b.getvalue()


def _write(tmp_path, text, name="bad.jsonl", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _err(path) -> str:
    with pytest.raises(RecordingError) as e:
        load_jsonl(path)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_errors(saved, tmp_path):
    rec, path = saved
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    p = _write(tmp_path, "")
    assert _err(p) == f"{p}:1: empty file: expected a mini-engine-recording header"
    p = _write(tmp_path, "not json\n")
    assert _err(p) == f"{p}:1: invalid JSON: Expecting value at column 1"
    p = _write(tmp_path, '{"format": "other"}\n')
    assert _err(p) == f"{p}:1: not a mini-engine recording (format is 'other', expected {FORMAT!r})"
    header = json.loads(lines[0])
    header["version"] = 1
    p = _write(tmp_path, json.dumps(header) + "\n" + "".join(lines[1:]))
    assert _err(p) == (f"{p}:1: unsupported recording version 1: this tool reads version 2 "
                       f"(record the scenario again with `mini-engine export SCENARIO --jsonl OUT`)")
    # Truncated in the middle of a line, and after a whole step line.
    p = _write(tmp_path, "".join(lines[:4]) + lines[4][:10])
    assert _err(p) == f"{p}:5: truncated line (no newline at the end)"
    p = _write(tmp_path, "".join(lines[:4]))
    assert _err(p) == f"{p}:4: truncated: ends after step 2 without the final line"
    # A step missing; malformed step lines name the line and the field.
    p = _write(tmp_path, "".join(lines[:3] + lines[4:]))
    assert _err(p) == f"{p}:4: step: expected 2, found 3"
    p = _write(tmp_path, lines[0] + '{"step": 0, "after": [{"kind": "queued"}]}\n')
    assert _err(p) == f"{p}:2: after.0.queued.request_id: Field required"
    p = _write(tmp_path, lines[0] + '{"step": 0, "after": [], "colour": 1}\n')
    assert _err(p) == f"{p}:2: colour: Extra inputs are not permitted"
    p = _write(tmp_path, lines[0] + '{"step": "0"}\n')
    assert _err(p) == f"{p}:2: step: Input should be a valid integer"
    p = _write(tmp_path, lines[0] + "[1, 2]\n")
    assert _err(p) == f"{p}:2: Input should be an object"
    p = _write(tmp_path, lines[0] + '{"step": 0, "after": [{"kind": "queued", "request_id": "zz", '
                                    '"num_prompt_tokens": 1, "position": "back"}]}\n')
    assert _err(p) == (f"{p}:2: after.0.request_id: unknown request 'zz': the header declares "
                       f"no such request")
    p = _write(tmp_path, b"\xff\xfe\x00garbage", mode="wb")
    assert _err(p) == f"{p}:1: not UTF-8 text (invalid byte 0xff at byte 1 of the line)"
    assert _err(tmp_path / "missing.jsonl") == f"{tmp_path / 'missing.jsonl'}: no such file"
    assert _err(tmp_path) == (f"{tmp_path}: is a directory, not a regular file; a recording "
                              f"must be a regular file")
    p = _write(tmp_path, "".join(lines) + "{}\n")
    assert _err(p) == f"{p}:{len(lines) + 1}: unexpected data after the final line"
