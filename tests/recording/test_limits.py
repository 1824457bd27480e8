"""Issue 8, classes 9 and 10: a run stops at MAX_RECORDED_STEPS, a recording file is read
within MAX_RECORDING_BYTES and MAX_LINE_BYTES, never whole, and saved all-or-nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from recording_corpus import preemption_scenario, prefix_scenario
from helpers import req, scenario

from mini_engine.cli import main
from mini_engine.files.write import OutputExistsError
from mini_engine.recording import jsonl, limits, recorder
from mini_engine.recording.jsonl import RecordingError, load_jsonl, save_jsonl
from mini_engine.recording.limits import (MAX_LINE_BYTES, MAX_RECORDED_STEPS,
                                          MAX_RECORDING_BYTES, StepLimitError, estimate_min_steps)
from mini_engine.recording.recorder import Recorder, record
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario
from mini_engine.scenarios.spec import ModelSpec

SCENARIOS = Path(__file__).resolve().parents[2] / "mini_engine" / "scenarios"


def test_documented_limits():
    assert MAX_RECORDED_STEPS == 1_000_000
    assert MAX_RECORDING_BYTES == 1024 ** 3
    assert MAX_LINE_BYTES == 64 * 1024 ** 2
    large = load_scenario(resolve_scenario("large_workload"))
    assert large.expect.total_steps * 40 < MAX_RECORDED_STEPS  # far below the limit


# ----------------------------------------------------------------------------- step limit

def test_a_run_that_cannot_fit_is_refused_at_once():
    sc = scenario([req("a", 4, max_tokens=2, arrival=10 ** 9)])
    assert estimate_min_steps(sc) == 10 ** 9 + 1
    with pytest.raises(StepLimitError) as e:
        record(sc)
    assert str(e.value) == (
        "test: the run takes at least 1,000,000,001 steps; a recording holds at most "
        "1,000,000 steps (MAX_RECORDED_STEPS): record fewer with --until STEPS, or shorten "
        "the scenario")
    assert record(sc, until=5).num_steps == 5  # its first steps can still be looked at


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(recorder, "MAX_RECORDED_STEPS", 40)
    monkeypatch.setattr(limits, "MAX_RECORDED_STEPS", 40)


def endless():
    """Never stops on EOS (a constant model) and is not ignore_eos: no estimate can see it."""
    return scenario([req("a", 4, max_tokens=1000, ignore_eos=False)],
                    model=ModelSpec(kind="constant", value=65))


def test_a_run_stops_at_the_step_limit(small_limit):
    sc = endless()
    assert estimate_min_steps(sc) == 0
    with pytest.raises(StepLimitError, match=r"^test: still running after 40 steps; a "
                                             r"recording holds at most 40 steps"):
        record(sc)
    assert record(sc, until=40).num_steps == 40  # exactly at the limit is fine
    rec_rec = Recorder(sc)
    with pytest.raises(StepLimitError):
        rec_rec.advance(100)
    assert rec_rec.recording.num_steps == 40 and not rec_rec.done
    with pytest.raises(StepLimitError):  # and on every later call: never marked complete
        rec_rec.advance(1)
    assert not rec_rec.recording.complete


def test_a_run_at_the_limit_is_not_refused(small_limit):
    sc = scenario([req("a", 4, max_tokens=39)])  # 39 steps
    assert estimate_min_steps(sc) == 38
    assert record(sc).complete


def test_run_refuses_an_endless_scenario_with_one_line(tmp_path, capsys):
    path = tmp_path / "long.yaml"
    path.write_text("name: long\ndescription: never ends in practice\n"
                    "engine: {max_model_len: 200000000, num_gpu_blocks: 1000000, "
                    "block_size: 1024}\n"
                    "requests:\n  - {prompt: x, max_tokens: 100000000, ignore_eos: true}\n")
    assert main(["run", str(path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == (f"{path}: long: the run takes at least 99,999,999 steps; a recording holds "
                   f"at most 1,000,000 steps (MAX_RECORDED_STEPS): record fewer with --until "
                   f"STEPS, or shorten the scenario")


def _small_scenarios():
    yield preemption_scenario()
    yield prefix_scenario()
    for i in range(12):
        yield scenario([req(f"r{k}", 3 + (i * 7 + k * 5) % 30, max_tokens=1 + (i + k) % 9,
                            arrival=(i * k) % 6, ignore_eos=(i + k) % 3 > 0)
                        for k in range(1 + i % 5)],
                       events=[(i % 7, "r0")] if i % 4 == 0 else (), block_size=4,
                       num_gpu_blocks=4 + i % 9, max_num_batched_tokens=16, max_num_seqs=2,
                       max_model_len=20 + i)


def test_the_estimate_is_a_lower_bound():
    for sc in _small_scenarios():
        assert estimate_min_steps(sc) <= record(sc).num_steps
    for path in sorted(SCENARIOS.glob("*.yaml")):
        sc = load_scenario(path)
        assert estimate_min_steps(sc) <= sc.expect.total_steps, path.name


# ----------------------------------------------------------------------------- file limits

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "rec.jsonl"
    save_jsonl(record(preemption_scenario()), path)
    return path


def test_a_line_above_the_limit(saved, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_LINE_BYTES", 100)
    with pytest.raises(RecordingError) as e:
        load_jsonl(saved)
    assert str(e.value) == (f"{saved}:1: line longer than 100 bytes (MAX_LINE_BYTES): not a "
                            f"recording this tool can read")


def test_a_file_above_the_limit(saved, monkeypatch):
    monkeypatch.setattr(jsonl, "MAX_RECORDING_BYTES", 1000)
    with pytest.raises(RecordingError) as e:
        load_jsonl(saved)
    assert str(e.value) == (f"{saved}: {os.path.getsize(saved) / 1024:.1f} KB is over the "
                            f"1000 bytes limit for a recording")


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.jsonl"
    os.mkfifo(fifo)
    code = ("from mini_engine.recording.jsonl import load_jsonl, RecordingError\n"
            f"try:\n    load_jsonl({str(fifo)!r})\nexcept RecordingError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.strip() == (f"{fifo}: is a FIFO (named pipe), not a regular file; a "
                                  f"recording must be a regular file")


def test_load_streams_line_by_line(saved, monkeypatch):
    """load_jsonl never reads the whole file: every read is bounded by one line."""
    real_open = jsonl.open_input
    sizes = []

    class Bounded:
        def __init__(self, f):
            self.f = f

        def readline(self, size=-1):
            sizes.append(size)
            return self.f.readline(size)

        def read(self, size=-1):
            sizes.append(size)
            return self.f.read(size)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(jsonl, "open_input", lambda *a, **k: Bounded(real_open(*a, **k)))
    assert load_jsonl(saved) == record(preemption_scenario())
    assert sizes and all(0 < s <= MAX_LINE_BYTES + 1 for s in sizes)


# ----------------------------------------------------------------------------- saving

def test_save_refuses_to_overwrite_without_force(saved):
    before = saved.read_bytes()
    rec = record(prefix_scenario())
    with pytest.raises(OutputExistsError):
        save_jsonl(rec, saved)
    assert saved.read_bytes() == before
    save_jsonl(rec, saved, force=True)
    assert load_jsonl(saved) == rec


def test_a_failed_save_leaves_nothing(tmp_path):
    target = tmp_path / "out.jsonl"

    def boom(step):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        save_jsonl(record(preemption_scenario()), target, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_a_loaded_recording_saves_the_same_bytes(saved):
    buf = io.StringIO()
    save_jsonl(load_jsonl(saved), buf)
    assert buf.getvalue().encode() == saved.read_bytes()


# ----------------------------------------------------------------------------- memory

def test_thinned_keyframes_and_snapshots_read_the_same(monkeypatch):
    """Past their memory budgets, keyframes and snapshots are thinned: every frame still
    reads the same and resuming anywhere gives the same engine."""
    from helpers import engine_state

    from mini_engine.recording import snapshots
    from mini_engine.recording.recorder import resume_at
    from mini_engine.recording.store import Recording

    sc = scenario([req(f"r{k}", 5 + 3 * k, max_tokens=40 + 9 * k, arrival=4 * k)
                   for k in range(6)], block_size=4, num_gpu_blocks=30,
                  max_num_batched_tokens=16, max_num_seqs=3)
    full = record(sc)
    monkeypatch.setattr(Recording, "KEYFRAME_STEPS", 4)
    monkeypatch.setattr(Recording, "MAX_KEYFRAME_BYTES", 3000)
    monkeypatch.setattr(snapshots, "SNAPSHOT_STEPS", 4)
    monkeypatch.setattr(snapshots, "MAX_SNAPSHOT_BYTES", 30_000)
    monkeypatch.setattr(snapshots, "MIN_SNAPSHOTS", 2)
    thin = record(sc)
    assert thin == full and full.num_steps > 100
    assert thin.snapshot_every > 4 and len(thin.snapshots) < thin.num_steps // 4
    for s in range(full.num_steps + 1):
        assert thin.seek(s) == full.seek(s)
    for s in range(0, full.num_steps + 1, 7):
        assert engine_state(resume_at(thin, s)) == engine_state(resume_at(full, s))
