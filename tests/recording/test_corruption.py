"""Issue 8, class 10: a corrupted recording loads as a valid recording or fails with one line.

A corpus (corpus.py) mutates every value of every line of two small recordings (wrong
types, negatives, huge and float numbers, nulls, out-of-range indices, deep nesting,
extra and missing keys) and the lines themselves (lost, doubled, swapped, cut, junk).
Each mutant must either raise one `RecordingError` line naming the file and the line,
or load into a recording that everything downstream (`run`, `check`, `export`, the
debugger's reads) can use, and that saves again into a file that loads.
"""

from __future__ import annotations

import io
import json

import pytest
from recording_corpus import (line_mutants, preemption_scenario, prefix_scenario, recording_text,
                    sample_value_mutants, use_everything)
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_engine.errors import MiniEngineError
from mini_engine.recording.jsonl import RecordingError, load_jsonl, save_jsonl

BASES = {"preemption": preemption_scenario, "prefix": prefix_scenario}
_TEXT: dict[str, str] = {}


def base_text(name: str) -> str:
    if name not in _TEXT:
        _TEXT[name] = recording_text(BASES[name]())
    return _TEXT[name]


def load_or_error(path, data: bytes, label: str):
    """The loaded recording, or None after checking the error is one line naming file and line."""
    path.write_bytes(data)
    try:
        rec = load_jsonl(path)
    except RecordingError as e:
        text = str(e)
        assert isinstance(e, MiniEngineError)
        assert "\n" not in text and "\r" not in text, label
        assert text.startswith(f"{path}:"), (label, text)
        assert e.line is not None, (label, text)
        assert len(text) < 600, (label, text)
        return None
    return rec


def must_be_usable(tmp_path, rec, label: str) -> None:
    use_everything(rec)
    again = tmp_path / "again.jsonl"
    buf = io.StringIO()
    save_jsonl(rec, buf)
    again.write_text(buf.getvalue(), encoding="utf-8")
    load_jsonl(again)  # what a loaded recording saves (its scenario replayed) loads again


@pytest.mark.parametrize("base", sorted(BASES))
def test_value_mutants(base, tmp_path):
    """A seeded sample of the mutants of single values (every field, every kind of bad value)."""
    path = tmp_path / "m.jsonl"
    loaded = 0
    for label, data in sample_value_mutants(base_text(base), 1200, seed=8):
        rec = load_or_error(path, data, label)
        if rec is not None:
            loaded += 1
            must_be_usable(tmp_path, rec, label)
    assert 0 < loaded < 400  # most damage is refused; harmless changes (a string) load


@pytest.mark.parametrize("base", sorted(BASES))
def test_line_mutants(base, tmp_path):
    """Every whole-line mutant: deleted, doubled, swapped, cut, deep nesting, junk bytes."""
    path = tmp_path / "m.jsonl"
    for label, data in line_mutants(base_text(base)):
        rec = load_or_error(path, data, label)
        if rec is not None:
            must_be_usable(tmp_path, rec, label)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4),
                                                                      children, max_size=3),
    max_leaves=6)


def _set_at(value, steps: list[int], new):
    """`value` with the node reached by following `steps` (each an index into the
    children of the node, taken modulo their number) replaced by `new`."""
    if not steps or not isinstance(value, (dict, list)) or not value:
        return new
    keys = list(value) if isinstance(value, dict) else list(range(len(value)))
    key = keys[steps[0] % len(keys)]
    value[key] = _set_at(value[key], steps[1:], new)
    return value


@settings(deadline=None, max_examples=150, derandomize=True)
@given(base=st.sampled_from(sorted(BASES)), line=st.integers(0, 30),
       steps=st.lists(st.integers(0, 50), max_size=5), new=JSON_VALUES,
       second=st.none() | st.tuples(st.integers(0, 30), st.lists(st.integers(0, 50), max_size=5),
                                    JSON_VALUES))
def test_random_mutations(tmp_path_factory, base, line, steps, new, second):
    """Any JSON value put anywhere (once or twice): a usable recording or one error line."""
    lines = base_text(base).splitlines(keepends=True)
    for where, path_steps, value in [(line, steps, new)] + ([second] if second else []):
        i = where % len(lines)
        parsed = _set_at(json.loads(lines[i]), path_steps, value)
        lines[i] = json.dumps(parsed) + "\n"
    tmp = tmp_path_factory.mktemp("h")
    rec = load_or_error(tmp / "m.jsonl", "".join(lines).encode(), repr((line, steps, new)))
    if rec is not None:
        use_everything(rec)


# ----------------------------------------------------------------------------- named cases

def _header(change):
    def mutate(lines):
        h = json.loads(lines[0])
        change(h)
        return [json.dumps(h) + "\n"] + lines[1:]
    return mutate


def _frame(i, change):
    def mutate(lines):
        d = json.loads(lines[i])
        change(d)
        return lines[:i] + [json.dumps(d) + "\n"] + lines[i + 1:]
    return mutate


def _finished_event(d):
    return next(e for e in d["events"] + d["after"] if e["kind"] == "finished")


# What the issue saw (tracebacks, or garbage that loaded), each now one line.
NAMED = [
    ("num_gpu_blocks 1e12", _header(lambda h: h["engine"].update(num_gpu_blocks=1e12)),
     "1: engine.num_gpu_blocks: Input should be a valid integer"),
    ("num_gpu_blocks 10**12", _header(lambda h: h["engine"].update(num_gpu_blocks=10 ** 12)),
     "1: engine.num_gpu_blocks: must be at most 1000000, got 1000000000000"),
    ("arrival_step 1e30", _header(lambda h: h["requests"][0].update(arrival_step=1e30)),
     "1: requests.0.arrival_step: Input should be a valid integer"),
    ("arrival_step 10**30", _header(lambda h: h["requests"][0].update(arrival_step=10 ** 30)),
     "1: requests.0.arrival_step: Input should be less than or equal to 9223372036854775807"),
    ("numeric prompt", _header(lambda h: h["requests"][3].update(prompt=5)),
     "1: requests.3.prompt: Input should be a valid string"),
    ("list as request id", _header(lambda h: h["requests"][0].update(request_id=["a"])),
     "1: requests.0.request_id: Input should be a valid string"),
    ("duplicate request id", _header(lambda h: h["requests"][1].update(request_id="a")),
     "1: requests.1.request_id: duplicate request id 'a' (already used by requests.0)"),
    ("engine refuses", _header(lambda h: h["engine"].update(max_num_batched_tokens=2)),
     "1: engine.max_num_batched_tokens: (2) must be >= max_num_seqs (4)"),
    ("deep header", lambda lines: ['{"format":' + "[" * 100_000 + "]" * 100_000 + "}\n"]
     + lines[1:], "1: invalid JSON: nested too deeply"),
    ("deep frame", lambda lines: lines[:2] + ['{"step":1,"after":' + "[" * 100_000
                                              + "]" * 100_000 + "}\n"] + lines[3:],
     "3: invalid JSON: recursion limit exceeded at line 1 column 219"),
    ("final as a list", lambda lines: lines[:-1] + ['{"final": [1, 2]}\n'],
     "18: final: Input should be an object"),
    ("null metric", _frame(3, lambda d: d["stats"].update(kv_cache_usage=None)),
     "4: stats.kv_cache_usage: Input should be a valid number"),
    ("step 1.9", _frame(2, lambda d: d.update(step=1.9)), "3: step: Input should be a valid integer"),
    ("status 99", _frame(11, lambda d: _finished_event(d).update(status=99)),
     "12: events.1.finished.status: Input should be 'FINISHED_STOPPED', 'FINISHED_LENGTH', "
     "'FINISHED_ABORTED' or 'FINISHED_LENGTH_CAPPED'"),
    ("a vLLM status in a lab run", _frame(11, lambda d: _finished_event(d).update(
        status="FINISHED_LENGTH_CAPPED")),
     "12: events.1.status: FINISHED_LENGTH_CAPPED, but a length stop is FINISHED_LENGTH here "
     "(vllm_compat is False)"),
    ("negative token count", _frame(2, lambda d: d["scheduled"][0].__setitem__(1, -3)),
     "3: scheduled.0.1: Input should be greater than or equal to 1"),
    ("block id out of range", _frame(2, lambda d: d["events"][0].update(block_ids=[1, 10 ** 6])),
     "3: events.0.block_ids: block 1000000 is beyond the cache (num_gpu_blocks is 6)"),
    ("unknown request scheduled", _frame(2, lambda d: d["scheduled"][0].__setitem__(0, "zz")),
     "3: scheduled.0.0: unknown request 'zz'"),
    ("sampled token outside the vocabulary", _frame(2, lambda d: d["scheduled"][0].__setitem__(2, 5000)),
     "3: scheduled.0.2: Input should be less than or equal to 256"),
    ("more tokens than the request has", _frame(2, lambda d: d["scheduled"][0].__setitem__(1, 9)),
     "3: scheduled.0.1: 9 tokens scheduled, but only 8 are left to compute"),
    ("free blocks that disagree", _frame(3, lambda d: d["stats"].update(num_free_blocks=4)),
     "4: stats.num_free_blocks: 4, but the events give 2"),
    ("queue counts that disagree", _frame(3, lambda d: d["at_schedule"].update(num_waiting=0)),
     "4: at_schedule.num_waiting: 0, but the step's events and entries give 3"),
    ("admitted twice", _frame(3, lambda d: d["events"].append(
        {"kind": "admitted", "request_id": "a", "num_computed_tokens": 0, "num_cached_tokens": 0,
         "resumed": False})),
     "4: events.4.request_id: admitted request 'a', which is RUNNING (expected WAITING or "
     "PREEMPTED)"),
    ("complete but unfinished", lambda lines: lines[:3] + [
        '{"final": {"num_steps": 1, "complete": true}}\n'],
     "4: final.complete: the run is marked complete but request 'a' is RUNNING"),
]


@pytest.mark.parametrize("label, mutate, expected", NAMED, ids=[n[0] for n in NAMED])
def test_named_corruptions(label, mutate, expected, tmp_path):
    lines = base_text("preemption").splitlines(keepends=True)
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(mutate(lines)), encoding="utf-8")
    with pytest.raises(RecordingError) as e:
        load_jsonl(path)
    assert str(e.value) == f"{path}:{expected}"
