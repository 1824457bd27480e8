"""Committed vLLM captures (tests/data/vllm_captures): each opens as a Recording and its replay
on mini_engine matches vLLM step by step. Runs everywhere: no vllm needed."""

from __future__ import annotations

import glob
import os

import pytest

import mini_engine
from mini_engine.errors import MiniEngineError
from mini_engine.recording.capture_diff import divergences
from mini_engine.recording.capture_load import load_capture, replay_scenario
from mini_engine.recording.recorder import record

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "vllm_captures")
CAPTURES = sorted(glob.glob(os.path.join(DATA, "*.jsonl")))


def _error(line, message, field):
    return ValueError(f"{line}: {field}: {message}")


def test_there_are_captures_sync_async_and_without_token_ids():
    names = {os.path.basename(p) for p in CAPTURES}
    assert len(names) >= 20
    assert "async_d_memory_pressure.jsonl" in names
    assert "notokens_z1_stress_fcfs_nocache.jsonl" in names
    assert all(os.path.getsize(p) < 200_000 for p in CAPTURES)


@pytest.mark.parametrize("path", CAPTURES, ids=os.path.basename)
def test_capture_replays_with_zero_divergences(path):
    cap = load_capture(path, _error)
    rec = record(replay_scenario(cap))
    assert divergences(cap, rec) == []
    assert rec.num_steps == len(cap.steps)
    assert cap.notes == []


@pytest.mark.parametrize("path", CAPTURES[:3], ids=os.path.basename)
def test_capture_opens_through_load_recording(path):
    rec = mini_engine.load_recording(path)
    assert rec.scenario.description.startswith("capture of vLLM 0.33.0")
    assert rec.complete


def test_a_capture_that_mini_engine_does_not_reproduce_is_refused_on_one_line(tmp_path):
    src = os.path.join(DATA, "d_memory_pressure.jsonl")
    lines = open(src).read().splitlines(keepends=True)
    lines[1] = lines[1].replace('"num_free_blocks":2,"kv_cache_usage":0.75,"prefix',
                                '"num_free_blocks":3,"kv_cache_usage":0.75,"prefix')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    with pytest.raises(MiniEngineError) as e:
        mini_engine.load_recording(bad)
    assert str(e.value).startswith(f"{bad}:2: num_free_blocks: vLLM 3, mini_engine's replay 2 at step 1")


def test_a_capture_with_a_bad_field_names_line_and_field(tmp_path):
    src = os.path.join(DATA, "a_hello.jsonl")
    lines = open(src).read().splitlines(keepends=True)
    lines[2] = lines[2].replace('"preempted":[]', '"preempted":5')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    with pytest.raises(MiniEngineError) as e:
        mini_engine.load_recording(bad)
    assert str(e.value) == f"{bad}:3: preempted: Input should be a valid array"
