"""`Recording`: an immutable, seekable timeline of every engine step of a run.

Frame s is the state once s steps have run *and* the arrivals/events due at step s
were applied (frame 0: before step 1, step-0 arrivals WAITING). Each step is stored
as a `StepDelta` (what was scheduled and sampled, what happened, the per-request rows
that changed, block-table ops, KV block-state changes, metrics), built by the
recorder from what the engine emitted. `seek(s)` starts from the nearest keyframe
(full columns every <= K steps) and applies the deltas after it, vectorized.

Counters in metrics and states are those of the frame (after arrivals/aborts at
step s), so the queues, the KV map and the timeline always agree; the moment
`schedule()` decided is kept beside them (`*_at_schedule`, `waiting_stop_*`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.lab import Event
from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.recording.analysis import lifecycle, request_metrics
from mini_engine.recording.codes import (BLOCK_NULL, COLUMNS, DECODE, ENTRY_KIND_NAMES, EVENT_KINDS,
                                         FINISHED_MIN, OP_APPEND, OP_SET, PENDING, PREEMPTED,
                                         PREFILL_CHUNK, R_REQ, REASON_CODE, REASON_LIST, RUNNING,
                                         STEP_DECODE, STEP_IDLE, STEP_KIND_NAMES, STEP_MIXED,
                                         STEP_PREEMPTION, STEP_PREFILL, WAITING, read_only)
from mini_engine.recording.records import (RequestMetrics, ScheduledEntry, StepDelta, StepMetrics,
                                           StepRecord, StepState, Summary)
from mini_engine.scenarios.spec import Scenario


def apply_table_ops(tables: dict[int, list[int]], ops: tuple) -> None:
    """Replay one step's block-table changes (set, append, clear) in order."""
    for ri, op, blocks in ops:
        if op == OP_SET:
            tables[ri] = list(blocks)
        elif op == OP_APPEND:
            tables.setdefault(ri, []).extend(blocks)
        else:
            tables.pop(ri, None)


@dataclass
class _Keyframe:
    step: int
    cols: dict  # column name -> array copy
    tables: dict  # req index -> tuple of block ids
    codes: np.ndarray


# ----------------------------------------------------------------------------- recording

def prompt_length(spec) -> int:
    if spec.prompt_token_ids is not None:
        return len(spec.prompt_token_ids)
    return len(spec.prompt.encode("utf-8"))


class Recording:
    """A run's timeline. Read-only for users; grows only through `_apply` (recorder or loader)."""

    KEYFRAME_STEPS = 128
    KEYFRAME_ENTRIES = 16384
    # What the keyframes may hold (a million KV blocks is 1 MB a keyframe); past it they
    # are thinned and come half as often, so seeking applies more deltas, never more memory.
    MAX_KEYFRAME_BYTES = 256 * 1024 ** 2

    def __init__(self, scenario: Scenario, tool_version: str | None = None) -> None:
        from mini_engine.version import __version__
        self.scenario = scenario
        self.config: EngineConfig = scenario.engine
        self.tool_version = tool_version or __version__
        specs = scenario.requests
        self.request_ids: tuple[str, ...] = tuple(s.request_id for s in specs)
        self.request_index: Mapping[str, int] = MappingProxyType(
            {rid: i for i, rid in enumerate(self.request_ids)})
        n = len(specs)
        self.prompt_lengths = read_only(np.array([prompt_length(s) for s in specs], dtype=np.int64))
        self.arrival_steps = read_only(np.array([s.arrival_step for s in specs], dtype=np.int64))
        self.priorities = read_only(np.array([s.priority for s in specs], dtype=np.int64))
        self._priority_policy = self.config.policy == "priority"
        # Live mirror of the current (last) frame.
        self._cols = {
            "status": np.zeros(n, np.int8), "computed": np.zeros(n, np.int64),
            "tokens": self.prompt_lengths.copy(), "cached": np.full(n, -1, np.int64),
            "npreempt": np.zeros(n, np.int64), "qkey": np.zeros(n, np.int64)}
        self._tables: dict[int, list[int]] = {}
        nb = self.config.num_gpu_blocks
        self._codes = np.zeros(nb, np.uint8)
        self._codes[0] = BLOCK_NULL
        self._deltas: list[StepDelta] = []
        self._keyframes: list[_Keyframe] = []
        self._kf_steps: list[int] = []
        self._entries_since_kf = 0
        self._changed_since_kf = False
        self._kf_every = (self.KEYFRAME_STEPS, self.KEYFRAME_ENTRIES)  # steps, entries
        self._kf_bytes = 0
        self._index: dict[str, list[int]] = {k: [] for k in EVENT_KINDS + ("reported",)}
        self._req_index: dict[tuple[str, int], list[int]] = {}
        self._summary_cols: dict[str, list] = {k: [] for k in (
            "step_kind", "num_scheduled_tokens", "num_requests_running", "num_requests_waiting",
            "kv_cache_usage_perc", "num_preemptions", "prefix_cache_queries",
            "prefix_cache_hits")}
        self._summary_cache: tuple[int, Summary] | None = None
        self._entries_cache: tuple[int, tuple] | None = None
        self._samples_cache: tuple[int, tuple] | None = None
        self.complete = False
        self.num_steps = -1  # frames 0..num_steps are readable
        # Engine states to resume from (snapshots.resume_at), by step: opaque to the
        # recording; kept every `snapshot_every` steps (0: none kept yet).
        self.snapshots: dict[int, object] = {}
        self.snapshot_every = 0

    # -------------------------------------------------------------- growth (internal)

    def append(self, d: StepDelta) -> None:
        """Add the next frame (the recorder's and the JSONL loader's one way to grow it)."""
        cols, tables, codes = self._cols, self._tables, self._codes
        if len(d.sched_req):
            cols["computed"][d.sched_req] += d.sched_tokens
            cols["tokens"][d.sched_req] += d.sched_kind != PREFILL_CHUNK
        if len(d.rows):
            r = d.rows[:, R_REQ]
            for j, name in enumerate(COLUMNS, start=1):
                cols[name][r] = d.rows[:, j]
        apply_table_ops(tables, d.table_ops)
        if len(d.block_changes):
            codes[d.block_changes[:, 0]] = d.block_changes[:, 1]  # unique block ids per step
        self._deltas.append(d)
        self._index_step(d)
        m = d.metrics
        sc = self._summary_cols
        if d.metrics.num_preemptions:
            kind = STEP_PREEMPTION
        elif not m.num_scheduled_tokens:
            kind = STEP_IDLE
        elif not m.decode_tokens:
            kind = STEP_PREFILL
        elif not m.prefill_tokens:
            kind = STEP_DECODE
        else:
            kind = STEP_MIXED
        sc["step_kind"].append(kind)
        for name in ("num_scheduled_tokens", "num_requests_running", "num_requests_waiting",
                     "kv_cache_usage_perc", "num_preemptions", "prefix_cache_queries",
                     "prefix_cache_hits"):
            sc[name].append(getattr(m, name))
        self._entries_since_kf += len(d.sched_req) + len(d.rows) + 4 * len(d.table_ops) + len(
            d.block_changes)
        self._changed_since_kf |= bool(len(d.sched_req) or len(d.rows) or d.table_ops
                                       or len(d.block_changes))
        if (not self._kf_steps or d.step - self._kf_steps[-1] >= self._kf_every[0]
                or self._entries_since_kf >= self._kf_every[1]):
            self._add_keyframe(d.step)
        self.num_steps = d.step  # published last: readers see complete frames only

    def _add_keyframe(self, step: int) -> None:
        """Keep the current columns (shared with the last keyframe when nothing changed),
        then thin the keyframes if they pass MAX_KEYFRAME_BYTES."""
        if self._keyframes and not self._changed_since_kf:
            last = self._keyframes[-1]
            kf = _Keyframe(step, last.cols, last.tables, last.codes)
        else:
            kf = _Keyframe(step, {k: v.copy() for k, v in self._cols.items()},
                           {ri: tuple(t) for ri, t in self._tables.items()}, self._codes.copy())
            self._kf_bytes += (sum(v.nbytes for v in kf.cols.values()) + kf.codes.nbytes
                               + 8 * sum(map(len, kf.tables.values())))
        self._keyframes.append(kf)
        self._kf_steps.append(step)
        self._entries_since_kf = 0
        self._changed_since_kf = False
        if self._kf_bytes > self.MAX_KEYFRAME_BYTES and len(self._keyframes) > 2:
            # Every other keyframe goes (the first stays); later ones come half as often.
            keep = self._keyframes[::2]
            self._kf_bytes = self._kf_bytes * len(keep) // len(self._keyframes)
            self._keyframes, self._kf_steps = keep, [k.step for k in keep]
            self._kf_every = (self._kf_every[0] * 2, self._kf_every[1] * 2)

    def _add_index(self, kind: str, step: int, ri: int | None) -> None:
        lst = self._index[kind]
        if not lst or lst[-1] != step:
            lst.append(step)
        if ri is not None:
            lst = self._req_index.setdefault((kind, ri), [])
            if not lst or lst[-1] != step:
                lst.append(step)

    def _index_step(self, d: StepDelta) -> None:
        s, idx = d.step, self.request_index
        any_list = self._index["any"]
        for h in d.happenings:
            ri = idx[h.request_id]
            self._add_index(h.kind, s, ri)
            self._add_index("any", s, ri)
        if len(d.sched_req):
            chunk = d.sched_req[d.sched_kind != DECODE]
            if len(chunk):
                for ri in chunk.tolist():
                    self._add_index("chunk", s, ri)
                    self._add_index("any", s, ri)
        for ri in d.reported_finished:
            self._add_index("reported", s, ri)
        # KV ran out: full after the step, admission blocked on blocks, or a preemption.
        if (d.metrics.kv_cache_usage_perc >= 1.0 or d.metrics.num_preemptions
                or d.metrics.waiting_stop_reason == "kv_cache"):
            self._add_index("kv_full", s, None)
            if not any_list or any_list[-1] != s:
                any_list.append(s)

    def finish(self) -> None:
        """The run is over: no frame will be added."""
        self.complete = True

    def frame_column(self, name: str) -> np.ndarray:
        """The newest frame's column `name` (see codes.COLUMNS), read-only: what the builder extends."""
        view = self._cols[name].view()
        view.flags.writeable = False
        return view

    def frame_block_codes(self) -> np.ndarray:
        """The newest frame's per-block KV-map states, read-only."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    # -------------------------------------------------------------- basic reads

    @property
    def num_frames(self) -> int:
        return self.num_steps + 1

    def _check(self, step: int) -> int:
        step = int(step)
        if not 0 <= step <= self.num_steps:
            raise IndexError(f"step {step} out of range 0..{self.num_steps}")
        return step

    def delta(self, step: int) -> StepDelta:
        return self._deltas[self._check(step)]

    def deltas(self) -> Iterable[StepDelta]:
        return iter(self._deltas[:self.num_steps + 1])

    def step_record(self, step: int) -> StepRecord:
        d = self.delta(step)
        ids = self.request_ids
        scheduled = tuple(ScheduledEntry(ids[r], n, ENTRY_KIND_NAMES[k]) for r, n, k in zip(
            d.sched_req.tolist(), d.sched_tokens.tolist(), d.sched_kind.tolist()))
        return StepRecord(step, scheduled, d.happenings, d.metrics,
                          STEP_KIND_NAMES[self._summary_cols["step_kind"][step]])

    def metrics(self, step: int) -> StepMetrics:
        return self.delta(step).metrics

    def summary(self) -> Summary:
        n = self.num_steps + 1
        if self._summary_cache is None or self._summary_cache[0] != n:
            sc = self._summary_cols
            dtypes = {"step_kind": np.int8, "kv_cache_usage_perc": np.float64}
            arrays = {k: read_only(np.array(v[:n], dtype=dtypes.get(k, np.int64)))
                      for k, v in sc.items()}
            self._summary_cache = (n, Summary(**arrays))
        return self._summary_cache[1]

    # -------------------------------------------------------------- seek

    def seek(self, step: int) -> StepState:
        step = self._check(step)
        kf = self._keyframes[bisect.bisect_right(self._kf_steps, step) - 1]
        cols = {k: v.copy() for k, v in kf.cols.items()}
        tables = {ri: list(t) for ri, t in kf.tables.items()}
        deltas = self._deltas[kf.step + 1:step + 1]
        codes = kf.codes.copy()
        if deltas:
            rows = [d.rows for d in deltas if len(d.rows)]
            last_row_step = np.full(len(self.request_ids), kf.step, dtype=np.int64)
            if rows:
                row_steps = np.repeat([d.step for d in deltas if len(d.rows)],
                                      [len(r) for r in rows])
                allrows = np.concatenate(rows)
                rev = allrows[::-1]
                uniq, first = np.unique(rev[:, R_REQ], return_index=True)
                last = rev[first]
                for j, name in enumerate(COLUMNS, start=1):
                    cols[name][uniq] = last[:, j]
                last_row_step[uniq] = row_steps[::-1][first]
            sched = [d for d in deltas if len(d.sched_req)]
            if sched:
                req = np.concatenate([d.sched_req for d in sched])
                ntok = np.concatenate([d.sched_tokens for d in sched])
                kind = np.concatenate([d.sched_kind for d in sched])
                st = np.repeat([d.step for d in sched], [len(d.sched_req) for d in sched])
                keep = st > last_row_step[req]
                req, ntok, kind = req[keep], ntok[keep], kind[keep]
                n = len(self.request_ids)
                cols["computed"] += np.bincount(req, weights=ntok, minlength=n).astype(np.int64)
                cols["tokens"] += np.bincount(req[kind != PREFILL_CHUNK],
                                              minlength=n).astype(np.int64)
            for d in deltas:
                apply_table_ops(tables, d.table_ops)
            changes = [d.block_changes for d in deltas if len(d.block_changes)]
            if changes:
                ch = np.concatenate(changes)[::-1]
                uniq, first = np.unique(ch[:, 0], return_index=True)
                codes[uniq] = ch[first, 1]
        return self._state(step, cols, tables, codes)

    def _queue_order(self, cols: dict, which: np.ndarray, waiting: bool) -> np.ndarray:
        qkey = cols["qkey"][which]
        if waiting and self._priority_policy:
            order = np.lexsort((qkey, self.priorities[which]))
        else:
            order = np.argsort(qkey, kind="stable")
        return which[order]

    def _state(self, step: int, cols: dict, tables: dict, codes: np.ndarray) -> StepState:
        ids = self.request_ids
        status = cols["status"]
        running_i = self._queue_order(cols, np.flatnonzero(status == RUNNING), False)
        waiting_i = self._queue_order(
            cols, np.flatnonzero((status == WAITING) | (status == PREEMPTED)), True)
        finished_i = np.flatnonzero(status >= FINISHED_MIN)
        waiting = tuple(map(ids.__getitem__, waiting_i.tolist()))
        nblocks = np.zeros(len(ids), np.int64)
        for ri, t in tables.items():
            nblocks[ri] = len(t)
        d = self._deltas[step]
        return StepState(
            step=step, request_ids=ids, status=read_only(status),
            num_computed_tokens=read_only(cols["computed"]), num_tokens=read_only(cols["tokens"]),
            num_prompt_tokens=self.prompt_lengths, num_cached_tokens=read_only(cols["cached"]),
            num_preemptions=read_only(cols["npreempt"]), num_blocks=read_only(nblocks),
            running=tuple(map(ids.__getitem__, running_i.tolist())), waiting=waiting,
            waiting_reasons=self._waiting_reasons(d, waiting_i, cols),
            finished=tuple(map(ids.__getitem__, finished_i.tolist())),
            block_tables=MappingProxyType({ids[ri]: tuple(t) for ri, t in tables.items()}),
            block_states=read_only(codes), metrics=d.metrics, request_index=self.request_index,
            arrival_step=self.arrival_steps, priority=self.priorities)

    def _waiting_reasons(self, d: StepDelta, waiting_i: np.ndarray, cols: dict) -> tuple:
        """Why each waiting request did not run in this step's schedule() (see WAITING_REASONS).

        Arrivals are added after the schedule, so a request that arrived at this step was
        not considered yet ("just_arrived"); everyone else was, in queue order: the head
        the admission loop stopped at gets the scheduler's reason, those behind it wait
        for the same reason when it applies to all (budget, seats, a preemption step),
        else behind the blocked head ("head_of_line", or "priority" if less urgent).
        """
        if not len(waiting_i):
            return ()
        index = self.request_index
        reason = d.metrics.waiting_stop_reason
        rest = d.metrics.waiting_stop_rest
        if d.step == 0 or reason is None:
            # Step 0 has had no schedule(); with no stop reason the queue was drained,
            # so whoever waits arrived (or was preempted) after it.
            codes = np.full(len(waiting_i), REASON_CODE["just_arrived"], np.int8)
        else:
            if rest != "head_of_line":  # the scheduler says it applies to all of them
                codes = np.full(len(waiting_i), REASON_CODE[rest], np.int8)
            else:
                codes = np.full(len(waiting_i), REASON_CODE["head_of_line"], np.int8)
                head = d.metrics.waiting_stop_req_id
                if head is not None and self._priority_policy:
                    less_urgent = self.priorities[waiting_i] > self.priorities[index[head]]
                    codes[less_urgent] = REASON_CODE["priority"]
            head = d.metrics.waiting_stop_req_id
            if head is not None:
                codes[waiting_i == index[head]] = REASON_CODE[reason]
        for kind, name in (("arrival", "just_arrived"), ("preemption", "preempted")):
            mine = [index[h.request_id] for h in d.happenings if h.kind == kind]
            if mine:
                codes[np.isin(waiting_i, mine)] = REASON_CODE[name]
        return tuple(map(REASON_LIST.__getitem__, codes.tolist()))

    # -------------------------------------------------------------- index

    def _steps(self, kind: str, request_id: str | None) -> list[int]:
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
        if request_id is None:
            return self._index[kind]
        return self._req_index.get((kind, self.request_index[request_id]), [])

    def next_step(self, after: int, kind: str = "any", request_id: str | None = None) -> int | None:
        """The first step > `after` with an event of `kind` (for `request_id`), or None."""
        steps = self._steps(kind, request_id)
        i = bisect.bisect_right(steps, after)
        return steps[i] if i < len(steps) and steps[i] <= self.num_steps else None

    def prev_step(self, before: int, kind: str = "any", request_id: str | None = None) -> int | None:
        """The last step < `before` with an event of `kind` (for `request_id`), or None."""
        steps = self._steps(kind, request_id)
        i = bisect.bisect_left(steps, min(before, self.num_steps + 1))
        return steps[i - 1] if i > 0 else None

    def event_steps(self, kind: str, request_id: str | None = None) -> tuple[int, ...]:
        return tuple(s for s in self._steps(kind, request_id) if s <= self.num_steps)

    # -------------------------------------------------------------- per request

    def entries(self):
        """All scheduled entries concatenated (step, req, tokens, kind); cached per length."""
        n = self.num_steps + 1
        if self._entries_cache is None or self._entries_cache[0] != n:
            ds = [d for d in self._deltas[:n] if len(d.sched_req)]
            if ds:
                st = np.repeat(np.array([d.step for d in ds], np.int64),
                               [len(d.sched_req) for d in ds])
                req = np.concatenate([d.sched_req for d in ds])
                tok = np.concatenate([d.sched_tokens for d in ds])
                kind = np.concatenate([d.sched_kind for d in ds])
            else:
                st = req = tok = kind = np.zeros(0, np.int64)
            self._entries_cache = (n, (st, req, tok, kind))
        return self._entries_cache[1]

    def reported_steps(self, request_id: str) -> list[int]:
        """Steps whose `engine.step()` returned this request as finished (the lab's list)."""
        return self._req_index.get(("reported", self.request_index[request_id]), [])

    def lifecycle(self, request_id: str) -> list[Event]:
        """The lab's event list for one request (see analysis.lifecycle)."""
        return lifecycle(self, request_id)

    def request_metrics(self, request_id: str) -> RequestMetrics:
        """Latencies in steps, preemptions and the final status of one request."""
        return request_metrics(self, request_id)

    def output_token_ids(self, request_id: str, step: int | None = None) -> tuple[int, ...]:
        """The tokens sampled by `step` (default: the last frame)."""
        ri = self.request_index[request_id]
        step = self.num_steps if step is None else self._check(step)
        st, req, tokens = self._samples()
        return tuple(tokens[(req == ri) & (st <= step)].tolist())

    def _samples(self):
        """(step, request, token) of every sampled token, in order; cached per length."""
        n = self.num_steps + 1
        if self._samples_cache is None or self._samples_cache[0] != n:
            st, req, _, kind = self.entries()
            sampling = kind != PREFILL_CHUNK
            tokens = [d.sampled for d in self._deltas[:n] if len(d.sampled)]
            tokens = np.concatenate(tokens) if tokens else np.zeros(0, np.int32)
            self._samples_cache = (n, (st[sampling], req[sampling], tokens))
        return self._samples_cache[1]

    def text(self, request_id: str, step: int | None = None) -> str:
        return ByteTokenizer().decode(list(self.output_token_ids(request_id, step)))

    # -------------------------------------------------------------- equality

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Recording):
            return NotImplemented
        return (self.num_steps == other.num_steps and self.config == other.config
                and self.request_ids == other.request_ids
                and self._deltas[:self.num_steps + 1] == other._deltas[:other.num_steps + 1]
                and all(self.output_token_ids(r) == other.output_token_ids(r)
                        for r in self.request_ids))

    __hash__ = None  # type: ignore[assignment]


