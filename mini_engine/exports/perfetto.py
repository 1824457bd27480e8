"""Chrome Trace Event JSON of a recorded run, for https://ui.perfetto.dev or chrome://tracing.

Layout (one process, pid 1, named after the scenario):

* one track (thread) per request, tid = 1 + its index in the scenario, named by
  its request id (`thread_name` metadata) and kept in scenario order
  (`thread_sort_index`), with complete ("X") spans:
  - `WAITING`: from its arrival until the step that admits it (or aborts it);
  - `PREFILL`: one span per step that schedules a prefill chunk for it (args:
    step, tokens, and `samples`: whether the chunk finished the prompt and
    sampled a token); a resumed request's recompute is a PREFILL too;
  - `DECODE`: consecutive decode steps merged into one span (args: first_step,
    last_step, steps, tokens) to keep files small;
  - `PREEMPTED`: from the step it was preempted in until the step that resumes
    it (or aborts it);
  and instant ("i", thread scope) events `preempted` (args: tokens lost, KV usage
  before/after), `finished` (args: status and reason: stop / length / abort),
  `aborted` and `ignored` (args also `why`: the stop reason, e.g. "prompt needs 7 KV
  blocks, the cache has 4 usable blocks");
* one `steps` track (tid 0): a span per step named by its kind (prefill, decode,
  mixed, idle, preemption) with the scheduled and budget tokens;
* counter ("C") tracks `running`, `waiting` (requests), `scheduled tokens` and
  `KV cache usage %`, each emitted only when its value changes.

Time: there is no wall clock, so **1 step = 1000 us** (`STEP_US`): step s runs
from (s-1)*1000 to s*1000 us (shown as 1 ms per step). Things that happen *after*
step s (arrivals, aborts, finishes, the queue and KV counters) are at s*1000.

The file is written as a stream (one event per line, never one big string) and
is deterministic: keys sorted, events in step order, within a step in scenario
request order, so the same run always gives the same bytes.
"""

from __future__ import annotations

import json
import os
from typing import IO, Callable, Iterator

from mini_engine.files.write import atomic_write
from mini_engine.recording.codes import DECODE, PREFILL_CHUNK, STEP_KIND_NAMES

from mini_engine.recording.store import Recording
from mini_engine.recording.vocabulary import FINISH_REASONS, finish_label
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import as_recording

STEP_US = 1000
PID = 1
STEPS_TID = 0



def _dumps(event: dict) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Track:
    """A request's open span (WAITING / PREEMPTED / DECODE) while walking the steps."""

    __slots__ = ("tid", "open", "start", "first_step", "last_step", "tokens")

    def __init__(self, tid: int) -> None:
        self.tid = tid
        self.open: str | None = None
        self.start = 0
        self.first_step = self.last_step = self.tokens = 0


def _span(tid: int, name: str, ts: int, dur: int, args: dict) -> dict:
    return {"ph": "X", "pid": PID, "tid": tid, "name": name, "cat": name.lower(), "ts": ts,
            "dur": dur, "args": args}


def _instant(tid: int, name: str, ts: int, args: dict) -> dict:
    return {"ph": "i", "s": "t", "pid": PID, "tid": tid, "name": name, "cat": "event", "ts": ts,
            "args": args}


def _close(track: _Track, end: int) -> dict | None:
    """Close the track's open span at `end` us; the event to emit (None for empty spans)."""
    name, track.open = track.open, None
    if name is None:
        return None
    if name == "DECODE":  # a decode span ends after its last step, whatever closes it
        end = track.last_step * STEP_US
        return _span(track.tid, "DECODE", track.start, end - track.start,
                     {"first_step": track.first_step, "last_step": track.last_step,
                      "steps": track.last_step - track.first_step + 1, "tokens": track.tokens})
    if end <= track.start:
        return None
    return _span(track.tid, name, track.start, end - track.start, {})


def iter_trace_events(source: Recording | Scenario,
                      progress: Callable[[int], None] | None = None) -> Iterator[dict]:
    """Every trace event, in the file's order (see the module docstring);
    `progress(step)` is called every 256 steps."""
    rec = as_recording(source)
    yield from _metadata_events(rec)
    tracks = [_Track(i + 1) for i in range(len(rec.request_ids))]
    counters: dict[str, float] = {}
    summary = rec.summary()
    for step in range(0, rec.num_steps + 1):
        if progress is not None and not step % 256:
            progress(step)
        m = rec.delta(step).metrics
        start, end = (step - 1) * STEP_US, step * STEP_US
        if step > 0:
            yield _span(STEPS_TID, "step", start, STEP_US,
                        {"step": step, "kind": STEP_KIND_NAMES[int(summary.step_kind[step])],
                         "scheduled_tokens": m.num_scheduled_tokens,
                         "token_budget": m.token_budget})
        yield from _request_events(rec, step, tracks)
        if step > 0:
            yield from _counter(counters, "scheduled tokens", start, m.num_scheduled_tokens)
        yield from _counter(counters, "running", end, m.num_requests_running)
        yield from _counter(counters, "waiting", end, m.num_requests_waiting)
        yield from _counter(counters, "KV cache usage %", end,
                            round(m.kv_cache_usage_perc * 100, 4))
    # A partial recording (--until): close what is still open at its last step.
    last = rec.num_steps * STEP_US
    tail = [_close(t, last) for t in tracks]
    yield from (e for e in tail if e is not None)
    if rec.num_steps > 0:
        yield from _counter(counters, "scheduled tokens", last, 0)


def _metadata_events(rec: Recording) -> Iterator[dict]:
    """Process and thread names: one track for the steps, one per request."""
    yield {"ph": "M", "pid": PID, "tid": 0, "name": "process_name",
           "args": {"name": f"mini-engine: {rec.scenario.name}"}}
    yield {"ph": "M", "pid": PID, "tid": STEPS_TID, "name": "thread_name",
           "args": {"name": "steps"}}
    yield {"ph": "M", "pid": PID, "tid": STEPS_TID, "name": "thread_sort_index",
           "args": {"sort_index": 0}}
    for i, rid in enumerate(rec.request_ids):
        yield {"ph": "M", "pid": PID, "tid": i + 1, "name": "thread_name", "args": {"name": rid}}
        yield {"ph": "M", "pid": PID, "tid": i + 1, "name": "thread_sort_index",
               "args": {"sort_index": i + 1}}


def _counter(counters: dict[str, float], name: str, ts: int, value) -> Iterator[dict]:
    """A counter sample, only when the value changed."""
    if counters.get(name) != value:
        counters[name] = value
        yield {"ph": "C", "pid": PID, "tid": 0, "name": name, "ts": ts, "args": {"value": value}}


def _request_events(rec: Recording, step: int, tracks: list) -> Iterator[dict]:
    """One step's per-request spans and instants, sorted by request (then emission order)."""
    d = rec.delta(step)
    index = rec.request_index
    start, end = (step - 1) * STEP_US, step * STEP_US
    out: list[tuple[int, int, dict]] = []  # (request index, order, event): per-step sort

    def emit(ri: int, event: dict | None) -> None:
        if event is not None:
            out.append((ri, len(out), event))

    if step > 0:
        for h in d.happenings:  # during the step: admissions, resumes, preemptions
            ri = index[h.request_id]
            t = tracks[ri]
            if h.kind in ("admission", "resume"):
                emit(ri, _close(t, start))
            elif h.kind == "preemption":
                emit(ri, _close(t, start))
                emit(ri, _instant(t.tid, "preempted", start,
                                  {"step": step, "tokens_lost": h.num_tokens,
                                   "kv_usage_before": h.usage_before,
                                   "kv_usage_after": h.usage_after}))
                t.open, t.start = "PREEMPTED", start
        _scheduled_events(d, step, tracks, emit)
    for h in d.happenings:  # after the step: finishes, arrivals, ignores, aborts
        ri = index[h.request_id]
        t = tracks[ri]
        if h.kind == "arrival":
            t.open, t.start = "WAITING", end
        elif h.kind in ("finish", "abort", "ignore"):
            emit(ri, _close(t, end))
            name = {"finish": "finished", "abort": "aborted", "ignore": "ignored"}[h.kind]
            args = {"step": step, "status": h.status,
                    "reason": finish_label(h.status) if h.status in FINISH_REASONS else h.reason}
            if h.kind == "ignore":
                args["why"] = str(h.stop_reason)  # prompt needs N KV blocks, ...
            emit(ri, _instant(t.tid, name, end, args))
    out.sort(key=lambda e: (e[0], e[1]))
    for _, _, event in out:
        yield event


def _scheduled_events(d, step: int, tracks: list, emit: Callable) -> None:
    """PREFILL spans per chunk; a DECODE span grows over consecutive decode steps."""
    start = (step - 1) * STEP_US
    for ri, n, kind in zip(d.sched_req.tolist(), d.sched_tokens.tolist(),
                           d.sched_kind.tolist()):
        t = tracks[ri]
        if kind == DECODE:
            if t.open == "DECODE" and t.last_step == step - 1:
                t.last_step = step
                t.tokens += n
                continue
            emit(ri, _close(t, start))
            t.open, t.start, t.first_step, t.last_step, t.tokens = (
                "DECODE", start, step, step, n)
        else:
            emit(ri, _close(t, start))
            emit(ri, _span(t.tid, "PREFILL", start, STEP_US,
                           {"step": step, "tokens": n, "samples": kind != PREFILL_CHUNK}))


def write_perfetto(source: Recording | Scenario, fp: IO[str],
                   progress: Callable[[int], None] | None = None) -> int:
    """Stream the trace JSON to a text file object; returns the number of events."""
    rec = as_recording(source)
    header = {"displayTimeUnit": "ms",
              "otherData": {"scenario": rec.scenario.name, "steps": rec.num_steps,
                            "time_unit": f"1 step = {STEP_US} us",
                            "tool": f"mini-engine {rec.tool_version}"}}
    # {"displayTimeUnit": ..., "otherData": ..., "traceEvents": [ ... ]} with sorted keys.
    head = _dumps(header)
    fp.write(head[:-1] + ',"traceEvents":[\n')
    n = 0
    for event in iter_trace_events(rec, progress):
        fp.write((",\n" if n else "") + _dumps(event))
        n += 1
    fp.write("\n]}\n")
    return n


def export_perfetto(source: Recording | Scenario, path: str | os.PathLike,
                    progress: Callable[[int], None] | None = None, *, force: bool = False) -> int:
    """Write the trace JSON to `path` all-or-nothing (files.write.atomic_write: an existing
    file only with `force`, never a FIFO, symlink or directory); returns the number of
    events."""
    with atomic_write(path, force=force) as fp:
        return write_perfetto(source, fp, progress)
