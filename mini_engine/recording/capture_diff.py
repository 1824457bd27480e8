"""Compare a capture with mini_engine's run of its replay scenario, step by step.

Per step: what was scheduled (tokens per request, in order), which requests were
admitted new or resumed, preemptions, finishes (status and reason), free blocks and
KV usage when schedule() decided and after the step, both queues in order, every
block table, and the prefix-cache queries and hits (when the capture has them); then
the number of steps. A capture line is written after update_from_output(), before the
arrivals and aborts of the next step, so mini_engine's frame (which includes them) is
compared without the requests that arrived or were aborted at that step.
"""

from __future__ import annotations

from dataclasses import dataclass

from mini_engine.recording.capture_load import Capture
from mini_engine.recording.store import Recording


@dataclass(frozen=True)
class Divergence:
    step: int
    field: str
    vllm: object
    mini_engine: object

    def __str__(self) -> str:
        return f"step {self.step}: {self.field}: vLLM {self.vllm!r}, mini_engine {self.mini_engine!r}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 2e-6


class CaptureTables:
    """The capture's queues and block tables as of each line (null = unchanged)."""

    def __init__(self) -> None:
        self.running: list[str] = []
        self.waiting: list[str] = []
        self.tables: dict[str, list[int]] = {}

    def advance(self, s) -> None:
        for rid, replaced, ids in s.blocks:
            table = [] if replaced else self.tables.get(rid, [])
            table = table + list(ids)
            if table:
                self.tables[rid] = table
            else:
                self.tables.pop(rid, None)
        if s.running is not None:
            self.running = list(s.running)
        if s.waiting is not None:
            self.waiting = list(s.waiting)


def _happened(rec: Recording, step: int) -> dict[str, list]:
    by_kind: dict[str, list] = {}
    for h in rec.step_record(step).happenings:
        by_kind.setdefault(h.kind, []).append(h)
    return by_kind


def step_fields(cap: Capture, rec: Recording, index: int, tables: CaptureTables):
    """(field, vLLM value, mini_engine value) for capture line `index`."""
    s = cap.steps[index]
    n = s.step
    record = rec.step_record(n)
    hap = _happened(rec, n)
    m = record.metrics
    yield "scheduled", list(s.scheduled.items()), [(e.request_id, e.num_tokens)
                                                    for e in record.scheduled]
    yield "new", sorted(s.new), sorted(h.request_id for h in hap.get("admission", ()))
    yield "resumed", sorted(s.resumed), sorted(h.request_id for h in hap.get("resume", ()))
    yield "preempted", sorted(s.preempted), sorted(h.request_id
                                                   for h in hap.get("preemption", ()))
    yield ("finished", sorted((f[0], f[1], f[2]) for f in s.finished),
           sorted((h.request_id, h.status, h.reason) for h in hap.get("finish", ())))
    yield ("at_schedule.num_free_blocks", s.at_schedule.num_free_blocks,
           m.num_free_blocks_at_schedule)
    yield ("at_schedule.kv_cache_usage", s.at_schedule.kv_cache_usage,
           m.kv_cache_usage_at_schedule)
    nxt = cap.steps[index + 1] if index + 1 < len(cap.steps) else None
    skip = set()
    if nxt is not None:
        skip = {a.request_id for a in nxt.arrived} | {rid for rid, _ in nxt.aborted}
    state = rec.seek(n)
    yield ("running", [r for r in tables.running if r not in skip],
           [r for r in state.running if r not in skip])
    yield ("waiting", [r for r in tables.waiting if r not in skip],
           [r for r in state.waiting if r not in skip])
    yield ("block_tables", {k: v for k, v in tables.tables.items() if k not in skip},
           {k: list(v) for k, v in state.block_tables.items() if k not in skip})
    if nxt is None or not nxt.aborted:
        yield "num_free_blocks", s.num_free_blocks, m.num_free_blocks
        yield "kv_cache_usage", s.kv_cache_usage, m.kv_cache_usage_perc
    if s.prefix_cache_queries is not None:
        yield "prefix_cache_queries", s.prefix_cache_queries, m.prefix_cache_queries
        yield "prefix_cache_hits", s.prefix_cache_hits, m.prefix_cache_hits


def divergences(cap: Capture, rec: Recording, limit: int | None = None) -> list[Divergence]:
    """Every field that differs (the first `limit` of them), in step order."""
    found: list[Divergence] = []
    tables = CaptureTables()
    for index, s in enumerate(cap.steps):
        if s.step > rec.num_steps:
            found.append(Divergence(s.step, "num_steps", len(cap.steps), rec.num_steps))
            break
        tables.advance(s)
        for name, theirs, ours in step_fields(cap, rec, index, tables):
            same = (_close(theirs, ours) if isinstance(theirs, float) and ours is not None
                    else theirs == ours)
            if not same:
                found.append(Divergence(s.step, name, theirs, ours))
                if limit is not None and len(found) >= limit:
                    return found
    else:
        if cap.complete and rec.num_steps != len(cap.steps):
            found.append(Divergence(len(cap.steps), "num_steps", len(cap.steps), rec.num_steps))
    return found


def request_rows(cap: Capture, rec: Recording) -> list[dict]:
    """Per request, side by side: TTFT step (first token), finish step and status."""
    first_token: dict[str, int] = {}
    finish: dict[str, tuple[int, str]] = {}
    for s in cap.steps:
        for rid in (s.sampled or {}):
            first_token.setdefault(rid, s.step)
        for f in s.finished:
            finish[f[0]] = (s.step, f[1])
        for rid, status in s.aborted:
            finish[rid] = (s.step - 1, status)
    rows = []
    for spec in rec.scenario.requests:
        rid = spec.request_id
        metrics = rec.request_metrics(rid)
        mine_finish = None
        for step in rec.event_steps("any", rid):
            for h in rec.step_record(step).happenings:
                if h.request_id == rid and h.kind in ("finish", "abort", "ignore"):
                    mine_finish = (step, h.status)
        rows.append({
            "request_id": rid,
            "vllm_first_token_step": first_token.get(rid) if cap.header.token_ids else None,
            "mini_first_token_step": metrics.first_token_step,
            "vllm_finish": finish.get(rid), "mini_finish": mine_finish})
    return rows
