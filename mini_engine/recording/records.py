"""The immutable records a recording hands out: per-step deltas and metrics, frame states,
per-request metrics and the timeline summary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from mini_engine.recording.codes import PENDING, STATUS_NAMES


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
    waiting_stop_reason: str | None  # why schedule() stopped admitting (see AdmissionStopped)
    waiting_stop_req_id: str | None  # the waiting request it stopped at
    waiting_stop_detail: str | None = None  # the numbers, as schedule() saw them
    waiting_stop_rest: str | None = None  # why the requests behind that one waited
    # The moment schedule() decided, before the step's finishes freed blocks; every other
    # field is the state after the step (and after the arrivals/aborts at this step).
    num_free_blocks_at_schedule: int | None = None
    kv_cache_usage_at_schedule: float | None = None


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
    sampled: np.ndarray  # int32: the token of each entry that samples (kind != PREFILL_CHUNK)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepDelta):
            return NotImplemented
        return (self.step == other.step
                and all(np.array_equal(getattr(self, f), getattr(other, f))
                        for f in ("sched_req", "sched_tokens", "sched_kind", "rows",
                                  "block_changes", "sampled"))
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
    request_index: Mapping[str, int]  # request id -> position in `request_ids`
    arrival_step: np.ndarray
    priority: np.ndarray

    def status_name(self, request_id: str) -> str:
        return STATUS_NAMES[self.status[self.request_index[request_id]]]

    def waiting_reason(self, request_id: str) -> str | None:
        i = self.request_index[request_id]
        if self.status[i] == PENDING:
            return "not_arrived"
        try:
            return self.waiting_reasons[self.waiting.index(request_id)]
        except ValueError:
            return None

    def request(self, request_id: str) -> RequestState:
        i = self.request_index[request_id]
        return RequestState(
            request_id, STATUS_NAMES[self.status[i]], int(self.num_computed_tokens[i]),
            int(self.num_tokens[i]), int(self.num_prompt_tokens[i]),
            int(self.num_tokens[i] - self.num_prompt_tokens[i]), int(self.num_blocks[i]),
            int(self.num_cached_tokens[i]), int(self.num_preemptions[i]),
            self.block_tables.get(request_id, ()), self.waiting_reason(request_id),
            int(self.arrival_step[i]), int(self.priority[i]))

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


