"""`Scheduler`: vLLM V1's `schedule()` / `update_from_output()` for one token budget per step.

There is no prefill phase and no decode phase: every step each request is given
tokens so that `num_computed_tokens` catches up with `num_tokens`. RUNNING
requests are served first (in `running` order, preempting the newest, or the
least urgent under the priority policy, when KV blocks run out), then WAITING
ones, admitted in queue order until the budget, the seats (`max_num_seqs`) or
the KV cache runs out. Line references to vllm/v1/core/sched/scheduler.py are in
docs/semantics.md.
"""

from __future__ import annotations

from typing import Iterable

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.core.kv_cache_manager import KVCacheManager
from mini_engine.engine.core.kv_cache_utils import cdiv, make_block_hasher
from mini_engine.engine.core.sched.output import PreemptionRecord, SchedulerOutput
from mini_engine.engine.outputs import (EngineCoreOutputs, ModelRunnerOutput, OneTokenEachOutput,
                                        SchedulerStats)
from mini_engine.engine.request import Request, RequestStatus
from mini_engine.engine.core.sched.request_queue import create_request_queue

_RUNNING = RequestStatus.RUNNING
_WAITING = RequestStatus.WAITING
_PREEMPTED = RequestStatus.PREEMPTED
_STOPPED = RequestStatus.FINISHED_STOPPED
_LENGTH = RequestStatus.FINISHED_LENGTH
_IGNORED = RequestStatus.FINISHED_IGNORED
_NO_BLOCKS: list[int] = []  # shared "nothing new allocated"; never mutated


class Scheduler:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.max_num_scheduled_tokens = config.max_num_batched_tokens
        self.max_num_running_reqs = config.max_num_seqs
        self.max_model_len = config.max_model_len
        self.long_prefill_token_threshold = config.long_prefill_token_threshold
        self.enable_chunked_prefill = config.enable_chunked_prefill
        self.policy = config.policy
        self.block_size = config.block_size
        self.kv_cache_manager = KVCacheManager(
            config.block_size, config.num_gpu_blocks, config.enable_prefix_caching,
            config.max_model_len)
        self.block_hasher = (make_block_hasher(config.block_size)
                             if config.enable_prefix_caching else None)
        self.requests: dict[str, Request] = {}
        self.waiting = create_request_queue(config.policy)
        self.running: list[Request] = []
        # Finished since the last schedule(); shipped in the next SchedulerOutput.
        self.finished_req_ids: set[str] = set()
        # Finished outside update_from_output (ignored at add, unschedulable); reported next update.
        self._finished_outside_update: list[Request] = []
        self.step_counter = 0
        self._preemptions_in_step: list[PreemptionRecord] = []
        # 0 when no request scheduled by the last schedule() is mid-prefill, so all of
        # them sample (the engine then skips its per-request check); else maybe some are.
        self.num_prefill_chunks = 0

    # ------------------------------------------------------------------ requests

    def add_request(self, request: Request) -> None:
        """Queue a request, or finish it as FINISHED_IGNORED if it can never run."""
        reason = self._never_fits_reason(request)
        if reason is not None:
            request.status = _IGNORED
            request.stop_reason = reason
            self.finished_req_ids.add(request.request_id)
            self._finished_outside_update.append(request)
            return
        request.length_limit = min(self.max_model_len, request.num_prompt_tokens + request.max_tokens)
        self.waiting.add_request(request)
        self.requests[request.request_id] = request

    def _never_fits_reason(self, request: Request) -> str | None:
        n = request.num_prompt_tokens
        if n >= self.max_model_len:
            return f"prompt has {n} tokens, must be < max_model_len ({self.max_model_len})"
        usable = self.config.num_usable_blocks
        if cdiv(n, self.block_size) > usable:
            return (f"prompt needs {cdiv(n, self.block_size)} KV blocks, "
                    f"the cache has {usable} usable blocks")
        return None

    def has_unfinished_requests(self) -> bool:
        return bool(self.running) or bool(self.waiting)

    def get_num_unfinished_requests(self) -> int:
        return len(self.running) + len(self.waiting)

    def finish_requests(self, request_ids: str | Iterable[str],
                        finished_status: RequestStatus) -> list[Request]:
        """Finish requests from outside (an abort); unknown or finished ids are ignored."""
        assert RequestStatus.is_finished(finished_status)
        if isinstance(request_ids, str):
            request_ids = (request_ids,)
        valid = []
        for rid in request_ids:
            request = self.requests.get(rid)
            if request is None or request.is_finished() or request in valid:
                continue
            valid.append(request)
        running = {id(r) for r in valid if r.status == _RUNNING}
        if running:
            self.running = [r for r in self.running if id(r) not in running]
        waiting = [r for r in valid if r.status != _RUNNING]
        if waiting:
            self.waiting.remove_requests(waiting)
        for request in valid:
            request.status = finished_status
            self._free_request(request)
        return valid

    def _free_request(self, request: Request) -> None:
        self.finished_req_ids.add(request.request_id)
        self.kv_cache_manager.free(request)
        del self.requests[request.request_id]

    def _preempt_request(self, request: Request) -> None:
        """Recompute preemption: drop all KV, keep the tokens, back to the front of the queue."""
        usage_before = self.kv_cache_manager.usage
        self.kv_cache_manager.free(request)
        self._preemptions_in_step.append(PreemptionRecord(
            request.request_id, request.num_computed_tokens, usage_before,
            self.kv_cache_manager.usage))
        request.status = _PREEMPTED
        request.num_computed_tokens = 0
        request.num_preemptions += 1
        self.waiting.prepend_request(request)

    def reset_prefix_cache(self, reset_running_requests: bool = False) -> bool:
        """Clear the prefix cache (vLLM: only when no block is held).

        With `reset_running_requests`, running requests are preempted first, back to
        front, so the waiting queue keeps their running order.
        """
        if reset_running_requests:
            while self.running:
                self._preempt_request(self.running.pop())
        return self.kv_cache_manager.reset_prefix_cache()

    # ------------------------------------------------------------------ schedule

    def schedule(self) -> SchedulerOutput:
        self.step_counter += 1
        self._preemptions_in_step = []
        kvm = self.kv_cache_manager
        allocate_slots = kvm.allocate_slots
        threshold = self.long_prefill_token_threshold
        max_model_len = self.max_model_len
        priority = self.policy == "priority"
        token_budget = self.max_num_scheduled_tokens
        num_scheduled_tokens: dict[str, int] = {}
        req_to_new_block_ids: dict[str, list[int]] = {}
        scheduled_running: list[str] = []
        scheduled_new: list[str] = []
        scheduled_resumed: list[str] = []
        preempted: list[Request] = []
        num_prefill_chunks = 0

        # Phase A: RUNNING requests, in queue order.
        running = self.running
        room = kvm.room.get
        last_position = max_model_len - 1
        req_index = 0
        while req_index < len(running) and token_budget > 0:
            request = running[req_index]
            rid = request.request_id
            computed = request.num_computed_tokens
            num_new_tokens = request.num_tokens - computed
            # Fast path (decodes): one token, below max_model_len. Usually the held blocks
            # have room with no block becoming full, so allocate_slots would allocate and
            # cache nothing and is skipped. Same effect as the general path below, which
            # a failed allocation falls through to (allocate_slots has no side effects then).
            if num_new_tokens == 1 and computed < last_position:
                new_blocks = _NO_BLOCKS if computed < room(rid, 0) else allocate_slots(request, 1)
                if new_blocks is not None:
                    scheduled_running.append(rid)
                    num_scheduled_tokens[rid] = 1
                    if new_blocks:
                        req_to_new_block_ids[rid] = new_blocks
                    token_budget -= 1
                    request.num_computed_tokens = computed + 1
                    request.is_prefill_chunk = False
                    req_index += 1
                    continue
            if 0 < threshold < num_new_tokens:
                num_new_tokens = threshold
            if num_new_tokens > token_budget:
                num_new_tokens = token_budget
            if num_new_tokens > max_model_len - 1 - computed:
                num_new_tokens = max_model_len - 1 - computed
            if num_new_tokens <= 0:
                req_index += 1  # nothing to do this step: skip, don't block the rest
                continue
            # allocate_slots is a no-op up to the room (see the fast path above).
            end = computed + num_new_tokens
            if end <= room(rid, 0):
                new_blocks = _NO_BLOCKS
            else:
                new_blocks = allocate_slots(request, num_new_tokens)
            while new_blocks is None:  # out of blocks: preempt until it fits, or until it's the victim
                if priority:
                    victim = max(running, key=lambda r: (r.priority, r.arrival_time))
                    victim_index = running.index(victim)
                    del running[victim_index]
                    if victim_index < req_index:
                        req_index -= 1
                    # Already scheduled this step: give its tokens back to the budget.
                    rolled_back = num_scheduled_tokens.pop(victim.request_id, 0)
                    if rolled_back:
                        scheduled_running.remove(victim.request_id)
                        token_budget += rolled_back
                        req_to_new_block_ids.pop(victim.request_id, None)
                        victim.num_computed_tokens -= rolled_back
                else:
                    victim = running.pop()
                self._preempt_request(victim)
                preempted.append(victim)
                if victim is request:
                    break
                new_blocks = allocate_slots(request, num_new_tokens)
            if new_blocks is None:
                if priority and request.status == _PREEMPTED:
                    continue  # the rest of `running` moved up into req_index
                break
            scheduled_running.append(rid)
            num_scheduled_tokens[rid] = num_new_tokens
            if new_blocks:
                req_to_new_block_ids[rid] = new_blocks
            token_budget -= num_new_tokens
            # vLLM advances the counter right after scheduling (_update_after_schedule);
            # doing it here is equivalent: nothing later in the step reads it, except a
            # priority preemption, which rolls it back above.
            request.num_computed_tokens = end
            if end < request.num_tokens:
                request.is_prefill_chunk = True
                num_prefill_chunks += 1
            else:
                request.is_prefill_chunk = False
            req_index += 1

        # Phase B: WAITING requests, only in a step that preempted nothing.
        # Why admission stopped (for "why is it waiting"), and the head it stopped at.
        waiting_stop_reason: str | None = "preemption" if preempted and self.waiting else None
        waiting_stop_req_id: str | None = None
        if not preempted:
            waiting = self.waiting
            chunked = self.enable_chunked_prefill
            while waiting:
                request = waiting.peek_request()
                waiting_stop_req_id = request.request_id
                if token_budget <= 0:
                    waiting_stop_reason = "budget"
                    break
                if len(running) >= self.max_num_running_reqs:
                    waiting_stop_reason = "max_num_seqs"
                    break
                did_lookup = request.num_computed_tokens == 0
                if did_lookup:
                    hit_blocks, num_computed_tokens = kvm.get_computed_blocks(request)
                else:
                    hit_blocks, num_computed_tokens = [], request.num_computed_tokens
                num_new_tokens = request.num_tokens - num_computed_tokens
                if 0 < threshold < num_new_tokens:
                    num_new_tokens = threshold
                if not chunked and num_new_tokens > token_budget:
                    waiting_stop_reason = "budget_unchunked"
                    break  # head-of-line blocking: no skipping to shorter prompts
                num_new_tokens = min(num_new_tokens, token_budget)
                new_blocks = allocate_slots(
                    request, num_new_tokens, num_new_computed_tokens=num_computed_tokens,
                    new_computed_blocks=hit_blocks, full_sequence_must_fit=True)
                if new_blocks is None:
                    waiting_stop_reason = "kv_cache"
                    break
                if did_lookup:
                    kvm.record_prefix_cache_stats(request, num_computed_tokens)
                waiting.pop_request()
                running.append(request)
                rid = request.request_id
                if request.status == _WAITING:
                    scheduled_new.append(rid)
                else:
                    scheduled_resumed.append(rid)
                if request.num_cached_tokens < 0:
                    request.num_cached_tokens = num_computed_tokens
                num_scheduled_tokens[rid] = num_new_tokens
                if new_blocks:
                    req_to_new_block_ids[rid] = new_blocks
                token_budget -= num_new_tokens
                request.status = _RUNNING
                request.num_computed_tokens = num_computed_tokens + num_new_tokens
                request.is_prefill_chunk = request.num_computed_tokens < request.num_tokens
                num_prefill_chunks += request.is_prefill_chunk
                waiting_stop_req_id = None

        total = self.max_num_scheduled_tokens - token_budget
        if total == 0 and not preempted and not running and self.waiting:
            self._ignore_unschedulable_head()

        output = SchedulerOutput(
            num_scheduled_tokens=num_scheduled_tokens,
            total_num_scheduled_tokens=total,
            scheduled_new_req_ids=scheduled_new,
            scheduled_resumed_req_ids=scheduled_resumed,
            scheduled_running_req_ids=scheduled_running,
            preempted_req_ids=[r.request_id for r in preempted],
            finished_req_ids=self.finished_req_ids,
            req_to_new_block_ids=req_to_new_block_ids,
            waiting_stop_reason=waiting_stop_reason,
            waiting_stop_req_id=waiting_stop_req_id,
            preemptions=self._preemptions_in_step,
        )
        self.finished_req_ids = set()
        self.num_prefill_chunks = num_prefill_chunks
        return output

    def _ignore_unschedulable_head(self) -> None:
        """Nothing runs and the head of the queue still can't be admitted: it never will be.

        With an empty `running` every block is free, so a failed admission means the
        request's tokens outgrew the whole cache (e.g. while decoding). vLLM would spin
        forever here; we end the request with a reason instead.
        """
        request = self.waiting.peek_request()
        needed = cdiv(min(request.num_tokens, self.max_model_len), self.block_size)
        self.finish_requests(request.request_id, _IGNORED)
        request.stop_reason = (f"needs {needed} KV blocks for {request.num_tokens} tokens, "
                               f"the cache has {self.config.num_usable_blocks} usable blocks")
        self._finished_outside_update.append(request)

    # ------------------------------------------------------------------ update

    def update_from_output(self, scheduler_output: SchedulerOutput,
                           model_runner_output: ModelRunnerOutput) -> EngineCoreOutputs:
        """Append sampled tokens one at a time, check stops, free what finished."""
        finished = self._finished_outside_update
        self._finished_outside_update = []
        stops: list[tuple[Request, RequestStatus]] = []
        if type(model_runner_output) is OneTokenEachOutput:
            self._append_one_token_each(model_runner_output.requests,
                                        model_runner_output.tokens, stops)
        else:
            requests = self.requests
            for rid, new_token_ids in zip(model_runner_output.req_ids,
                                          model_runner_output.sampled_token_ids):
                if not new_token_ids:
                    continue  # a partial prefill: nothing happened
                request = requests.get(rid)
                if request is None or request.status > _PREEMPTED:
                    continue  # aborted while the step ran
                for token in new_token_ids:
                    request.append_output_token_ids(token)
                    # check_stop, in vLLM 0.33's order: EOS, stop tokens, then length
                    # (max_tokens or max_model_len, folded into length_limit at add time).
                    if token == request.eos_token_id:
                        stops.append((request, _STOPPED))
                    elif token in request.stop_token_ids:
                        stops.append((request, _STOPPED))
                        request.stop_reason = token
                    elif request.num_tokens >= request.length_limit:
                        stops.append((request, _LENGTH))
                    else:
                        continue
                    break
        if stops:
            # Freed in step order (the free queue's order depends on it).
            stopped_running: set[int] = set()
            stopped_waiting: list[Request] = []
            for request, status in stops:
                if request.status == _RUNNING:
                    stopped_running.add(id(request))
                else:
                    stopped_waiting.append(request)
                request.status = status
                self._free_request(request)
                finished.append(request)
            if stopped_running:
                self.running = [r for r in self.running if id(r) not in stopped_running]
            if stopped_waiting:
                self.waiting.remove_requests(stopped_waiting)
        return EngineCoreOutputs(finished_requests=finished, scheduler_stats=self.make_stats())

    @staticmethod
    def _append_one_token_each(requests: list[Request], tokens: Iterable[int],
                               stops: list[tuple[Request, RequestStatus]]) -> None:
        """The loop above for engine.step's common case: one token for each request."""
        for request, token in zip(requests, tokens):
            if request.status > _PREEMPTED:
                continue  # aborted while the step ran
            # request.append_output_token_ids(token), inlined: this is the hottest loop.
            request._all_token_ids.append(token)
            num_tokens = request.num_tokens + 1
            request.num_tokens = num_tokens
            hash_block_size = request._hash_block_size
            if hash_block_size and not num_tokens % hash_block_size:
                request._block_hasher(request)
            if token == request.eos_token_id:
                stops.append((request, _STOPPED))
            elif token in request.stop_token_ids:
                stops.append((request, _STOPPED))
                request.stop_reason = token
            elif num_tokens >= request.length_limit:
                stops.append((request, _LENGTH))

    def make_stats(self) -> SchedulerStats:
        kvm = self.kv_cache_manager
        return SchedulerStats(
            step_counter=self.step_counter,
            num_running_reqs=len(self.running),
            num_waiting_reqs=len(self.waiting),
            kv_cache_usage=kvm.usage,
            prefix_cache_stats=kvm.make_prefix_cache_stats(),
            num_preemptions=len(self._preemptions_in_step),
        )
