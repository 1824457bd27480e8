"""What the engine emits as it decides: one immutable `EngineStep` per step, built from events.

vLLM has the same two families: `EngineCoreEvent` (QUEUED / SCHEDULED / PREEMPTED per
request, vllm/v1/engine/__init__.py) and the KV-cache events `BlockStored` /
`BlockRemoved` / `AllBlocksCleared` (vllm/distributed/kv_events.py). The scheduler, the
KV-cache manager and the block pool append these to one shared `EventLog` at the moment
they decide, so a consumer (the recording, a vLLM capture, a test) never has to read the
engine's internals or re-derive a decision. Every event is a NamedTuple: cheap to make,
immutable, picklable, and `event.kind` + `event._asdict()` is its JSON form.
"""

from __future__ import annotations

from typing import NamedTuple, Union

# ----------------------------------------------------------------------------- requests


class RequestQueued(NamedTuple):
    """Added to the waiting queue: at the back (FCFS) or in (priority, arrival) order."""

    request_id: str
    num_prompt_tokens: int
    position: str  # "back" | "sorted"
    kind: str = "queued"


class RequestIgnored(NamedTuple):
    """Finished as FINISHED_IGNORED because it can never run (at add, or outgrew the cache)."""

    request_id: str
    reason: str
    kind: str = "ignored"


class RequestAdmitted(NamedTuple):
    """Moved from the waiting queue to the back of `running` (new or resumed)."""

    request_id: str
    num_computed_tokens: int  # prefix-cache hit tokens (or tokens kept on resume)
    num_cached_tokens: int  # the request's first-admission prefix hits (vLLM's num_cached_tokens)
    resumed: bool
    kind: str = "admitted"


class RequestPreempted(NamedTuple):
    """Recompute preemption: its KV was freed and it went back to the waiting queue."""

    request_id: str
    num_tokens_lost: int
    kv_cache_usage_before: float
    kv_cache_usage_after: float
    position: str  # "front" (FCFS) | "sorted" (priority)
    cause: str = "schedule"  # "schedule" | "reset_prefix_cache"
    kind: str = "preempted"


class RequestFinished(NamedTuple):
    """Left the engine with a final status (stop, length, abort, or ignored while waiting)."""

    request_id: str
    status: str  # a RequestStatus name
    reason: str | None  # "stop" | "length" | "abort" (vLLM's finish reason)
    stop_reason: int | str | None
    prev_status: str  # the status it had just before
    kind: str = "finished"


class AdmissionStopped(NamedTuple):
    """Why `schedule()` stopped admitting with requests still waiting, at which one, with the numbers.

    `reason`: "budget" | "max_num_seqs" | "kv_cache" | "budget_unchunked" | "preemption".
    `rest`: why the requests behind `request_id` were not considered ("head_of_line"
    when only the head was blocked; the same reason when it applies to all).
    """

    reason: str
    request_id: str | None
    detail: str
    rest: str
    kind: str = "admission_stopped"


# ----------------------------------------------------------------------------- KV cache


class BlocksAllocated(NamedTuple):
    """Fresh blocks taken from the head of the free queue for a request (ref count 1)."""

    request_id: str
    block_ids: tuple[int, ...]
    kind: str = "blocks_allocated"


class BlocksHit(NamedTuple):
    """Prefix-cache hit: cached blocks a request now shares (ref count + 1)."""

    request_id: str
    block_ids: tuple[int, ...]
    kind: str = "blocks_hit"


class BlocksFreed(NamedTuple):
    """A request released its blocks, in free-queue order (first = evicted first)."""

    request_id: str
    block_ids: tuple[int, ...]
    kind: str = "blocks_freed"


class BlocksCached(NamedTuple):
    """Full blocks registered in the prefix cache under their chained hashes (vLLM BlockStored)."""

    request_id: str
    block_ids: tuple[int, ...]
    block_hashes: tuple[int, ...]
    kind: str = "blocks_cached"


class BlocksEvicted(NamedTuple):
    """Cached blocks reused for someone else: their hashes leave the cache (vLLM BlockRemoved)."""

    request_id: str  # who the blocks were taken for
    block_ids: tuple[int, ...]
    kind: str = "blocks_evicted"


class CacheCleared(NamedTuple):
    """Every prefix-cache hash was dropped (vLLM AllBlocksCleared)."""

    kind: str = "cache_cleared"


Event = Union[RequestQueued, RequestIgnored, RequestAdmitted, RequestPreempted, RequestFinished,
              AdmissionStopped, BlocksAllocated, BlocksHit, BlocksFreed, BlocksCached,
              BlocksEvicted, CacheCleared]

EVENT_TYPES: dict[str, type] = {t._field_defaults["kind"]: t for t in (
    RequestQueued, RequestIgnored, RequestAdmitted, RequestPreempted, RequestFinished,
    AdmissionStopped, BlocksAllocated, BlocksHit, BlocksFreed, BlocksCached, BlocksEvicted,
    CacheCleared)}


class EventLog(list):
    """The one list the scheduler, KV manager and block pool append to; `take()` drains it."""

    def take(self) -> tuple:
        if not self:
            return ()
        events = tuple(self)
        del self[:]
        return events


# ----------------------------------------------------------------------------- the step


class ScheduleView(NamedTuple):
    """What `schedule()` saw when it finished deciding (before the step's finishes freed blocks)."""

    num_free_blocks: int
    kv_cache_usage: float
    token_budget_left: int
    num_running: int  # seats taken
    num_waiting: int


class StepStats(NamedTuple):
    """vLLM's SchedulerStats after the step (before the arrivals and aborts that follow it)."""

    num_free_blocks: int
    kv_cache_usage: float
    num_running: int
    num_waiting: int
    prefix_cache_queries: int  # tokens
    prefix_cache_hits: int
    num_preemptions: int


class EngineStep(NamedTuple):
    """One `LLMEngine.step()`, as decided: the unit a recording is built from.

    `req_ids` and `num_scheduled_tokens` are what was scheduled, in schedule order
    (vLLM's `SchedulerOutput.num_scheduled_tokens`, as two aligned tuples); `sampled` is
    aligned with them (the token sampled, or None for a prefill chunk that samples nothing). `events` holds
    everything emitted from `schedule()` to the end of `update_from_output()`, in order,
    after the `num_before` events emitted since the previous step that nobody took.
    `finished` is `step()`'s return value (the lab's order). The counters after the step
    are in `stats` (vLLM's SchedulerStats); `at_schedule` is the moment of the decision.
    """

    step: int
    req_ids: tuple[str, ...]
    num_scheduled_tokens: tuple[int, ...]
    total_num_scheduled_tokens: int
    sampled: tuple[int | None, ...]
    events: tuple
    num_before: int  # the first events were emitted before schedule() and nobody took them
    finished: tuple[str, ...]
    at_schedule: ScheduleView
    stats: StepStats


def event_to_dict(event) -> dict:
    """The JSON form of an event: its fields, tuples as lists (the recording format's `events`)."""
    d = event._asdict()
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def event_from_dict(d: dict):
    """Inverse of `event_to_dict`; KeyError for an unknown kind, TypeError for bad fields."""
    cls = EVENT_TYPES[d["kind"]]
    fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
    return cls(**fields)
