"""Recording: an immutable, seekable timeline of every engine step of a scenario run.

Frame s is the state once s steps have run *and* the arrivals/events due at step s
were applied (frame 0: before step 1, step-0 arrivals WAITING). Each step is stored
as a `StepDelta` (what was scheduled, what happened, the per-request rows that
changed, block-table ops, KV block-state changes, metrics); the recorder reads the
engine from outside, doing O(scheduled + changes) numpy work per step. `seek(s)`
starts from the nearest keyframe (full columns every <= K steps) and applies the
deltas after it, vectorized. The JSONL export writes the same deltas, so a loaded
recording is rebuilt by the same code and compares equal.

Counters in metrics and states are those of the frame (after arrivals/aborts at
step s), so the queues, the KV map and the timeline always agree.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

import numpy as np

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.request import RequestStatus
from mini_engine.scenarios.spec import Scenario
from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.engine.lab import Event

# ----------------------------------------------------------------------------- codes

PENDING = 0  # status code of a request that has not arrived yet
STATUS_NAMES = ("PENDING",) + tuple(s.name for s in RequestStatus)  # index = code
_WAITING, _RUNNING, _PREEMPTED = (int(RequestStatus.WAITING), int(RequestStatus.RUNNING),
                                  int(RequestStatus.PREEMPTED))
_FINISHED_MIN = int(RequestStatus.FINISHED_STOPPED)
_ABORTED, _IGNORED = int(RequestStatus.FINISHED_ABORTED), int(RequestStatus.FINISHED_IGNORED)

# Scheduled-entry kinds.
DECODE, PREFILL_CHUNK, PREFILL_LAST = 0, 1, 2
ENTRY_KIND_NAMES = ("decode", "prefill", "prefill_last")

# Per-block states for the KV map (block 0 is vLLM's reserved null block).
BLOCK_FREE, BLOCK_IN_USE, BLOCK_CACHED_FREE, BLOCK_SHARED, BLOCK_NULL = 0, 1, 2, 3, 4
BLOCK_STATE_NAMES = ("free", "in_use", "cached_free", "shared", "null")

# Timeline step kinds.
STEP_IDLE, STEP_PREFILL, STEP_DECODE, STEP_MIXED, STEP_PREEMPTION = 0, 1, 2, 3, 4
STEP_KIND_NAMES = ("idle", "prefill", "decode", "mixed", "preemption")

OP_SET, OP_APPEND, OP_CLEAR = 0, 1, 2

EVENT_KINDS = ("arrival", "admission", "resume", "preemption", "finish", "abort", "ignore",
               "first_token", "chunk", "kv_full", "any")

WAITING_REASONS: dict[str, str] = {
    "not_arrived": "has not arrived yet (its arrival_step is later)",
    "just_arrived": "arrived after this step's schedule(); the next step considers it",
    "preempted": "was preempted in this step: its KV blocks were freed, it will recompute",
    "budget": "the step's token budget (max_num_batched_tokens) was used up",
    "max_num_seqs": "max_num_seqs requests are already running: no free seat",
    "kv_cache": "not enough free KV blocks for its whole sequence",
    "preemption": "a preemption happened this step: no request is admitted in such a step",
    "head_of_line": "behind the head of the waiting queue, which could not be admitted",
    "budget_unchunked": "chunked prefill is off and its prompt exceeds the budget left",
    "priority": "behind a more urgent (lower priority value) request that could not be admitted",
}

_NO_ROWS = np.zeros((0, 7), np.int64)
_NO_ROWS.flags.writeable = False
_NO_CHANGES = np.zeros((0, 2), np.int32)
_NO_CHANGES.flags.writeable = False
_REASON_LIST = tuple(WAITING_REASONS)
_REASON_CODE = {r: i for i, r in enumerate(_REASON_LIST)}

# Row columns (one row = one request's full counters at the end of a frame).
R_REQ, R_STATUS, R_COMPUTED, R_TOKENS, R_CACHED, R_PREEMPT, R_QKEY = range(7)
_COLS = ("status", "computed", "tokens", "cached", "npreempt", "qkey")


def _apply_table_ops(tables: dict[int, list[int]], ops: tuple) -> None:
    """Replay one step's block-table changes (set, append, clear) in order."""
    for ri, op, blocks in ops:
        if op == OP_SET:
            tables[ri] = list(blocks)
        elif op == OP_APPEND:
            tables[ri].extend(blocks)
        else:
            tables.pop(ri, None)


def _ro(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# ----------------------------------------------------------------------------- records

@dataclass(frozen=True)
class Happening:
    """One thing that happened to a request in a step (the UI's event list entries)."""

    kind: str  # arrival admission resume preemption finish abort ignore first_token
    request_id: str
    num_tokens: int = 0  # admission/resume: prefix-cache hit tokens; preemption: tokens lost
    usage_before: float | None = None  # preemption: KV usage around the free
    usage_after: float | None = None
    status: str | None = None  # finish/abort/ignore: final status name
    reason: str | None = None  # finish/abort/ignore: "stop" | "length" | "abort"
    stop_reason: int | str | None = None  # stop token, or the ignore explanation
    prev_status: str | None = None  # abort: status before the abort

    def to_dict(self) -> dict:
        d = {"kind": self.kind, "request_id": self.request_id}
        for name in ("num_tokens", "usage_before", "usage_after", "status", "reason",
                     "stop_reason", "prev_status"):
            v = getattr(self, name)
            if v is not None and not (name == "num_tokens" and v == 0):
                d[name] = v
        return d


@dataclass(frozen=True)
class StepMetrics:
    """Per-frame scalars; vLLM metric names where one exists."""

    num_scheduled_tokens: int
    token_budget: int
    prefill_tokens: int
    decode_tokens: int
    num_requests_running: int
    num_requests_waiting: int
    kv_cache_usage_perc: float  # 0..1, as vLLM's gauge
    num_free_blocks: int
    num_cached_free_blocks: int
    prefix_cache_queries: int
    prefix_cache_hits: int
    num_preemptions: int
    prompt_tokens: int  # prompts whose first token was sampled this step (vLLM counts them then)
    generation_tokens: int  # tokens sampled this step
    waiting_stop_reason: str | None
    waiting_stop_req_id: str | None


_METRIC_FIELDS = tuple(StepMetrics.__dataclass_fields__)


@dataclass(frozen=True, eq=False)
class StepDelta:
    """Everything one step changed: the unit of recording, of JSONL lines and of replay."""

    step: int
    sched_req: np.ndarray  # int32 request indices, in schedule order
    sched_tokens: np.ndarray  # int32
    sched_kind: np.ndarray  # int8: DECODE / PREFILL_CHUNK / PREFILL_LAST
    rows: np.ndarray  # int64 (m, 7): full counters of the requests that changed otherwise
    table_ops: tuple  # ((req index, OP_*, (block ids...)), ...) in order
    block_changes: np.ndarray  # int32 (c, 2): (block id, BLOCK_* state)
    happenings: tuple  # Happening, in order
    reported_finished: tuple  # request indices in engine.step()'s finished list (the lab's order)
    metrics: StepMetrics

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepDelta):
            return NotImplemented
        return (self.step == other.step
                and all(np.array_equal(getattr(self, f), getattr(other, f))
                        for f in ("sched_req", "sched_tokens", "sched_kind", "rows",
                                  "block_changes"))
                and self.table_ops == other.table_ops and self.happenings == other.happenings
                and self.reported_finished == other.reported_finished
                and self.metrics == other.metrics)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ScheduledEntry:
    request_id: str
    num_tokens: int
    kind: str  # "decode" | "prefill" (a chunk that samples nothing) | "prefill_last" (samples)

    @property
    def is_prefill(self) -> bool:
        return self.kind != "decode"

    @property
    def samples(self) -> bool:
        return self.kind != "prefill"


@dataclass(frozen=True)
class StepRecord:
    """What happened in one step (cheap: built from the step's delta only)."""

    step: int
    scheduled: tuple[ScheduledEntry, ...]
    happenings: tuple[Happening, ...]
    metrics: StepMetrics
    step_kind: str

    def of_kind(self, kind: str) -> tuple[Happening, ...]:
        return tuple(h for h in self.happenings if h.kind == kind)


@dataclass(frozen=True)
class RequestState:
    request_id: str
    status: str  # "PENDING" before arrival, else a RequestStatus name
    num_computed_tokens: int
    num_tokens: int
    num_prompt_tokens: int
    num_output_tokens: int
    num_blocks: int
    num_cached_tokens: int  # prefix-cache hit tokens at first admission; -1 before
    num_preemptions: int
    block_table: tuple[int, ...]
    waiting_reason: str | None
    arrival_step: int
    priority: int


@dataclass(frozen=True, eq=False)
class StepState:
    """The full state at a frame. Columns are read-only numpy arrays in scenario request order."""

    step: int
    request_ids: tuple[str, ...]
    status: np.ndarray  # int8 codes, names in STATUS_NAMES
    num_computed_tokens: np.ndarray
    num_tokens: np.ndarray
    num_prompt_tokens: np.ndarray
    num_cached_tokens: np.ndarray
    num_preemptions: np.ndarray
    num_blocks: np.ndarray
    running: tuple[str, ...]  # queue order
    waiting: tuple[str, ...]  # queue order (the order schedule() will consider them)
    waiting_reasons: tuple[str, ...]  # aligned with `waiting`; keys of WAITING_REASONS
    finished: tuple[str, ...]
    block_tables: Mapping[str, tuple[int, ...]]  # requests holding blocks
    block_states: np.ndarray  # uint8 per block id, names in BLOCK_STATE_NAMES
    metrics: StepMetrics
    _index: Mapping[str, int]
    _arrival: np.ndarray
    _priority: np.ndarray

    def status_name(self, request_id: str) -> str:
        return STATUS_NAMES[self.status[self._index[request_id]]]

    def waiting_reason(self, request_id: str) -> str | None:
        i = self._index[request_id]
        if self.status[i] == PENDING:
            return "not_arrived"
        try:
            return self.waiting_reasons[self.waiting.index(request_id)]
        except ValueError:
            return None

    def request(self, request_id: str) -> RequestState:
        i = self._index[request_id]
        return RequestState(
            request_id, STATUS_NAMES[self.status[i]], int(self.num_computed_tokens[i]),
            int(self.num_tokens[i]), int(self.num_prompt_tokens[i]),
            int(self.num_tokens[i] - self.num_prompt_tokens[i]), int(self.num_blocks[i]),
            int(self.num_cached_tokens[i]), int(self.num_preemptions[i]),
            self.block_tables.get(request_id, ()), self.waiting_reason(request_id),
            int(self._arrival[i]), int(self._priority[i]))

    def requests(self) -> list[RequestState]:
        return [self.request(r) for r in self.request_ids]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepState):
            return NotImplemented
        arrays = ("status", "num_computed_tokens", "num_tokens", "num_prompt_tokens",
                  "num_cached_tokens", "num_preemptions", "num_blocks", "block_states")
        return (self.step == other.step and self.request_ids == other.request_ids
                and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
                and self.running == other.running and self.waiting == other.waiting
                and self.waiting_reasons == other.waiting_reasons
                and self.finished == other.finished
                and dict(self.block_tables) == dict(other.block_tables)
                and self.metrics == other.metrics)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class RequestMetrics:
    """Per-request latencies in steps.

    A request arriving at step t can first be scheduled in step t+1, so
    `queue_steps` = first admission step - (t+1) (0: admitted at the first chance) and
    `ttft_steps` = first-token step - t (inclusive: 1 = first token in its first step).
    """

    request_id: str
    arrival_step: int
    first_scheduled_step: int | None
    queue_steps: int | None
    first_token_step: int | None
    ttft_steps: int | None
    token_steps: tuple[int, ...]  # steps that sampled one of its tokens
    inter_token_steps: tuple[int, ...]
    mean_inter_token_steps: float | None
    num_preemptions: int
    recomputed_tokens: int  # computed tokens thrown away by preemptions
    finish_step: int | None
    final_status: str
    finish_reason: str | None


@dataclass(frozen=True)
class Summary:
    """One entry per frame (index = step), for the timeline."""

    step_kind: np.ndarray  # int8, names in STEP_KIND_NAMES
    num_scheduled_tokens: np.ndarray
    num_requests_running: np.ndarray
    num_requests_waiting: np.ndarray
    kv_cache_usage_perc: np.ndarray
    num_preemptions: np.ndarray
    prefix_cache_queries: np.ndarray
    prefix_cache_hits: np.ndarray

    @property
    def num_preemptions_cumulative(self) -> np.ndarray:
        return np.cumsum(self.num_preemptions)

    @property
    def prefix_cache_queries_cumulative(self) -> np.ndarray:
        return np.cumsum(self.prefix_cache_queries)

    @property
    def prefix_cache_hits_cumulative(self) -> np.ndarray:
        return np.cumsum(self.prefix_cache_hits)


@dataclass
class _Keyframe:
    step: int
    cols: dict  # column name -> array copy
    tables: dict  # req index -> tuple of block ids
    codes: np.ndarray


# ----------------------------------------------------------------------------- recording

def _prompt_len(spec) -> int:
    if spec.prompt_token_ids is not None:
        return len(spec.prompt_token_ids)
    return len(spec.prompt.encode("utf-8"))


class Recording:
    """A run's timeline. Read-only for users; grows only through `_apply` (recorder or loader)."""

    KEYFRAME_STEPS = 128
    KEYFRAME_ENTRIES = 16384

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
        self._prompt_len = _ro(np.array([_prompt_len(s) for s in specs], dtype=np.int64))
        self._arrival = _ro(np.array([s.arrival_step for s in specs], dtype=np.int64))
        self._priority = _ro(np.array([s.priority for s in specs], dtype=np.int64))
        self._priority_policy = self.config.policy == "priority"
        # Live mirror of the current (last) frame.
        self._cols = {
            "status": np.zeros(n, np.int8), "computed": np.zeros(n, np.int64),
            "tokens": self._prompt_len.copy(), "cached": np.full(n, -1, np.int64),
            "npreempt": np.zeros(n, np.int64), "qkey": np.zeros(n, np.int64)}
        self._tables: dict[int, list[int]] = {}
        nb = self.config.num_gpu_blocks
        self._codes = np.zeros(nb, np.uint8)
        self._codes[0] = BLOCK_NULL
        self._deltas: list[StepDelta] = []
        self._keyframes: list[_Keyframe] = []
        self._kf_steps: list[int] = []
        self._entries_since_kf = 0
        self._index: dict[str, list[int]] = {k: [] for k in EVENT_KINDS + ("reported",)}
        self._req_index: dict[tuple[str, int], list[int]] = {}
        self._summary_cols: dict[str, list] = {k: [] for k in (
            "step_kind", "num_scheduled_tokens", "num_requests_running", "num_requests_waiting",
            "kv_cache_usage_perc", "num_preemptions", "prefix_cache_queries",
            "prefix_cache_hits")}
        self._summary_cache: tuple[int, Summary] | None = None
        self._entries_cache: tuple[int, tuple] | None = None
        self._outputs: dict[int, tuple[int, ...]] | None = None  # set when complete
        self._live_requests: Callable[[str], object] | None = None  # recorder's engine lookup
        self.complete = False
        self.num_steps = -1  # frames 0..num_steps are readable

    # -------------------------------------------------------------- growth (internal)

    def _apply(self, d: StepDelta) -> None:
        cols, tables, codes = self._cols, self._tables, self._codes
        if len(d.sched_req):
            cols["computed"][d.sched_req] += d.sched_tokens
            cols["tokens"][d.sched_req] += (d.sched_kind != PREFILL_CHUNK)
        if len(d.rows):
            r = d.rows[:, R_REQ]
            for j, name in enumerate(_COLS, start=1):
                cols[name][r] = d.rows[:, j]
        _apply_table_ops(tables, d.table_ops)
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
        if (not self._kf_steps or d.step - self._kf_steps[-1] >= self.KEYFRAME_STEPS
                or self._entries_since_kf >= self.KEYFRAME_ENTRIES):
            self._keyframes.append(_Keyframe(
                d.step, {k: v.copy() for k, v in cols.items()},
                {ri: tuple(t) for ri, t in tables.items()}, codes.copy()))
            self._kf_steps.append(d.step)
            self._entries_since_kf = 0
        self.num_steps = d.step  # published last: readers see complete frames only

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

    def _finish(self, outputs: dict[int, tuple[int, ...]]) -> None:
        self._outputs = outputs
        self._live_requests = None
        self.complete = True

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
            arrays = {k: _ro(np.array(v[:n], dtype=dtypes.get(k, np.int64)))
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
                for j, name in enumerate(_COLS, start=1):
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
                _apply_table_ops(tables, d.table_ops)
            changes = [d.block_changes for d in deltas if len(d.block_changes)]
            if changes:
                ch = np.concatenate(changes)[::-1]
                uniq, first = np.unique(ch[:, 0], return_index=True)
                codes[uniq] = ch[first, 1]
        return self._state(step, cols, tables, codes)

    def _queue_order(self, cols: dict, which: np.ndarray, waiting: bool) -> np.ndarray:
        qkey = cols["qkey"][which]
        if waiting and self._priority_policy:
            order = np.lexsort((qkey, self._priority[which]))
        else:
            order = np.argsort(qkey, kind="stable")
        return which[order]

    def _state(self, step: int, cols: dict, tables: dict, codes: np.ndarray) -> StepState:
        ids = self.request_ids
        status = cols["status"]
        running_i = self._queue_order(cols, np.flatnonzero(status == _RUNNING), False)
        waiting_i = self._queue_order(
            cols, np.flatnonzero((status == _WAITING) | (status == _PREEMPTED)), True)
        finished_i = np.flatnonzero(status >= _FINISHED_MIN)
        waiting = tuple(map(ids.__getitem__, waiting_i.tolist()))
        nblocks = np.zeros(len(ids), np.int64)
        for ri, t in tables.items():
            nblocks[ri] = len(t)
        d = self._deltas[step]
        return StepState(
            step=step, request_ids=ids, status=_ro(status),
            num_computed_tokens=_ro(cols["computed"]), num_tokens=_ro(cols["tokens"]),
            num_prompt_tokens=self._prompt_len, num_cached_tokens=_ro(cols["cached"]),
            num_preemptions=_ro(cols["npreempt"]), num_blocks=_ro(nblocks),
            running=tuple(map(ids.__getitem__, running_i.tolist())), waiting=waiting,
            waiting_reasons=self._waiting_reasons(d, waiting_i, cols),
            finished=tuple(map(ids.__getitem__, finished_i.tolist())),
            block_tables=MappingProxyType({ids[ri]: tuple(t) for ri, t in tables.items()}),
            block_states=_ro(codes), metrics=d.metrics, _index=self.request_index,
            _arrival=self._arrival, _priority=self._priority)

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
        if d.step == 0 or reason is None:
            # Step 0 has had no schedule(); with no stop reason the queue was drained,
            # so whoever waits arrived (or was preempted) after it.
            codes = np.full(len(waiting_i), _REASON_CODE["just_arrived"], np.int8)
        else:
            if reason in ("budget", "max_num_seqs", "preemption"):
                codes = np.full(len(waiting_i), _REASON_CODE[reason], np.int8)
            else:
                codes = np.full(len(waiting_i), _REASON_CODE["head_of_line"], np.int8)
                head = d.metrics.waiting_stop_req_id
                if head is not None and self._priority_policy:
                    less_urgent = self._priority[waiting_i] > self._priority[index[head]]
                    codes[less_urgent] = _REASON_CODE["priority"]
            head = d.metrics.waiting_stop_req_id
            if head is not None:
                codes[waiting_i == index[head]] = _REASON_CODE[reason]
        for kind, name in (("arrival", "just_arrived"), ("preemption", "preempted")):
            mine = [index[h.request_id] for h in d.happenings if h.kind == kind]
            if mine:
                codes[np.isin(waiting_i, mine)] = _REASON_CODE[name]
        return tuple(map(_REASON_LIST.__getitem__, codes.tolist()))

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

    def _entries(self):
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

    def _request_rows(self, ri: int) -> list[tuple[int, list[int]]]:
        steps = sorted(set(s for k in ("arrival", "admission", "resume", "preemption", "finish",
                                       "abort", "ignore")
                           for s in self._req_index.get((k, ri), ())))
        out = []
        for s in steps:
            if s > self.num_steps:
                break
            rows = self._deltas[s].rows
            hit = rows[rows[:, R_REQ] == ri]
            if len(hit):
                out.append((s, hit[-1].tolist()))
        return out

    def lifecycle(self, request_id: str) -> list[Event]:
        """The lab's event list for one request: after each step in which it was running
        (before that step's aborts) or in engine.step()'s finished list."""
        ri = self.request_index[request_id]
        rows = self._request_rows(ri)
        if not rows:
            return []
        st, req, tok, kind = self._entries()
        mine = req == ri
        e_steps, e_tok, e_kind = st[mine].tolist(), tok[mine].tolist(), kind[mine].tolist()
        reported = {}
        for s in self._req_index.get(("reported", ri), ()):
            reported[s] = True
        abort_prev = {}
        for s in self._req_index.get(("abort", ri), ()):
            for h in self._deltas[s].happenings:
                if h.kind == "abort" and h.request_id == request_id:
                    abort_prev[s] = h.prev_status
        events: list[Event] = []
        first_step = rows[0][0]
        last = self.num_steps
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
            elif pre_abort == _RUNNING:
                events.append(Event(request_id, "RUNNING", computed, tokens))
            if status is not None and status >= _FINISHED_MIN and row_i >= len(rows) and \
                    not any(k > s for k in reported):
                break
        return events

    def request_metrics(self, request_id: str) -> RequestMetrics:
        ri = self.request_index[request_id]
        arrival = int(self._arrival[ri])
        st, req, tok, kind = self._entries()
        mine = req == ri
        steps = st[mine]
        token_steps = tuple(steps[kind[mine] != PREFILL_CHUNK].tolist())
        first_sched = int(steps[0]) if len(steps) else None
        first_tok = token_steps[0] if token_steps else None
        gaps = tuple(b - a for a, b in zip(token_steps, token_steps[1:]))
        lost = 0
        for s in self._req_index.get(("preemption", ri), ()):
            for h in self._deltas[s].happenings:
                if h.kind == "preemption" and h.request_id == request_id:
                    lost += h.num_tokens
        finish_step = finish_reason = None
        status = "PENDING"
        for k in ("finish", "abort", "ignore"):
            for s in self._req_index.get((k, ri), ()):
                if s <= self.num_steps:
                    finish_step = s
                    for h in self._deltas[s].happenings:
                        if h.kind == k and h.request_id == request_id:
                            finish_reason = h.reason
        rows = self._request_rows(ri)
        if rows:
            status = STATUS_NAMES[rows[-1][1][R_STATUS]]
        return RequestMetrics(
            request_id, arrival, first_sched,
            None if first_sched is None else first_sched - arrival - 1,
            first_tok, None if first_tok is None else first_tok - arrival,
            token_steps, gaps, (sum(gaps) / len(gaps)) if gaps else None,
            len(self._req_index.get(("preemption", ri), ())), lost, finish_step, status,
            finish_reason)

    def output_token_ids(self, request_id: str, step: int | None = None) -> tuple[int, ...]:
        """The tokens sampled by `step` (default: the last frame)."""
        ri = self.request_index[request_id]
        step = self.num_steps if step is None else self._check(step)
        st, req, tok, kind = self._entries()
        count = int(np.count_nonzero((req == ri) & (st <= step) & (kind != PREFILL_CHUNK)))
        if self._outputs is not None:
            return self._outputs.get(ri, ())[:count]
        if self._live_requests is not None:
            try:
                r = self._live_requests(request_id)
            except KeyError:
                return ()
            return tuple(r.output_token_ids[:count])
        return ()

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


# The recorder lives in recorder.py; these two are the recording's entry points.
from mini_engine.recording.recorder import Recorder, record  # noqa: E402,F401  (after all it imports from here)
