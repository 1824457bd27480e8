"""Per-request answers computed from a recording's frames: the lab's lifecycle and step
metrics, and when and why a request was ignored (the words every view prints)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mini_engine.engine.lab import Event
from mini_engine.engine.request import RequestStatus
from mini_engine.recording.codes import (FINISHED_MIN, PREFILL_CHUNK, R_COMPUTED, R_REQ, R_STATUS,
                                         R_TOKENS, RUNNING, STATUS_NAMES)
from mini_engine.recording.records import RequestMetrics

if TYPE_CHECKING:
    from mini_engine.recording.store import Recording


def _request_rows(rec: Recording, request_id: str) -> list[tuple[int, list[int]]]:
    """(step, row) for every step that rewrote this request's counters."""
    ri = rec.request_index[request_id]
    steps = sorted(set(s for k in ("arrival", "admission", "resume", "preemption", "finish",
                                   "abort", "ignore")
                       for s in rec.event_steps(k, request_id)))
    out = []
    for s in steps:
        rows = rec.delta(s).rows
        hit = rows[rows[:, R_REQ] == ri]
        if len(hit):
            out.append((s, hit[-1].tolist()))
    return out


def lifecycle(rec: Recording, request_id: str) -> list[Event]:
    """The lab's event list for one request: after each step in which it was running
    (before that step's aborts) or in engine.step()'s finished list."""
    ri = rec.request_index[request_id]
    rows = _request_rows(rec, request_id)
    if not rows:
        return []
    st, req, tok, kind = rec.entries()
    mine = req == ri
    e_steps, e_tok, e_kind = st[mine].tolist(), tok[mine].tolist(), kind[mine].tolist()
    reported = {}
    for s in rec.reported_steps(request_id):
        reported[s] = True
    abort_prev = {}
    for s in rec.event_steps("abort", request_id):
        for h in rec.delta(s).happenings:
            if h.kind == "abort" and h.request_id == request_id:
                abort_prev[s] = h.prev_status
    events: list[Event] = []
    first_step = rows[0][0]
    last = rec.num_steps
    row_i = 0
    status = computed = tokens = None
    e_i = 0
    for s in range(first_step, last + 1):
        # counters after step s's update (rows at s are end-of-frame: apply them)
        while e_i < len(e_steps) and e_steps[e_i] == s:
            if status is not None:
                computed += e_tok[e_i]
                tokens += e_kind[e_i] != PREFILL_CHUNK
            e_i += 1
        if row_i < len(rows) and rows[row_i][0] == s:
            row = rows[row_i][1]
            status, computed, tokens = row[R_STATUS], row[R_COMPUTED], row[R_TOKENS]
            row_i += 1
        pre_abort = status
        if s in abort_prev:
            pre_abort = RequestStatus[abort_prev[s]].value
        if s in reported:
            events.append(Event(request_id, STATUS_NAMES[status], computed, tokens))
        elif pre_abort == RUNNING:
            events.append(Event(request_id, "RUNNING", computed, tokens))
        if status is not None and status >= FINISHED_MIN and row_i >= len(rows) and \
                not any(k > s for k in reported):
            break
    return events


def request_metrics(rec: Recording, request_id: str) -> RequestMetrics:
    """Latencies in steps, preemptions, tokens recomputed and the final status."""
    ri = rec.request_index[request_id]
    arrival = int(rec.arrival_steps[ri])
    st, req, tok, kind = rec.entries()
    mine = req == ri
    steps = st[mine]
    token_steps = tuple(steps[kind[mine] != PREFILL_CHUNK].tolist())
    first_sched = int(steps[0]) if len(steps) else None
    first_tok = token_steps[0] if token_steps else None
    gaps = tuple(b - a for a, b in zip(token_steps, token_steps[1:]))
    lost = 0
    preemption_steps = rec.event_steps("preemption", request_id)
    for s in preemption_steps:
        for h in rec.delta(s).happenings:
            if h.kind == "preemption" and h.request_id == request_id:
                lost += h.num_tokens
    finish_step = finish_reason = None
    status = "PENDING"
    for k in ("finish", "abort", "ignore"):
        for s in rec.event_steps(k, request_id):
            finish_step = s
            for h in rec.delta(s).happenings:
                if h.kind == k and h.request_id == request_id:
                    finish_reason = h.reason
    rows = _request_rows(rec, request_id)
    if rows:
        status = STATUS_NAMES[rows[-1][1][R_STATUS]]
    return RequestMetrics(
        request_id, arrival, first_sched,
        None if first_sched is None else first_sched - arrival - 1,
        first_tok, None if first_tok is None else first_tok - arrival,
        token_steps, gaps, (sum(gaps) / len(gaps)) if gaps else None,
        len(preemption_steps), lost, finish_step, status,
        finish_reason)


def ignored_at(rec: Recording, request_id: str) -> tuple[int, str] | None:
    """(step, stop reason) of the request's `ignore` event, or None: the step is the frame
    the event is recorded in (add_request's frame, step 0 for `arrival_step: 0`; or the
    step whose schedule() ended it), one before the step that reports it when it was
    add_request."""
    for s in rec.event_steps("ignore", request_id):
        for h in rec.delta(s).happenings:
            if h.kind == "ignore" and h.request_id == request_id:
                return s, str(h.stop_reason)
    return None


def ignore_note(rec: Recording, request_id: str, reported_step: int) -> str | None:
    """`ID ignored at add_request (step N): REASON`, or `ID ignored by schedule(): REASON`
    when the step that reports it also ended it (the `run` notes column, the log line);
    None for a request that was not ignored."""
    found = ignored_at(rec, request_id)
    if found is None:
        return None
    step, reason = found
    where = f"at add_request (step {step})" if step < reported_step else "by schedule()"
    return f"{request_id} ignored {where}: {reason}"
