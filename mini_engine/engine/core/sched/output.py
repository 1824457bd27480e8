"""What `Scheduler.schedule()` hands the model runner each step (vllm/v1/core/sched/output.py)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PreemptionRecord:
    """One recompute preemption: the KV thrown away and the cache usage around the free."""

    request_id: str
    num_computed_tokens_lost: int
    kv_cache_usage_before: float
    kv_cache_usage_after: float


@dataclass
class SchedulerOutput:
    """What `Scheduler.schedule()` decided for one step."""

    num_scheduled_tokens: dict[str, int]
    total_num_scheduled_tokens: int
    scheduled_new_req_ids: list[str]
    scheduled_resumed_req_ids: list[str]
    scheduled_running_req_ids: list[str]
    preempted_req_ids: list[str]
    # Ids finished since the previous schedule() (vLLM ships them to workers this step).
    finished_req_ids: set[str]
    # Blocks newly allocated this step, for the requests that got any (prefix hits excluded).
    req_to_new_block_ids: dict[str, list[int]] = field(default_factory=dict)
    # Why the waiting queue's admission loop stopped with requests still waiting:
    # "budget" (token budget used up), "budget_unchunked" (chunked prefill off and the
    # head's prompt exceeds what is left), "max_num_seqs", "kv_cache" (the head's
    # blocks don't fit), "preemption" (a step that preempted admits nobody); None if
    # the queue was drained. `waiting_stop_req_id` is the head it stopped at.
    waiting_stop_reason: str | None = None
    waiting_stop_req_id: str | None = None
    preemptions: list[PreemptionRecord] = field(default_factory=list)
