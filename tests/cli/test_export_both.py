"""`mini-engine export SCENARIO --jsonl A --perfetto B` records once and writes both
(issue 9, "missing, and expected"); each file all-or-nothing, both checked up front."""

from __future__ import annotations

import io
import json

import pytest

import mini_engine.cli.progress as progress
from mini_engine.cli import main
from mini_engine.exports.perfetto import write_perfetto
from mini_engine.recording.jsonl import load_jsonl


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_both_files_from_one_recording(capsys, tmp_path, monkeypatch):
    recorded = []  # export records through cli.progress.record_with_progress: count calls
    original = progress.record_with_progress

    def counting(source, until=None, label=None):
        recorded.append(source.name)
        return original(source, until, label)

    monkeypatch.setattr(progress, "record_with_progress", counting)
    assert main(["export", "prefix_caching", "--jsonl", "p.jsonl", "--perfetto", "p.json"]) == 0
    out, err = capsys.readouterr()
    assert recorded == ["prefix_caching"]
    rec = load_jsonl("p.jsonl")
    buf = io.StringIO()
    n = write_perfetto(rec, buf)
    assert (tmp_path / "p.json").read_text() == buf.getvalue()
    assert out.splitlines() == [
        f"wrote p.jsonl (JSONL recording, {rec.num_steps} steps)",
        f"wrote p.json (Chrome trace, {rec.num_steps} steps, {n} events; open in "
        f"https://ui.perfetto.dev)"]
    assert err == ""
    assert json.loads((tmp_path / "p.json").read_text())["traceEvents"]


def test_a_bad_second_target_fails_before_the_run_and_writes_nothing(capsys, tmp_path):
    (tmp_path / "taken.json").write_text("keep me")
    assert main(["export", "hello", "--jsonl", "h.jsonl", "--perfetto", "taken.json"]) == 2
    assert capsys.readouterr().err == (
        "taken.json: already exists; refusing to overwrite it (--force overwrites)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.json"]
    assert (tmp_path / "taken.json").read_text() == "keep me"


def test_the_same_file_twice_or_no_file_is_a_usage_error(capsys, tmp_path):
    assert main(["export", "hello", "--jsonl", "x", "--perfetto", "./x"]) == 2
    assert capsys.readouterr().err == (
        "mini-engine export: error: --jsonl and --perfetto name the same file ('x'); give "
        "two files (see 'mini-engine export --help')\n")
    assert main(["export", "hello"]) == 2
    assert capsys.readouterr().err == (
        "mini-engine export: error: give --jsonl OUT, --perfetto OUT, or both (see "
        "'mini-engine export --help')\n")
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_both(capsys, tmp_path):
    (tmp_path / "h.jsonl").write_text("old")
    (tmp_path / "h.json").write_text("old")
    assert main(["export", "hello", "--jsonl", "h.jsonl", "--perfetto", "h.json",
                 "--force"]) == 0
    assert [line.split(" (")[0] for line in capsys.readouterr().out.splitlines()] == [
        "overwrote h.jsonl", "overwrote h.json"]
    assert load_jsonl("h.jsonl").num_steps == 4
