"""A corruption corpus for recordings: small valid recordings and many mutants of them.

`mutants(text)` applies, to every value of every line (and to the lines themselves),
wrong types, negatives, huge and float numbers, nulls, out-of-range indices, deep
nesting, extra and missing keys, truncation and junk bytes. `use_everything(rec)` is
what `run`, `check`, `export` and the debugger read from a loaded recording.
"""

from __future__ import annotations

import io
import json
import random

from helpers import req, scenario

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.exports.perfetto import write_perfetto
from mini_engine.exports.table import iter_table_lines
from mini_engine.exports.vllm_log import iter_log_lines
from mini_engine.recording.codes import EVENT_KINDS
from mini_engine.recording.jsonl import save_jsonl
from mini_engine.recording.recorder import record
from mini_engine.scenarios.expect import expect_differences, has_expectations
from mini_engine.scenarios.spec import Expect, ModelSpec, RequestSpec, Scenario, ScenarioEvent

DEEP = 100_000
BAD_VALUES = ("x", "", [1], {}, {"a": 1}, True, False, None, -1, 0, 99, 2 ** 63, 10 ** 30,
              -10 ** 30, 1.9, 1.0, 1e300)


def preemption_scenario() -> Scenario:
    """FCFS, a tight cache (preemptions), a chunked prompt, a late arrival, an abort, an
    ignored request, a text prompt."""
    return scenario([req("a", 8, max_tokens=8), req("b", 8, max_tokens=8),
                     req("c", 2, max_tokens=2, arrival=1), req("d", "hé", max_tokens=3),
                     req("huge", 100)],
                    events=[(3, "d")], block_size=4, num_gpu_blocks=6,
                    max_num_batched_tokens=16, max_num_seqs=4)


def prefix_scenario() -> Scenario:
    """Priority policy, prefix-cache hits, cached and evicted blocks, a stop token, a cache
    reset, and an expect block (what `check` reads)."""
    shared = tuple(range(65, 81))
    reqs = [RequestSpec("p0", SamplingParams(max_tokens=3, temperature=0.0, ignore_eos=True),
                        prompt_token_ids=shared + (90,), priority=1),
            RequestSpec("p1", SamplingParams(max_tokens=4, temperature=0.0, stop_token_ids=[70]),
                        prompt_token_ids=shared + (91, 92), priority=0, arrival_step=2),
            RequestSpec("p2", SamplingParams(max_tokens=2, temperature=0.0, ignore_eos=True),
                        prompt_token_ids=(40,) * 9, priority=-1, arrival_step=2),
            RequestSpec("p3", SamplingParams(max_tokens=2, temperature=0.0, ignore_eos=True),
                        prompt_token_ids=(50,) * 20, arrival_step=4)]
    return Scenario("prefix", "hits and evictions", EngineConfig(
        block_size=4, num_gpu_blocks=9, max_num_batched_tokens=32, max_num_seqs=2,
        policy="priority"), ModelSpec(kind="last_plus_pos", modulus=257), tuple(reqs),
        (ScenarioEvent(6, "reset_prefix_cache", reset_running_requests=True),),
        Expect(statuses={"p0": "FINISHED_LENGTH"}, total_steps=9, num_preemptions=0))


def recording_text(sc: Scenario) -> str:
    buf = io.StringIO()
    save_jsonl(record(sc), buf)
    return buf.getvalue()


# ----------------------------------------------------------------------------- mutants

def _paths(value, path=()):
    """Every (path, value) inside a parsed JSON value, the value itself included."""
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


def _replace(root, path, fn):
    """A deep copy of `root` with the value at `path` replaced by fn(value) (a
    `_DELETE` result removes it)."""
    if not path:
        return fn(root)
    copy = json.loads(json.dumps(root))
    parent = copy
    for p in path[:-1]:
        parent = parent[p]
    new = fn(parent[path[-1]])
    if new is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copy


_DELETE = object()


def _value_mutations(value):
    """(label, fn) pairs: what to put in place of `value`."""
    out = [(f"= {bad!r}"[:30], lambda v, bad=bad: bad) for bad in BAD_VALUES if bad != value]
    if isinstance(value, int) and not isinstance(value, bool):
        out += [("+1", lambda v: v + 1), ("-1", lambda v: v - 1), ("*1000", lambda v: v * 1000 + 7),
                ("float", lambda v: v + 0.5)]
    if isinstance(value, str):
        out += [("unknown id", lambda v: v + "?"), ("long", lambda v: v * 50 + "x" * 10_000)]
    if isinstance(value, list):
        out += [("drop last", lambda v: v[:-1]), ("dup first", lambda v: v[:1] + v),
                ("reversed", lambda v: v[::-1])]
    if isinstance(value, dict):
        out += [("extra key", lambda v: {**v, "zz": 1})]
        out += [(f"drop {k}", lambda v, k=k: {x: y for x, y in v.items() if x != k})
                for k in value]
    return out


def _line_mutations(lines: list[str]):
    """Whole-line damage: lost, repeated, swapped, cut, nested, junk bytes."""
    n = len(lines)
    for i in range(n):
        rest = lines[:i] + lines[i + 1:]
        yield f"line {i + 1} deleted", "".join(rest).encode()
        yield f"line {i + 1} doubled", "".join(lines[:i + 1] + lines[i:]).encode()
        yield f"line {i + 1} cut", ("".join(lines[:i]) + lines[i][:len(lines[i]) // 2]).encode()
        yield f"line {i + 1} cut+nl", ("".join(lines[:i]) + lines[i][:len(lines[i]) // 2]
                                       + "\n" + "".join(lines[i + 1:])).encode()
        if i + 1 < n:
            yield f"lines {i + 1},{i + 2} swapped", "".join(
                lines[:i] + [lines[i + 1], lines[i]] + lines[i + 2:]).encode()
        for junk_name, junk in (("deep list", "[" * DEEP + "]" * DEEP + "\n"),
                                ("deep object", '{"a":' * DEEP + "1" + "}" * DEEP + "\n"),
                                ("blank", "\n"), ("null", "null\n"), ("number", "1e999999\n"),
                                ("digits", "9" * 10_000 + "\n")):
            yield f"line {i + 1} -> {junk_name}", "".join(lines[:i] + [junk] + lines[i + 1:]).encode()
        raw = lines[i].encode()
        yield f"line {i + 1} bad utf-8", b"".join(x.encode() for x in lines[:i]) + raw[:5] + \
            b"\xff\xfe" + raw[5:] + b"".join(x.encode() for x in lines[i + 1:])
        nested = lines[i].rstrip("\n")
        if nested.endswith("}"):
            deep = nested[:-1] + ',"zz":' + "[" * DEEP + "]" * DEEP + "}\n"
            yield f"line {i + 1} deep extra key", "".join(lines[:i] + [deep] + lines[i + 1:]).encode()
    yield "no final newline", "".join(lines).rstrip("\n").encode()
    yield "trailing junk", ("".join(lines) + "{}\n").encode()
    yield "empty", b""
    yield "BOM", b"\xef\xbb\xbf" + "".join(lines).encode()


def value_mutants(text: str):
    """(label, file bytes) for every mutation of every value of every line."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        parsed = json.loads(line)
        for path, value in _paths(parsed):
            for label, fn in _value_mutations(value):
                try:
                    new = _replace(parsed, path, fn)
                except (KeyError, IndexError, TypeError):
                    continue
                body = json.dumps(new, ensure_ascii=False) + "\n"
                yield (f"line {i + 1} {'.'.join(map(str, path)) or '<line>'} {label}",
                       "".join(lines[:i] + [body] + lines[i + 1:]).encode())


def line_mutants(text: str):
    """(label, file bytes) for every whole-line mutation."""
    return list(_line_mutations(text.splitlines(keepends=True)))


def sample_value_mutants(text: str, k: int, seed: int = 0):
    """A fixed, seeded sample of k value mutants."""
    every = list(value_mutants(text))
    return random.Random(seed).sample(every, min(k, len(every)))


# ----------------------------------------------------------------------------- use it

def use_everything(rec) -> None:
    """What `run` (table, log, jsonl), `check`, `export` (jsonl, perfetto) and the debugger
    read from a recording; raises if any of it fails."""
    for s in range(rec.num_steps + 1):
        rec.seek(s)
        rec.step_record(s)
    for rid in rec.request_ids:
        rec.lifecycle(rid)
        rec.request_metrics(rid)
        rec.text(rid)
        for kind in EVENT_KINDS:
            rec.next_step(-1, kind, rid)
    rec.summary()
    for line in iter_table_lines(rec):
        assert "\n" not in line
    list(iter_log_lines(rec))
    write_perfetto(rec, io.StringIO())
    if has_expectations(rec.scenario.expect):
        expect_differences(rec.scenario, rec)
    save_jsonl(rec, io.StringIO())
