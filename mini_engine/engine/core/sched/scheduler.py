"""`Scheduler`: vLLM V1's `schedule()` / `update_from_output()` for one token budget per step.

There is no prefill phase and no decode phase: every step each request is given
tokens so that `num_computed_tokens` catches up with `num_tokens`. RUNNING
requests are served first (in `running` order, preempting the newest, or the
least urgent under the priority policy, when KV blocks run out), then WAITING
ones, admitted in queue order until the budget, the seats (`max_num_seqs`) or
the KV cache runs out. Every decision is also appended to `self.events` as it is
taken (the KV manager adds the block events), so no consumer re-derives a decision.
With `config.vllm_compat` it follows vLLM 0.33 where the lab differs (compat.py).
"""

from __future__ import annotations

from typing import Iterable

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.events import (AdmissionStopped, EventLog, RequestAdmitted, RequestFinished,
                                       RequestIgnored, RequestPreempted, RequestQueued, ScheduleView)
from mini_engine.engine.core.kv_cache_manager import KVCacheManager
from mini_engine.engine.core.kv_cache_utils import cdiv, make_block_hasher
from mini_engine.engine.core.sched.output import PreemptionRecord, SchedulerOutput
from mini_engine.engine.outputs import (EngineCoreOutputs, ModelRunnerOutput, OneTokenEachOutput,
                                        SchedulerStats)
from mini_engine.engine.request import Request, RequestStatus
from mini_engine.engine.core.sched.request_queue import create_request_queue
from mini_engine.engine.core.sched.plan import StepPlan
from mini_engine.engine.core.sched.compat import length_status, long_prefill_threshold
from mini_engine.engine.core.sched.settings import apply_scheduler_settings
from mini_engine.engine.core.sched.utils import check_stop, never_fits_reason

_RUNNING = RequestStatus.RUNNING
_WAITING = RequestStatus.WAITING
_PREEMPTED = RequestStatus.PREEMPTED
_IGNORED = RequestStatus.FINISHED_IGNORED
_NO_BLOCKS: list[int] = []  # shared "nothing new allocated"; never mutated
_NO_ROOM: dict[str, int] = {}  # the room lookup with fast paths off: always allocate_slots


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
        self.vllm_compat = config.vllm_compat  # fixed for the run (compat.py)
        self.length_status = length_status(config.vllm_compat)
        # Every decision, in order; the engine drains it into its per-step records.
        self.events = EventLog()
        self.kv_cache_manager = KVCacheManager(
            config.block_size, config.num_gpu_blocks, config.enable_prefix_caching,
            config.max_model_len, self.events)
        self.block_hasher = (make_block_hasher(config.block_size)
                             if config.enable_prefix_caching else None)
        self.requests: dict[str, Request] = {}
        self.waiting = create_request_queue(config.policy)
        self.running: list[Request] = []
        # Finished since the last schedule(); shipped in the next SchedulerOutput.
        self.finished_req_ids: set[str] = set()
        # Finished outside update_from_output (ignored at add, unschedulable); reported next update.
        self.finished_outside_update: list[Request] = []
        self.step_counter = 0
        self.preemptions_in_step: list[PreemptionRecord] = []
        # 0 when no request scheduled by the last schedule() is mid-prefill, so all of
        # them sample (the engine then skips its per-request check); else maybe some are.
        self.num_prefill_chunks = 0
        # What the last schedule() saw when it finished deciding.
        self.last_schedule_view: ScheduleView | None = None
        # The decode fast path in schedule() (see there); off: the general path for all.
        self.use_fast_paths = True

    # ------------------------------------------------------------------ requests

    def add_request(self, request: Request) -> None:
        """Queue a request, or finish it as FINISHED_IGNORED if it can never run."""
        reason = never_fits_reason(request, self.config)
        if reason is not None:
            request.status = _IGNORED
            request.stop_reason = reason
            self.finished_req_ids.add(request.request_id)
            self.finished_outside_update.append(request)
            self.events.append(RequestIgnored(request.request_id, reason))
            return
        request.length_limit = min(self.max_model_len, request.num_prompt_tokens + request.max_tokens)
        self.waiting.add_request(request)
        self.requests[request.request_id] = request
        self.events.append(RequestQueued(request.request_id, request.num_prompt_tokens,
                                         "sorted" if self.policy == "priority" else "back"))

    def has_unfinished_requests(self) -> bool:
        """The run loop's condition; with vllm_compat vLLM EngineCore's `has_requests()`."""
        return bool(self.running or self.waiting or self.vllm_compat and self.finished_req_ids)

    def has_finished_requests(self) -> bool:
        """Finished ids the next SchedulerOutput will ship (vLLM's name)."""
        return bool(self.finished_req_ids)

    def has_requests(self) -> bool:
        """Unfinished requests, or finished ids not yet shipped (vLLM's name)."""
        return bool(self.running or self.waiting or self.finished_req_ids)

    def get_num_unfinished_requests(self) -> int:
        return len(self.running) + len(self.waiting)

    def finish_requests(self, request_ids: str | Iterable[str] | None,
                        finished_status: RequestStatus) -> list[Request]:
        """Finish requests from outside (an abort); unknown or finished ids are ignored.

        `None` finishes every request, freed in arrival order (vLLM iterates its
        `requests` dict), which decides the free queue's order.
        """
        assert RequestStatus.is_finished(finished_status)
        if request_ids is None:
            request_ids = list(self.requests)
        elif isinstance(request_ids, str):
            request_ids = (request_ids,)
        valid, seen = [], set()
        for rid in request_ids:
            request = self.requests.get(rid)
            if request is None or request.is_finished() or rid in seen:
                continue
            seen.add(rid)
            valid.append(request)
        running = {id(r) for r in valid if r.status == _RUNNING}
        if running:
            self.running = [r for r in self.running if id(r) not in running]
        waiting = [r for r in valid if r.status != _RUNNING]
        if waiting:
            self.waiting.remove_requests(waiting)
        for request in valid:
            self._finish_request(request, finished_status)
        return valid

    def _finish_request(self, request: Request, status: RequestStatus) -> None:
        """Give the request its final status, free its blocks and say so."""
        prev = request.status
        request.status = status
        self._free_request(request)
        if status == _IGNORED:
            self.events.append(RequestIgnored(request.request_id, str(request.stop_reason)))
        else:
            self.events.append(RequestFinished(request.request_id, status.name,
                                               request.get_finished_reason(),
                                               request.stop_reason, prev.name))

    def _free_request(self, request: Request) -> None:
        self.finished_req_ids.add(request.request_id)
        self.kv_cache_manager.free(request)
        del self.requests[request.request_id]

    def _preempt_request(self, request: Request, cause: str = "schedule") -> None:
        """Recompute preemption: drop all KV, keep the tokens, back to the front of the queue."""
        kvm = self.kv_cache_manager
        usage_before = kvm.usage
        kvm.free(request)
        usage_after = kvm.usage
        lost = request.num_computed_tokens
        self.preemptions_in_step.append(PreemptionRecord(
            request.request_id, lost, usage_before, usage_after))
        request.status = _PREEMPTED
        request.num_computed_tokens = 0
        request.num_preemptions += 1
        self.waiting.prepend_request(request)
        self.events.append(RequestPreempted(
            request.request_id, lost, usage_before, usage_after,
            "sorted" if self.policy == "priority" else "front", cause))

    def reset_prefix_cache(self, reset_running_requests: bool = False) -> bool:
        """Clear the prefix cache (vLLM: only when no block is held).

        With `reset_running_requests`, running requests are preempted first, back to
        front, so the waiting queue keeps their running order.
        """
        if reset_running_requests:
            while self.running:
                self._preempt_request(self.running.pop(), cause="reset_prefix_cache")
        return self.kv_cache_manager.reset_prefix_cache()

    # ------------------------------------------------------------------ schedule

    def schedule(self) -> SchedulerOutput:
        """Running requests first (preempting when blocks run out), then admit waiting ones."""
        self.step_counter += 1
        # preemptions_in_step is not cleared here: a reset_prefix_cache() between steps
        # adds to it, and vLLM reports those in this output (reset_preempted_req_ids).
        plan = StepPlan(self.max_num_scheduled_tokens, long_prefill_threshold(
            self.long_prefill_token_threshold, self.vllm_compat,
            len(self.running) + len(self.waiting)))
        self._schedule_running(plan)
        stop: AdmissionStopped | None = None
        if plan.preempted:
            if self.waiting:
                stop = AdmissionStopped("preemption", None,
                                        "a request was preempted this step: no admissions",
                                        "preemption")
        else:
            stop = self._schedule_waiting(plan)
        if stop is not None:
            self.events.append(stop)
        total = self.max_num_scheduled_tokens - plan.token_budget
        kvm = self.kv_cache_manager
        self.last_schedule_view = ScheduleView(
            kvm.block_pool.get_num_free_blocks(), kvm.usage, plan.token_budget,
            len(self.running), len(self.waiting))
        if total == 0 and not plan.preempted and not self.running and self.waiting:
            self._ignore_unschedulable_head()
        output = SchedulerOutput(
            num_scheduled_tokens=plan.num_scheduled_tokens,
            total_num_scheduled_tokens=total,
            scheduled_new_req_ids=plan.scheduled_new,
            scheduled_resumed_req_ids=plan.scheduled_resumed,
            scheduled_running_req_ids=plan.scheduled_running,
            preempted_req_ids=[p.request_id for p in self.preemptions_in_step],
            finished_req_ids=self.finished_req_ids,
            req_to_new_block_ids=plan.req_to_new_block_ids,
            waiting_stop_reason=stop.reason if stop is not None else None,
            waiting_stop_req_id=stop.request_id if stop is not None else None,
            preemptions=self.preemptions_in_step,
        )
        self.finished_req_ids = set()
        self.num_prefill_chunks = plan.num_prefill_chunks
        return output

    def _schedule_running(self, plan: StepPlan) -> None:
        """Phase A: RUNNING requests in queue order; preempt when their blocks don't fit."""
        kvm = self.kv_cache_manager
        allocate_slots = kvm.grow_slots  # running requests hold blocks
        threshold = plan.long_prefill_token_threshold
        max_model_len = self.max_model_len
        token_budget = plan.token_budget
        num_scheduled_tokens = plan.num_scheduled_tokens
        req_to_new_block_ids = plan.req_to_new_block_ids
        scheduled_running = plan.scheduled_running
        num_prefill_chunks = 0
        running = self.running
        room = kvm.room.get if self.use_fast_paths else _NO_ROOM.get
        last_position = max_model_len - 1 if self.use_fast_paths else -1
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
            if new_blocks is None:
                plan.token_budget = token_budget
                new_blocks, req_index = self._preempt_for(plan, request, req_index,
                                                          num_new_tokens)
                token_budget = plan.token_budget
                if new_blocks is None:
                    if request.status == _PREEMPTED and self.policy == "priority":
                        continue  # the rest of `running` moved up into req_index
                    break
            scheduled_running.append(rid)
            num_scheduled_tokens[rid] = num_new_tokens
            if new_blocks:
                req_to_new_block_ids[rid] = new_blocks
            token_budget -= num_new_tokens
            # vLLM advances the counter right after scheduling (_update_after_schedule);
            # doing it here is equivalent: nothing later in the step reads it, except a
            # priority preemption, which rolls it back.
            request.num_computed_tokens = end
            if end < request.num_tokens:
                request.is_prefill_chunk = True
                num_prefill_chunks += 1
            else:
                request.is_prefill_chunk = False
            req_index += 1
        plan.token_budget = token_budget
        plan.num_prefill_chunks += num_prefill_chunks

    def _preempt_for(self, plan: StepPlan, request: Request, req_index: int,
                     num_new_tokens: int) -> tuple[list[int] | None, int]:
        """Out of blocks: preempt until `request` fits, or until it is the victim itself.

        The victim is the last running request (FCFS), or the least urgent one (priority;
        if it was already scheduled this step, its tokens go back to the budget).
        Returns the new blocks (None if `request` was preempted) and the updated index.
        """
        running = self.running
        new_blocks = None
        while new_blocks is None:
            if self.policy == "priority":
                victim = max(running, key=lambda r: (r.priority, r.arrival_time))
                victim_index = running.index(victim)
                del running[victim_index]
                if victim_index < req_index:
                    req_index -= 1
                rolled_back = plan.num_scheduled_tokens.pop(victim.request_id, 0)
                if rolled_back:
                    plan.scheduled_running.remove(victim.request_id)
                    plan.token_budget += rolled_back
                    plan.req_to_new_block_ids.pop(victim.request_id, None)
                    victim.num_computed_tokens -= rolled_back
            else:
                victim = running.pop()
            self._preempt_request(victim)
            plan.preempted.append(victim)
            if victim is request:
                return None, req_index
            new_blocks = self.kv_cache_manager.allocate_slots(request, num_new_tokens)
        return new_blocks, req_index

    def _schedule_waiting(self, plan: StepPlan) -> AdmissionStopped | None:
        """Phase B: admit WAITING requests in queue order until something runs out.

        Returns why admission stopped with requests still waiting (None: queue drained).
        """
        kvm = self.kv_cache_manager
        waiting, running = self.waiting, self.running
        threshold = plan.long_prefill_token_threshold
        while waiting:
            request = waiting.peek_request()
            if plan.token_budget <= 0:
                return AdmissionStopped(
                    "budget", request.request_id,
                    f"token budget used up: 0 of {self.max_num_scheduled_tokens} left", "budget")
            if len(running) >= self.max_num_running_reqs:
                return AdmissionStopped(
                    "max_num_seqs", request.request_id,
                    f"{len(running)} of {self.max_num_running_reqs} seats taken", "max_num_seqs")
            did_lookup = request.num_computed_tokens == 0
            if did_lookup:
                hit_blocks, num_computed_tokens = kvm.get_computed_blocks(request)
            else:
                hit_blocks, num_computed_tokens = [], request.num_computed_tokens
            num_new_tokens = request.num_tokens - num_computed_tokens
            if 0 < threshold < num_new_tokens:
                num_new_tokens = threshold
            if not self.enable_chunked_prefill and num_new_tokens > plan.token_budget:
                # Head-of-line blocking: no skipping to shorter prompts.
                return AdmissionStopped(
                    "budget_unchunked", request.request_id,
                    f"needs {num_new_tokens} tokens in one chunk, {plan.token_budget} of the "
                    f"budget left (chunked prefill is off)", "head_of_line")
            num_new_tokens = min(num_new_tokens, plan.token_budget)
            new_blocks = kvm.allocate_slots(
                request, num_new_tokens, num_new_computed_tokens=num_computed_tokens,
                new_computed_blocks=hit_blocks, full_sequence_must_fit=True)
            if new_blocks is None:
                needed = kvm.num_blocks_to_admit(request, hit_blocks)
                free = kvm.block_pool.get_num_free_blocks()
                return AdmissionStopped(
                    "kv_cache", request.request_id,
                    f"needs {needed} KV blocks for {request.num_tokens} tokens, {free} free",
                    "head_of_line")
            if did_lookup:
                kvm.record_prefix_cache_stats(request, num_computed_tokens)
            waiting.pop_request()
            self._admit(plan, request, num_computed_tokens, num_new_tokens, new_blocks)
        return None

    def _admit(self, plan: StepPlan, request: Request, num_computed_tokens: int,
               num_new_tokens: int, new_blocks: list[int]) -> None:
        """Move an admitted request to the back of `running` with its first chunk scheduled."""
        self.running.append(request)
        rid = request.request_id
        resumed = request.status != _WAITING
        (plan.scheduled_resumed if resumed else plan.scheduled_new).append(rid)
        if request.num_cached_tokens < 0:
            request.num_cached_tokens = num_computed_tokens
        plan.num_scheduled_tokens[rid] = num_new_tokens
        if new_blocks:
            plan.req_to_new_block_ids[rid] = new_blocks
        plan.token_budget -= num_new_tokens
        request.status = _RUNNING
        request.num_computed_tokens = num_computed_tokens + num_new_tokens
        request.is_prefill_chunk = request.num_computed_tokens < request.num_tokens
        plan.num_prefill_chunks += request.is_prefill_chunk
        self.events.append(RequestAdmitted(rid, num_computed_tokens, request.num_cached_tokens,
                                           resumed))

    def _ignore_unschedulable_head(self) -> None:
        """Nothing runs and the head of the queue still can't be admitted: it never will be.

        With an empty `running` every block is free, so a failed admission means the
        request's tokens outgrew the whole cache (e.g. while decoding). vLLM would spin
        forever here; we end the request with a reason instead.
        """
        request = self.waiting.peek_request()
        needed = cdiv(min(request.num_tokens, self.max_model_len), self.block_size)
        request.stop_reason = (f"needs {needed} KV blocks for {request.num_tokens} tokens, "
                               f"the cache has {self.config.num_usable_blocks} usable blocks")
        self.finish_requests(request.request_id, _IGNORED)
        self.finished_outside_update.append(request)

    # ------------------------------------------------------------------ update

    def update_from_output(self, scheduler_output: SchedulerOutput,
                           model_runner_output: ModelRunnerOutput) -> EngineCoreOutputs:
        """Append sampled tokens one at a time, check stops, free what finished."""
        finished = self.finished_outside_update
        self.finished_outside_update = []
        stops: list[tuple[Request, RequestStatus]] = []
        length = self.length_status
        if self.use_fast_paths and isinstance(model_runner_output, OneTokenEachOutput):
            self._append_one_token_each(model_runner_output.requests,
                                        model_runner_output.tokens, stops, length)
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
                    status = check_stop(request, length)
                    if status is not None:
                        stops.append((request, status))
                        break  # the stopping token is kept, later ones dropped
        if stops:
            # Freed in step order (the free queue's order depends on it).
            stopped_running: set[int] = set()
            stopped_waiting: list[Request] = []
            for request, status in stops:
                if request.status == _RUNNING:
                    stopped_running.add(id(request))
                else:
                    stopped_waiting.append(request)
                self._finish_request(request, status)
                finished.append(request)
            if stopped_running:
                self.running = [r for r in self.running if id(r) not in stopped_running]
            if stopped_waiting:
                self.waiting.remove_requests(stopped_waiting)
        stats = self.make_stats()
        # The preemptions reported by this step's output are counted in its stats; vLLM
        # clears reset_preempted_req_ids once schedule() has reported them.
        self.preemptions_in_step = []
        return EngineCoreOutputs(finished_requests=finished, scheduler_stats=stats)

    @staticmethod
    def _append_one_token_each(requests: list[Request], tokens: Iterable[int],
                               stops: list[tuple[Request, RequestStatus]],
                               length: RequestStatus) -> None:
        """Fast path of the loop above when each request sampled exactly one token.

        `Request.append_one_token_each` appends in one loop and returns the few requests
        a stop check could stop; check_stop runs on those alone (same result: each
        request got one token, so nothing else can change between its append and its check).
        """
        for request in Request.append_one_token_each(requests, tokens):
            status = check_stop(request, length)
            if status is not None:
                stops.append((request, status))

    def make_stats(self) -> SchedulerStats:
        kvm = self.kv_cache_manager
        return SchedulerStats(
            step_counter=self.step_counter,
            num_running_reqs=len(self.running),
            num_waiting_reqs=len(self.waiting),
            kv_cache_usage=kvm.usage,
            prefix_cache_stats=kvm.make_prefix_cache_stats(),
            num_preemptions=len(self.preemptions_in_step),
        )

    # ------------------------------------------------------------------ save / resume

    def update_settings(self, **changes) -> None:
        """Switch scheduler settings between steps, as a resume with changed settings does
        (settings.py: which may change, and what a change does)."""
        apply_scheduler_settings(self, self.config.with_scheduler_settings(**changes))
