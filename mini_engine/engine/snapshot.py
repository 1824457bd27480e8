"""Save and resume: `EngineSnapshot`, an immutable, picklable copy of an engine between steps.

`LLMEngine.snapshot()` builds one with `capture()`; `LLMEngine.from_snapshot()` rebuilds
an engine with `restore()`, whose every later step is identical to the run it came
from. What is saved, and what is not:

- requests (all of them, in arrival order): tokens, block hashes, counters, status,
  sampling params, prompt text, cache salt; the scheduler's `requests` map, the waiting
  queue in service order, `running` in order, finished-but-unreported ids,
  `step_counter`. A priority queue is rebuilt by pushing in service order: its heap
  layout may differ, but every pop is decided by the total order (priority,
  arrival_time, request_id), so the schedule is the same;
- the KV cache manager's block tables (`req_to_blocks`, `num_cached_block`, `room`) and
  pending prefix-cache stats; the block pool's ref counts, block hashes, free-queue
  order and the prefix-cache map (outer and inner insertion order);
- the events emitted since the last step that nobody took (they open the next step's
  record), the fast-path switches;
- the engine's `step_count`, arrivals counter and config (`vllm_compat` included: a
  vLLM-compatible run resumes as one, a pending trailing step too, as the unshipped
  finished ids are saved).
- The model and sampler hold no state (the sampler's fast-path switch aside, which is
  saved): sampling is a pure function of the request (seeded Gumbel noise from (seed,
  position), greedy tables fixed at start-up), so the snapshot keeps a reference to
  the model object and resumes with it (or with the `model=` given to
  `from_snapshot`). A stateful injected test model must be passed again.
- Per-step scratch (`Scheduler.num_prefill_chunks`, `last_schedule_view`) is rewritten
  by the next `schedule()` before anything reads it, so it is not saved;
  the last step's `SchedulerOutput`, stats and step record are carried as they are
  (the engine never mutates them after its step) and are left out of `==`.

Snapshots are cheap to keep one per keyframe: a request's `RequestState` (and its
token and hash tuples) is reused from the previous snapshot while the request did
not change, finished requests are never looked at again, and the block pool is packed
into `bytes` (array module). A resume rebuilds finished requests only when read
(`RequestTable`). Figures: benchmarks/resume_bench.py.
"""

from __future__ import annotations

import gc
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field, fields
from itertools import islice
from typing import Any, Callable

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.core.kv_cache_utils import PrefixCacheStats
from mini_engine.engine.core.sched.request_queue import create_request_queue
from mini_engine.engine.request import Request, RequestStatus
from mini_engine.engine.sampling_params import SamplingParams

_NO_HASH = -1  # Python's hash() never returns -1, so it marks "no block hash" in packed form


@dataclass(frozen=True)
class RequestState:
    """One request, frozen. `sampling_params` is SamplingParams' fields as (name, value) pairs."""

    request_id: str
    prompt: str | None
    cache_salt: str | None
    prompt_token_ids: tuple[int, ...]
    output_token_ids: tuple[int, ...]
    block_hashes: tuple[int, ...]
    sampling_params: tuple[tuple[str, Any], ...]
    priority: int
    arrival_time: float
    status: RequestStatus
    num_computed_tokens: int
    num_preemptions: int
    stop_reason: int | str | None
    is_prefill_chunk: bool
    num_cached_tokens: int
    length_limit: int


@dataclass(frozen=True)
class SchedulerState:
    step_counter: int
    request_ids: tuple[str, ...]  # Scheduler.requests (unfinished), insertion order
    waiting: tuple[str, ...]  # service order (FCFS: queue order; priority: key order)
    running: tuple[str, ...]
    finished_req_ids: frozenset[str]  # shipped in the next SchedulerOutput
    finished_outside_update: tuple[str, ...]  # reported by the next update_from_output
    pending_events: tuple  # emitted since the last step, untaken: the next step's `before`
    preemptions_in_step: tuple  # PreemptionRecords (a between-steps reset adds to them)
    use_fast_paths: bool


@dataclass(frozen=True)
class KVCacheState:
    req_to_blocks: tuple[tuple[str, tuple[int, ...]], ...]  # dict items, insertion order
    num_cached_block: tuple[tuple[str, int], ...]
    room: tuple[tuple[str, int], ...]
    prefix_cache_stats: tuple[int, ...]  # PrefixCacheStats fields, in order
    use_fast_paths: bool


@dataclass(frozen=True)
class BlockPoolState:
    """Packed arrays: `ref_cnt` int32, `block_hash` int64 (-1 = none), `free_queue` int32 in
    eviction order, the prefix-cache map as parallel (hash int64, block int32) pairs in
    outer-then-inner insertion order. Hashes that don't fit int64 are kept as tuples."""

    ref_cnt: bytes
    block_hash: bytes | tuple
    free_queue: bytes
    cached_hashes: bytes | tuple
    cached_blocks: bytes

    def ref_cnt_list(self) -> list[int]:
        return array("i", self.ref_cnt).tolist()

    def block_hash_list(self) -> list[int | None]:
        if isinstance(self.block_hash, tuple):
            return list(self.block_hash)
        return [None if h == _NO_HASH else h for h in array("q", self.block_hash).tolist()]

    def free_queue_list(self) -> list[int]:
        return array("i", self.free_queue).tolist()

    def cached_pairs(self) -> list[tuple[int, int]]:
        hashes = (self.cached_hashes if isinstance(self.cached_hashes, tuple)
                  else array("q", self.cached_hashes).tolist())
        return list(zip(hashes, array("i", self.cached_blocks).tolist()))


@dataclass(frozen=True)
class EngineSnapshot:
    """The whole engine between two steps; `==` compares engine state only."""

    config: EngineConfig
    step_count: int
    num_arrivals: int
    requests: tuple[RequestState, ...]  # every request ever added, in arrival order
    scheduler: SchedulerState
    kv_cache: KVCacheState
    block_pool: BlockPoolState
    sampler_use_greedy_table: bool  # the sampler's fast-path switch: its only field
    model: Any = field(default=None, compare=False, repr=False)
    last_scheduler_output: Any = field(default=None, compare=False, repr=False)
    last_stats: Any = field(default=None, compare=False, repr=False)
    last_step: Any = field(default=None, compare=False, repr=False)


class RequestStateCache:
    """The last `RequestState` of every request, in the engine's arrival order.

    Only requests that may still change (not finished) are looked at again: a finished
    request's state is final, so a snapshot late in a long run costs what its live
    requests cost, and shares every other `RequestState` with the previous snapshot.
    """

    def __init__(self) -> None:
        self.states: list[RequestState] = []  # aligned with the engine's request map
        self.live: dict[int, Request] = {}  # index -> request whose state may still change

    def states_of(self, all_requests: dict, prompts: dict[str, str | None]
                  ) -> tuple[RequestState, ...]:
        states, live = self.states, self.live
        if len(all_requests) > len(states):
            # dict.items: a resumed engine's RequestTable keeps finished ones as RequestStates.
            for rid, r in islice(dict.items(all_requests), len(states), None):
                if type(r) is not RequestState:
                    if not r.is_finished():
                        live[len(states)] = r
                    r = _request_state(r, prompts.get(rid), None)
                states.append(r)
        done = []
        for i, request in live.items():
            old = states[i]
            if not _unchanged(old, request):
                states[i] = _request_state(request, old.prompt, old)
            if request.is_finished():
                done.append(i)
        for i in done:
            del live[i]
        return tuple(states)


def _unchanged(old: RequestState, request: Request) -> bool:
    if old.status != request.status:
        return False
    if RequestStatus.is_finished(old.status):
        return True  # a finished request never changes again
    return (old.num_computed_tokens == request.num_computed_tokens
            and len(old.prompt_token_ids) + len(old.output_token_ids) == request.num_tokens
            and old.num_preemptions == request.num_preemptions
            and old.is_prefill_chunk == request.is_prefill_chunk
            and old.num_cached_tokens == request.num_cached_tokens
            and old.stop_reason == request.stop_reason
            and old.length_limit == request.length_limit
            and old.priority == request.priority)


def _request_state(request: Request, prompt: str | None, old: RequestState | None) -> RequestState:
    n_prompt = request.num_prompt_tokens
    if old is None:
        prompt_ids = tuple(request.prompt_token_ids)
        params = tuple((f.name, _frozen(getattr(request.sampling_params, f.name)))
                       for f in fields(request.sampling_params))
        outputs: tuple[int, ...] = tuple(request.output_token_ids)
        hashes: tuple[int, ...] = tuple(request.block_hashes)
    else:
        prompt_ids, params = old.prompt_token_ids, old.sampling_params
        n_out = request.num_tokens - n_prompt
        outputs = (old.output_token_ids if len(old.output_token_ids) == n_out
                   else tuple(request.output_token_ids))
        hashes = (old.block_hashes if len(old.block_hashes) == len(request.block_hashes)
                  else tuple(request.block_hashes))
    return RequestState(
        request.request_id, prompt, request.cache_salt, prompt_ids, outputs, hashes, params, request.priority,
        request.arrival_time, request.status, request.num_computed_tokens,
        request.num_preemptions, request.stop_reason, request.is_prefill_chunk,
        request.num_cached_tokens, request.length_limit)


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


# ---------------------------------------------------------------------- capture


def capture(engine, all_requests: dict[str, Request], prompts: dict[str, str | None],
            num_arrivals: int, cache: RequestStateCache) -> EngineSnapshot:
    """The engine's state now (call between steps); `cache` is the engine's own."""
    scheduler = engine.scheduler
    kvm = scheduler.kv_cache_manager
    requests = cache.states_of(all_requests, prompts)
    scheduler_state = SchedulerState(
        scheduler.step_counter, tuple(scheduler.requests),
        tuple(r.request_id for r in scheduler.waiting),
        tuple(r.request_id for r in scheduler.running),
        frozenset(scheduler.finished_req_ids),
        tuple(r.request_id for r in scheduler.finished_outside_update),
        tuple(scheduler.events), tuple(scheduler.preemptions_in_step), scheduler.use_fast_paths)
    stats = kvm.prefix_cache_stats
    kv_state = KVCacheState(
        tuple((rid, tuple(blocks)) for rid, blocks in kvm.req_to_blocks.items()),
        tuple(kvm.num_cached_block.items()), tuple(kvm.room.items()),
        tuple(getattr(stats, f.name) for f in fields(stats)), kvm.use_fast_paths)
    return EngineSnapshot(
        engine.config, engine.step_count, num_arrivals, requests, scheduler_state, kv_state,
        _pack_block_pool(kvm.block_pool), engine.sampler.use_greedy_table, model=engine.model,
        last_scheduler_output=engine.last_scheduler_output, last_stats=engine.last_stats,
        last_step=getattr(engine, "last_step", None))


def _pack_block_pool(pool) -> BlockPoolState:
    cached_hashes: list[int] = []
    cached_blocks: list[int] = []
    for h, blocks in pool.cached_block_hash_to_block.items():
        for b in blocks:
            cached_hashes.append(h)
            cached_blocks.append(b)
    return BlockPoolState(
        array("i", pool.ref_cnt).tobytes(),
        _pack_hashes([_NO_HASH if h is None else h for h in pool.block_hash], pool.block_hash),
        array("i", pool.free_block_queue).tobytes(),
        _pack_hashes(cached_hashes, cached_hashes),
        array("i", cached_blocks).tobytes())


def _pack_hashes(values: list[int], original: list) -> bytes | tuple:
    try:
        if _NO_HASH not in original:
            return array("q", values).tobytes()
    except (OverflowError, TypeError):
        pass
    return tuple(original)


# ---------------------------------------------------------------------- restore


def restore(engine, state: EngineSnapshot) -> tuple[RequestTable, dict[str, str | None]]:
    """Fill a freshly built engine (same config) with `state`; return its requests and prompts.

    The caller (LLMEngine.from_snapshot) sets its own counters and request maps from them.
    """
    scheduler = engine.scheduler
    s = state.scheduler
    # Thousands of acyclic objects at once: the cyclic GC would only slow this down (2x).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        requests = RequestTable(state.requests, set(s.finished_outside_update), RequestBuilder(
            scheduler.block_hasher, engine.tokenizer.eos_token_id))
    finally:
        if gc_was_enabled:
            gc.enable()
    scheduler.step_counter = s.step_counter
    scheduler.requests = {rid: requests[rid] for rid in s.request_ids}
    scheduler.waiting = create_request_queue(scheduler.policy)
    for rid in s.waiting:
        scheduler.waiting.add_request(requests[rid])
    scheduler.running = [requests[rid] for rid in s.running]
    scheduler.finished_req_ids = set(s.finished_req_ids)
    scheduler.finished_outside_update = [requests[rid] for rid in s.finished_outside_update]
    scheduler.events.extend(s.pending_events)  # one log, shared with the KV manager and pool
    scheduler.preemptions_in_step = list(s.preemptions_in_step)
    scheduler.use_fast_paths = s.use_fast_paths
    kvm = scheduler.kv_cache_manager
    kv = state.kv_cache
    kvm.req_to_blocks = {rid: list(blocks) for rid, blocks in kv.req_to_blocks}
    kvm.num_cached_block = dict(kv.num_cached_block)
    kvm.room = dict(kv.room)
    kvm.prefix_cache_stats = PrefixCacheStats(*kv.prefix_cache_stats)
    kvm.use_fast_paths = kv.use_fast_paths
    _unpack_block_pool(kvm.block_pool, state.block_pool)
    engine.sampler.use_greedy_table = state.sampler_use_greedy_table
    return requests, {r.request_id: r.prompt for r in state.requests}


class RequestBuilder:
    """Rebuilds a `Request` from its `RequestState` (sampling params shared per distinct value)."""

    def __init__(self, block_hasher: Callable | None, eos_token_id: int) -> None:
        self.block_hasher = block_hasher
        self.eos_token_id = eos_token_id
        self.params: dict[tuple, SamplingParams] = {}

    def __call__(self, s: RequestState) -> Request:
        params = self.params.get(s.sampling_params)
        if params is None:
            params = self.params[s.sampling_params] = SamplingParams(
                **{name: list(v) if isinstance(v, tuple) else v for name, v in s.sampling_params})
        request = Request.restored(
            s.request_id, s.prompt_token_ids, s.output_token_ids, s.block_hashes, params,
            eos_token_id=self.eos_token_id, priority=s.priority, arrival_time=s.arrival_time,
            block_hasher=self.block_hasher)
        request.status = s.status
        request.num_computed_tokens = s.num_computed_tokens
        request.num_preemptions = s.num_preemptions
        request.stop_reason = s.stop_reason
        request.is_prefill_chunk = s.is_prefill_chunk
        request.num_cached_tokens = s.num_cached_tokens
        request.length_limit = s.length_limit
        request.cache_salt = s.cache_salt  # only block 0's hash used it: saved already
        return request


class RequestTable(dict):
    """A resumed engine's map of every request, in arrival order.

    Finished requests (most of them, late in a long run) are kept as their saved
    `RequestState` and rebuilt on first read, once; the scheduler never reads them, so
    a resume rebuilds only the live ones. Reads through `[]`, `get`, `items`, `values`
    return `Request`s; `dict.items(table)` gives the raw entries (what `capture` uses).
    """

    def __init__(self, states: tuple[RequestState, ...], keep_live: set[str],
                 build: RequestBuilder) -> None:
        super().__init__()
        self.build = build
        for s in states:
            lazy = RequestStatus.is_finished(s.status) and s.request_id not in keep_live
            dict.__setitem__(self, s.request_id, s if lazy else build(s))

    def __getitem__(self, request_id: str) -> Request:
        value = dict.__getitem__(self, request_id)
        if type(value) is RequestState:
            value = self.build(value)
            dict.__setitem__(self, request_id, value)
        return value

    def get(self, request_id: str, default=None):
        return self[request_id] if request_id in self else default

    def values(self) -> list[Request]:
        return [self[rid] for rid in self]

    def items(self) -> list[tuple[str, Request]]:
        return [(rid, self[rid]) for rid in self]


def _unpack_block_pool(pool, state: BlockPoolState) -> None:
    pool.ref_cnt = state.ref_cnt_list()
    pool.block_hash = state.block_hash_list()
    pool.free_block_queue = OrderedDict.fromkeys(state.free_queue_list())
    cached: dict[int, dict[int, None]] = {}
    for h, b in state.cached_pairs():
        blocks = cached.get(h)
        if blocks is None:
            cached[h] = {b: None}
        else:
            blocks[b] = None
    pool.cached_block_hash_to_block = cached
