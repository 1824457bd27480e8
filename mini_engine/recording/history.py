"""One request's or one KV block's whole story, step by step, from a recording's public API.

The debugger's detail views need what `seek()` gives for one step, but for every step
of a run: seeking each step would cost a keyframe replay per step, so these walk the
stored deltas once (`Recording.delta`, `entries`, `event_steps`) and keep only what
concerns the one request or block. `waiting_reason` mirrors the rule `seek()` applies
(tests compare the two on every step of the bundled scenarios).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mini_engine.recording.codes import (BLOCK_STATE_NAMES, DECODE, FINISHED_MIN, OP_APPEND,
                                         OP_SET, PREEMPTED, PREFILL_CHUNK, R_COMPUTED, R_REQ, R_STATUS,
                                         R_TOKENS, STATUS_NAMES, WAITING)
from mini_engine.recording.records import StepMetrics

if TYPE_CHECKING:
    from mini_engine.recording.store import Recording

# What a scheduled entry did for its request.
SCHEDULED_NAMES = ("decode", "prefill chunk", "prefill (last chunk)", "recompute",
                   "recompute (last chunk)")


@dataclass(frozen=True)
class HistoryStep:
    """One request in one step (its counters after the step)."""

    step: int
    status: str
    num_computed_tokens: int
    num_tokens: int
    scheduled: str | None  # one of SCHEDULED_NAMES, None when not scheduled
    scheduled_tokens: int
    happenings: tuple  # Happening (kinds other than first_token), in order
    prefix_hit_tokens: int  # admission/resume in this step: tokens found in the prefix cache
    blocks_gained: tuple[int, ...]
    blocks_lost: tuple[int, ...]
    num_blocks: int
    waiting_reason: str | None  # why it waited after this step's schedule() (WAITING_REASONS)


def waiting_reason(rec: Recording, metrics: StepMetrics, step: int, request_id: str,
                   happenings: tuple) -> str:
    """Why a waiting `request_id` did not run in `step` (the rule of `Recording.seek`)."""
    for h in happenings:
        if h.request_id == request_id and h.kind == "arrival":
            return "just_arrived"
        if h.request_id == request_id and h.kind == "preemption":
            return "preempted"
    reason, rest = metrics.waiting_stop_reason, metrics.waiting_stop_rest
    if step == 0 or reason is None:
        return "just_arrived"
    head = metrics.waiting_stop_req_id
    if head == request_id:
        return reason
    if rest != "head_of_line":
        return rest
    if head is not None and rec.config.policy == "priority":
        index = rec.request_index
        if rec.priorities[index[request_id]] > rec.priorities[index[head]]:
            return "priority"
    return "head_of_line"


def request_history(rec: Recording, request_id: str) -> list[HistoryStep]:
    """Every step from the request's arrival to its finish (or the last recorded step)."""
    ri = rec.request_index[request_id]
    arrival = int(rec.arrival_steps[ri])
    if arrival > rec.num_steps:
        return []
    st, req, tok, kind = rec.entries()
    mine = req == ri
    entries: dict[int, tuple[int, int]] = dict(zip(st[mine].tolist(),
                                                   zip(tok[mine].tolist(), kind[mine].tolist())))
    status, computed, tokens = 0, 0, int(rec.prompt_lengths[ri])
    table: list[int] = []
    preempted_once = False
    out: list[HistoryStep] = []
    for s in range(arrival, rec.num_steps + 1):
        d = rec.delta(s)
        sched, n = None, 0
        if s in entries:
            n, k = entries[s]
            computed += n
            tokens += k != PREFILL_CHUNK
            sched = _scheduled_name(k, preempted_once)
        rows = d.rows[d.rows[:, R_REQ] == ri] if len(d.rows) else d.rows
        if len(rows):
            row = rows[-1]
            status, computed, tokens = int(row[R_STATUS]), int(row[R_COMPUTED]), int(row[R_TOKENS])
        gained, lost = _table_change(table, d.table_ops, ri)
        mine_h = tuple(h for h in d.happenings if h.request_id == request_id
                       and h.kind != "first_token")
        hit = sum(h.num_tokens for h in mine_h if h.kind in ("admission", "resume"))
        preempted_once |= any(h.kind == "preemption" for h in mine_h)
        why = (waiting_reason(rec, d.metrics, s, request_id, d.happenings)
               if status in (WAITING, PREEMPTED) else None)
        out.append(HistoryStep(s, STATUS_NAMES[status], computed, tokens, sched, n, mine_h, hit,
                               gained, lost, len(table), why))
        if status >= FINISHED_MIN:
            break
    return out


def _scheduled_name(kind: int, preempted_once: bool) -> str:
    if kind == DECODE:
        return SCHEDULED_NAMES[0]
    last = kind != PREFILL_CHUNK
    if preempted_once:
        return SCHEDULED_NAMES[4 if last else 3]
    return SCHEDULED_NAMES[2 if last else 1]


def _table_change(table: list[int], ops: tuple, ri: int) -> tuple[tuple, tuple]:
    """Apply one step's ops for request `ri` to `table` in place; (gained, lost) blocks."""
    before = list(table)
    for r, op, blocks in ops:
        if r != ri:
            continue
        if op == OP_SET:
            table[:] = blocks
        elif op == OP_APPEND:
            table.extend(blocks)
        else:
            table.clear()
    if table == before:
        return (), ()
    kept = set(before) & set(table)
    return (tuple(b for b in table if b not in kept), tuple(b for b in before if b not in kept))


@dataclass(frozen=True)
class BlockChange:
    """Something that happened to one KV block in one step."""

    step: int
    state: str  # the block's state after the step (BLOCK_STATE_NAMES)
    gained_by: tuple[str, ...]  # requests whose table took it in this step
    lost_by: tuple[str, ...]  # requests whose table let it go
    owners: tuple[str, ...]  # requests holding it after the step (its reference count)
    hit_by: tuple[str, ...] = ()  # of gained_by: took it as a prefix-cache hit
    evicted: bool = False  # its cached hash was dropped in this step


def block_history(rec: Recording, block_id: int) -> list[BlockChange]:
    """Every step in which the block changed state or owners (step 0 onward)."""
    if not 0 <= block_id < rec.config.num_gpu_blocks:
        raise IndexError(f"block {block_id} out of range 0..{rec.config.num_gpu_blocks - 1}")
    ids = rec.request_ids
    lengths: dict[int, int] = {}  # request index -> block-table length
    owners: set[int] = set()
    state = "null" if block_id == 0 else "free"
    out: list[BlockChange] = []
    for d in rec.deltas():
        before = set(owners)
        positions: dict[int, int] = {}  # gained: the block's position in the request's table
        for ri, op, blocks in d.table_ops:
            start = 0 if op == OP_SET else lengths.get(ri, 0)
            if op == OP_SET or op == OP_APPEND:
                lengths[ri] = start + len(blocks)
                if block_id in blocks:
                    owners.add(ri)
                    positions[ri] = start + blocks.index(block_id)
                elif op == OP_SET:
                    owners.discard(ri)
            else:
                lengths.pop(ri, None)
                owners.discard(ri)
        new_state = state
        changes = d.block_changes
        if len(changes):
            hit = changes[changes[:, 0] == block_id]
            if len(hit):
                new_state = BLOCK_STATE_NAMES[int(hit[-1, 1])]
        if new_state == state and owners == before:
            continue
        gained = sorted(owners - before)
        hit_by = tuple(ids[ri] for ri in gained
                       if positions.get(ri, 1 << 62) < _hit_blocks(rec, d, ids[ri]))
        evicted = state == "cached_free" and (new_state == "free" or bool(gained and not hit_by))
        out.append(BlockChange(d.step, new_state, tuple(ids[r] for r in gained),
                               tuple(ids[r] for r in sorted(before - owners)),
                               tuple(ids[r] for r in sorted(owners)), hit_by, evicted))
        state = new_state
    return out


def _hit_blocks(rec: Recording, d, request_id: str) -> int:
    """How many leading blocks of the request's table its admission/resume in this step
    took from the prefix cache (hit blocks lead the table)."""
    hit_tokens = sum(h.num_tokens for h in d.happenings
                     if h.request_id == request_id and h.kind in ("admission", "resume"))
    return hit_tokens // rec.config.block_size
