"""open_source: the one loader of a scenario file, a bundled name or a .jsonl recording."""

from __future__ import annotations

import shutil

import pytest

from mini_engine.errors import MiniEngineError
from mini_engine.recording.jsonl import RecordingError, save_jsonl
from mini_engine.recording.recorder import record
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import ScenarioError, load_scenario
from mini_engine.sources import (Source, as_recording, is_recording_path, open_scenario,
                                 open_source, record_scenario)


def test_is_recording_path():
    assert is_recording_path("run.jsonl") and is_recording_path("dir/x.jsonl")
    assert not is_recording_path("hello") and not is_recording_path("a.yaml")
    assert not is_recording_path("x.jsonl.yaml")


def test_a_bundled_name():
    source = open_source("kv_preemption")
    assert (source.arg, source.name, source.is_recording, source.loaded) == \
        ("kv_preemption", "kv_preemption", False, None)
    assert source.scenario == load_scenario(resolve_scenario("kv_preemption"))
    assert source.expected_steps() == source.scenario.expect.total_steps
    assert source.recording() == record(source.scenario)


def test_a_scenario_file(tmp_path):
    path = tmp_path / "mine.yaml"
    shutil.copy(resolve_scenario("hello"), path)
    source = open_source(path)
    assert (source.arg, source.name, source.is_recording) == (str(path), "hello", False)
    assert source.scenario.source == str(path)
    assert open_scenario(path) == source.scenario


def test_a_recording(tmp_path):
    full = record(open_scenario("kv_preemption"))
    path = tmp_path / "run.jsonl"
    save_jsonl(full, path)
    source = open_source(str(path))
    assert source.is_recording and source.loaded == full
    assert source.name == "kv_preemption"
    assert source.scenario == full.scenario
    assert source.expected_steps(until=3) == full.num_steps  # a loaded recording is whole
    assert source.recording(until=3) is source.loaded


def test_recording_until_and_progress(monkeypatch):
    import mini_engine.sources as sources
    monkeypatch.setattr(sources, "RECORD_BATCH", 4)
    source = open_source("kv_preemption")
    seen: list[int] = []
    rec = source.recording(until=10, progress=seen.append)
    assert rec.num_steps == 10 and not rec.complete
    assert seen == [4, 8, 10]
    assert source.expected_steps(until=10) == 10
    whole = source.recording(progress=seen.append)
    assert whole == record(source.scenario) and whole.complete
    assert seen[-1] == whole.num_steps


def test_record_scenario_stops_at_the_end():
    scenario = open_scenario("hello")
    assert record_scenario(scenario, until=1000) == record(scenario)


@pytest.mark.parametrize("arg, error, text", [
    ("no_such_thing", ScenarioError, "no_such_thing: no such file or bundled scenario"),
    ("missing.jsonl", RecordingError, "missing.jsonl: no such file"),
])
def test_bad_input_is_one_line(arg, error, text):
    with pytest.raises(error) as info:
        open_source(arg)
    assert isinstance(info.value, MiniEngineError)
    assert str(info.value).startswith(text)
    assert "\n" not in str(info.value)


def test_a_bad_recording_names_its_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("{}\n")
    with pytest.raises(RecordingError) as info:
        open_source(str(path))
    assert info.value.where == f"{path}:1"


def test_as_recording():
    scenario = open_scenario("hello")
    rec = record(scenario)
    assert as_recording(rec) is rec
    assert as_recording(scenario) == rec
    assert as_recording(Source("hello", scenario)) == rec
    with pytest.raises(TypeError, match="expected a Recording, a Scenario or a Source, got str"):
        as_recording("hello")
