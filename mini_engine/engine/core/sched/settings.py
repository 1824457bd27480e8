"""Changing scheduler settings on a running engine, between steps (a resume with new settings).

Only `config.SCHEDULER_SETTINGS` may change (`EngineConfig.with_scheduler_settings` refuses
the others). The next schedule() simply uses the new limits: running requests keep
running even above a lower `max_num_seqs` (admission waits until seats free up). A
policy change moves the waiting requests into the other queue type, fed in the old
queue's service order: fcfs -> priority re-sorts them by (priority, arrival, id);
priority -> fcfs keeps the order the priority queue would have served them in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.core.sched.request_queue import create_request_queue

if TYPE_CHECKING:
    from mini_engine.engine.core.sched.scheduler import Scheduler


def apply_scheduler_settings(scheduler: "Scheduler", config: EngineConfig) -> None:
    """Make `scheduler` run with `config` (already checked by with_scheduler_settings)."""
    scheduler.config = config
    scheduler.max_num_scheduled_tokens = config.max_num_batched_tokens
    scheduler.max_num_running_reqs = config.max_num_seqs
    scheduler.long_prefill_token_threshold = config.long_prefill_token_threshold
    scheduler.enable_chunked_prefill = config.enable_chunked_prefill
    if config.policy != scheduler.policy:
        queue = create_request_queue(config.policy)
        for request in scheduler.waiting:
            queue.add_request(request)
        scheduler.waiting = queue
        scheduler.policy = config.policy
