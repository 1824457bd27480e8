"""Property tests: random configs and request mixes, invariants checked after every step.

Configs are always valid (budget >= max_num_seqs; budget >= max_model_len when chunked
prefill is off); KV caches are small enough to force preemption, prompts share prefixes
so prefix caching hits, and some requests are aborted mid-run. Every run loop is bounded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mini_engine import (EngineConfig, LastPlusPosModel, LLMEngine, RequestStatus, SamplingParams,
                         ToyModel)

MAX_STEPS = 3000  # far above any run below; reaching it means a livelock


@dataclass(frozen=True)
class Spec:
    arrival_step: int
    prompt: tuple[int, ...]
    max_tokens: int
    min_tokens: int
    priority: int
    ignore_eos: bool
    temperature: float


@st.composite
def configs(draw) -> EngineConfig:
    block_size = draw(st.sampled_from([1, 2, 4, 8, 16]))
    max_model_len = draw(st.integers(4, 64))
    chunked = draw(st.booleans())
    max_num_seqs = draw(st.integers(1, 8))
    low = max(max_num_seqs, 1 if chunked else max_model_len)
    budget = draw(st.integers(low, max(low, 80)))
    return EngineConfig(
        max_num_batched_tokens=budget,
        max_num_seqs=max_num_seqs,
        long_prefill_token_threshold=draw(st.sampled_from([0, 0, 1, 2, 3, 5, 8])),
        enable_chunked_prefill=chunked,
        block_size=block_size,
        num_gpu_blocks=draw(st.integers(2, 24)),
        enable_prefix_caching=draw(st.booleans()),
        max_model_len=max_model_len,
        policy=draw(st.sampled_from(["fcfs", "priority"])),
    )


@st.composite
def specs(draw) -> Spec:
    # A small alphabet and a shared stem make prefix-cache hits (and duplicates) likely.
    stem = draw(st.sampled_from([(), (7, 7, 7, 7), (1, 2, 3, 4, 5, 6, 7, 8)]))
    tail = draw(st.lists(st.integers(0, 3), min_size=0 if stem else 1, max_size=30))
    max_tokens = draw(st.integers(1, 12))
    return Spec(
        arrival_step=draw(st.integers(0, 6)),
        prompt=stem + tuple(tail),
        max_tokens=max_tokens,
        min_tokens=draw(st.integers(0, max_tokens)),
        priority=draw(st.integers(0, 3)),
        ignore_eos=draw(st.booleans()),
        temperature=draw(st.sampled_from([0.0, 0.0, 0.7])),
    )


workloads = st.tuples(
    configs(),
    st.lists(specs(), min_size=1, max_size=8),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 7)), max_size=3),  # (step, request)
    st.sampled_from(["toy", "last_plus_pos"]),
)


def check_invariants(engine: LLMEngine, added: dict,
                     prev_computed: dict[str, tuple[int, int]]) -> None:
    cfg = engine.config
    sched = engine.scheduler
    so = engine.last_scheduler_output
    kvm = sched.kv_cache_manager
    pool = kvm.block_pool

    # Token budget and seats.
    assert all(n > 0 for n in so.num_scheduled_tokens.values())
    assert so.total_num_scheduled_tokens == sum(so.num_scheduled_tokens.values())
    assert so.total_num_scheduled_tokens <= cfg.max_num_batched_tokens
    assert len(sched.running) <= cfg.max_num_seqs
    if cfg.long_prefill_token_threshold:
        assert all(n <= cfg.long_prefill_token_threshold
                   for n in so.num_scheduled_tokens.values())

    # Block conservation: free + used == usable; the null block is never handed out.
    usable = cfg.num_gpu_blocks - 1
    used = {b for b in range(cfg.num_gpu_blocks) if pool.ref_cnt[b] > 0}
    free = list(pool.free_block_queue)
    assert len(free) == len(set(free))
    assert 0 not in free and 0 not in used and pool.ref_cnt[0] == 0
    assert used.isdisjoint(free)
    assert len(free) + len(used) == usable
    assert all(c >= 0 for c in pool.ref_cnt)

    # ref_cnt == number of block-table references across requests.
    refs = Counter(b for table in kvm.req_to_blocks.values() for b in table)
    assert all(pool.ref_cnt[b] == refs.get(b, 0) for b in range(cfg.num_gpu_blocks))
    assert set(kvm.req_to_blocks) <= set(sched.requests)

    # Queues and statuses.
    running_ids = [r.request_id for r in sched.running]
    waiting_ids = [r.request_id for r in sched.waiting]
    assert len(set(running_ids)) == len(running_ids)
    assert set(running_ids).isdisjoint(waiting_ids)
    assert set(running_ids) | set(waiting_ids) == set(sched.requests)
    assert all(r.status == RequestStatus.RUNNING for r in sched.running)
    assert all(r.status in (RequestStatus.WAITING, RequestStatus.PREEMPTED)
               for r in sched.waiting)
    assert all(r.request_id not in kvm.req_to_blocks for r in sched.waiting)

    # Counters: computed <= tokens, held blocks cover the computed tokens, and
    # num_computed_tokens only decreases by going to 0 on a preemption.
    for rid, r in added.items():
        assert 0 <= r.num_computed_tokens <= r.num_tokens
        assert r.num_output_tokens <= r.max_tokens
        assert r.num_tokens <= cfg.max_model_len or r.status == RequestStatus.FINISHED_IGNORED
        if r.status == RequestStatus.RUNNING:
            assert len(kvm.req_to_blocks.get(rid, ())) * cfg.block_size >= r.num_computed_tokens
        before, preemptions = prev_computed.get(rid, (0, 0))
        if r.num_computed_tokens < before:
            assert r.num_computed_tokens == 0
            assert r.num_preemptions > preemptions
        prev_computed[rid] = (r.num_computed_tokens, r.num_preemptions)


def step_state(engine: LLMEngine, added: dict) -> tuple:
    """What one step did, in full: its record (events, sampled tokens), stats, request states."""
    stats = engine.last_stats
    requests = tuple((rid, r.status.name, r.num_computed_tokens, r.num_tokens,
                      tuple(r.block_hashes), r.stop_reason) for rid, r in sorted(added.items()))
    kvm = engine.scheduler.kv_cache_manager
    blocks = tuple(sorted((rid, tuple(b)) for rid, b in kvm.req_to_blocks.items()))
    return (engine.last_step, stats.num_running_reqs, stats.num_waiting_reqs,
            stats.kv_cache_usage, vars(stats.prefix_cache_stats), stats.num_preemptions,
            requests, blocks, tuple(kvm.block_pool.free_block_queue))


def run_workload(cfg: EngineConfig, reqs: list[Spec], aborts: list[tuple[int, int]],
                 model_kind: str, check: bool = True, fast_paths: bool = True):
    model = ToyModel() if model_kind == "toy" else LastPlusPosModel()
    engine = LLMEngine(model=model, config=cfg, fast_paths=fast_paths)
    prev: dict[str, tuple[int, int]] = {}
    added: dict = {}  # request id -> Request, as returned by add_request
    trace = []
    returned: Counter = Counter()
    last_arrival = max(s.arrival_step for s in reqs)
    step = 0
    while step <= last_arrival or engine.scheduler.has_unfinished_requests():
        assert step < MAX_STEPS, "run loop did not finish"
        for i, s in enumerate(reqs):
            if s.arrival_step == step:
                added[f"r{i}"] = engine.add_request(
                    f"r{i}", prompt_token_ids=list(s.prompt), priority=s.priority,
                    sampling_params=SamplingParams(
                        max_tokens=s.max_tokens, min_tokens=s.min_tokens,
                        temperature=s.temperature, seed=i, ignore_eos=s.ignore_eos))
        for at, idx in aborts:
            if at == step and idx < len(reqs) and f"r{idx}" in added:
                engine.abort_request(f"r{idx}")
        if engine.scheduler.has_unfinished_requests():
            finished = engine.step()
            for r in finished:
                assert RequestStatus.is_finished(r.status)
                returned[r.request_id] += 1
            so = engine.last_scheduler_output
            trace.append((dict(so.num_scheduled_tokens), list(so.preempted_req_ids),
                          list(so.scheduled_new_req_ids), list(so.scheduled_resumed_req_ids),
                          sorted(so.finished_req_ids), [r.request_id for r in finished],
                          so.waiting_stop_reason, round(engine.last_stats.kv_cache_usage, 9)))
            if not check:
                trace.append(step_state(engine, added))
            if check:
                check_invariants(engine, added, prev)
        step += 1

    # Everything finished, nothing held.
    sched, pool = engine.scheduler, engine.scheduler.kv_cache_manager.block_pool
    assert len(added) == len(reqs)
    for rid, r in added.items():
        assert RequestStatus.is_finished(r.status), (rid, r.status)
        if r.status == RequestStatus.FINISHED_LENGTH:
            assert (r.num_output_tokens == r.max_tokens
                    or r.num_tokens >= cfg.max_model_len)
        if r.status == RequestStatus.FINISHED_STOPPED:
            assert r.num_output_tokens >= 1
        assert returned[rid] <= 1
    assert sched.running == [] and len(sched.waiting) == 0 and sched.requests == {}
    assert engine.scheduler.kv_cache_manager.req_to_blocks == {}
    assert all(c == 0 for c in pool.ref_cnt)
    assert len(pool.free_block_queue) == cfg.num_gpu_blocks - 1
    outputs = {rid: (r.status.name, tuple(r.output_token_ids), r.stop_reason)
               for rid, r in sorted(added.items())}
    # Coverage signal (pytest --hypothesis-show-statistics): what the examples exercised.
    event(f"preempted: {any(t[1] for t in trace)}")
    event(f"prefix hits: {any(r.num_cached_tokens > 0 for r in added.values())}")
    for status in sorted({r.status.name for r in added.values()}):
        event(f"status {status}")
    return trace, outputs


@settings(deadline=None, derandomize=True, max_examples=600,
          suppress_health_check=[HealthCheck.too_slow])
@given(workloads)
def test_invariants_hold_after_every_step(workload):
    run_workload(*workload)


@settings(deadline=None, derandomize=True, max_examples=150,
          suppress_health_check=[HealthCheck.too_slow])
@given(workloads)
def test_same_input_gives_identical_traces(workload):
    first = run_workload(*workload, check=False)
    second = run_workload(*workload, check=False)
    assert first == second


@settings(deadline=None, derandomize=True, max_examples=300,
          suppress_health_check=[HealthCheck.too_slow])
@given(workloads)
def test_fast_paths_off_gives_identical_traces(workload):
    # Every shortcut (decode fast path, lean allocate_slots, flat one-token outputs, batch
    # append, greedy table) must decide exactly what the general code decides.
    fast = run_workload(*workload, check=False)
    slow = run_workload(*workload, check=False, fast_paths=False)
    assert fast == slow


@settings(deadline=None, derandomize=True, max_examples=250,
          suppress_health_check=[HealthCheck.too_slow])
@given(configs(), st.lists(specs(), min_size=2, max_size=6))
def test_tight_caches_preempt_and_still_finish(cfg, reqs):
    # Force a tight cache (2-4 usable blocks of 1-4 tokens) so preemption happens often.
    cfg = EngineConfig(**{**cfg.to_dict(), "num_gpu_blocks": min(cfg.num_gpu_blocks, 5),
                          "block_size": min(cfg.block_size, 4)})
    run_workload(cfg, reqs, [], "last_plus_pos")
