"""`StepPlan`: what one `schedule()` has decided so far, shared by its running and waiting phases."""

from __future__ import annotations

from mini_engine.engine.request import Request


class StepPlan:
    """What one `schedule()` has decided so far (shared by its two phases)."""

    __slots__ = ("token_budget", "num_scheduled_tokens", "req_to_new_block_ids",
                 "scheduled_running", "scheduled_new", "scheduled_resumed", "preempted",
                 "num_prefill_chunks", "long_prefill_token_threshold")

    def __init__(self, token_budget: int, long_prefill_token_threshold: int = 0) -> None:
        self.token_budget = token_budget
        # This step's prefill cap per request (0: none): compat.long_prefill_threshold.
        self.long_prefill_token_threshold = long_prefill_token_threshold
        self.num_scheduled_tokens: dict[str, int] = {}
        self.req_to_new_block_ids: dict[str, list[int]] = {}
        self.scheduled_running: list[str] = []
        self.scheduled_new: list[str] = []
        self.scheduled_resumed: list[str] = []
        self.preempted: list[Request] = []
        self.num_prefill_chunks = 0
