"""One focused test per scheduling / KV-cache behaviour of the reference semantics
(/work/shared/reference/vllm-v1-semantics.md: sections 1-4 and the 22 subtle behaviours of
section 8), plus the toy model.

Expected numbers are derived by hand in the comments. Most tests inject
`LastPlusPosModel` (next token = (last + num_tokens) % 256, never EOS) or `ConstantModel`
so they don't depend on the toy model's text. Block ids are exact: block 0 is the null
block, the free queue starts as 1, 2, 3, ... and allocation pops from its head.
"""

from __future__ import annotations

import numpy as np
import pytest

from mini_engine import (ByteTokenizer, ConstantModel, EngineConfig, LastPlusPosModel,
                         LLMEngine, ModelRunnerOutput, Request, RequestStatus, SamplingParams,
                         Scheduler, ToyModel)

EOS = ByteTokenizer.eos_token_id  # 256
MAX_STEPS = 1000


# ------------------------------------------------------------------------------ helpers

def toks(n: int, start: int = 1) -> list[int]:
    """n distinct-ish byte tokens starting at `start`."""
    return [(start + i) % 256 for i in range(n)]


def sp(max_tokens: int = 16, **kw) -> SamplingParams:
    kw.setdefault("temperature", 0.0)
    return SamplingParams(max_tokens=max_tokens, **kw)


def make_engine(model=None, **kw) -> LLMEngine:
    return LLMEngine(model=model if model is not None else LastPlusPosModel(), **kw)


def add(engine: LLMEngine, rid: str, tokens: list[int], max_tokens: int = 16,
        priority: int = 0, **kw) -> Request:
    return engine.add_request(rid, prompt_token_ids=tokens, sampling_params=sp(max_tokens, **kw),
                              priority=priority)


def run(engine: LLMEngine) -> list[list[str]]:
    """Run to completion; the ids step() returned, per step."""
    finished = []
    while engine.scheduler.has_unfinished_requests():
        assert len(finished) < MAX_STEPS, "run loop did not finish"
        finished.append([r.request_id for r in engine.step()])
    return finished


def blocks(engine: LLMEngine, rid: str) -> list[int]:
    return engine.scheduler.kv_cache_manager.get_block_ids(rid)


def pool(engine: LLMEngine):
    return engine.scheduler.kv_cache_manager.block_pool


def free_queue(engine: LLMEngine) -> list[int]:
    return list(pool(engine).free_block_queue)


def out(engine: LLMEngine):
    return engine.last_scheduler_output


def ids(requests) -> list[str]:
    return [r.request_id for r in requests]


def stats_tuple(engine: LLMEngine) -> tuple[int, ...]:
    s = engine.last_stats.prefix_cache_stats
    return (s.requests, s.queries, s.hits, s.preempted_requests, s.preempted_queries,
            s.preempted_hits)


class Recorder:
    """Wraps a model and records the request ids of every sample() call."""

    def __init__(self, inner=None) -> None:
        self.inner = inner if inner is not None else LastPlusPosModel()
        self.calls: list[list[str]] = []

    def sample(self, requests):
        self.calls.append([r.request_id for r in requests])
        return self.inner.sample(requests)


def sched_add(s: Scheduler, rid: str, tokens: list[int], max_tokens: int = 16,
              priority: int = 0, arrival_time: float = 0.0, **kw) -> Request:
    r = Request(rid, tokens, sp(max_tokens, **kw), eos_token_id=EOS, priority=priority,
                arrival_time=arrival_time, block_hasher=s.block_hasher)
    s.add_request(r)
    return r


def sched_step(s: Scheduler, model=None):
    """One engine step driven by hand on a bare Scheduler (partial prefills sample nothing)."""
    model = model or LastPlusPosModel()
    so = s.schedule()
    rids = list(so.num_scheduled_tokens)
    reqs = [s.requests[r] for r in rids]
    sampled = [[model.sample([r])[0]] if r.num_computed_tokens >= r.num_tokens else []
               for r in reqs]
    s.update_from_output(so, ModelRunnerOutput(rids, sampled))
    return so


# =================================================================== section 8, one by one

# 1. No phases; running requests are served before any waiting request.
def test_01_one_rule_running_served_before_waiting():
    eng = make_engine(max_num_batched_tokens=8, max_num_seqs=4)
    add(eng, "A", toks(10), max_tokens=4)
    eng.step()  # A: 8 of its 10 prompt tokens (budget 8)
    assert out(eng).num_scheduled_tokens == {"A": 8}
    add(eng, "B", toks(12, 100), max_tokens=4)
    eng.step()  # A's remaining 2 first, then B gets what is left: 6
    assert out(eng).num_scheduled_tokens == {"A": 2, "B": 6}
    assert list(out(eng).num_scheduled_tokens) == ["A", "B"]
    eng.step()  # A decodes 1 (running first), B's remaining 6 prompt tokens
    assert out(eng).num_scheduled_tokens == {"A": 1, "B": 6}
    eng.step()  # both decode: the same rule, num_tokens - num_computed_tokens = 1
    assert out(eng).num_scheduled_tokens == {"A": 1, "B": 1}


# 2. num_computed_tokens advances at schedule time; an in-flight request (0 new tokens)
#    is skipped, not blocking the requests behind it.
def test_02_computed_advances_at_schedule_time_and_in_flight_request_is_skipped():
    s = Scheduler(EngineConfig(long_prefill_token_threshold=5))
    a = sched_add(s, "A", toks(4))
    b = sched_add(s, "B", toks(10, 100))
    so1 = s.schedule()
    assert so1.num_scheduled_tokens == {"A": 4, "B": 5}
    assert (a.num_computed_tokens, a.num_tokens) == (4, 4)   # before any model output
    assert (b.num_computed_tokens, b.num_tokens) == (5, 10)
    assert not a.is_prefill_chunk and b.is_prefill_chunk
    so2 = s.schedule()  # A's output is still outstanding: 0 new tokens -> skipped
    assert so2.num_scheduled_tokens == {"B": 5}
    assert so2.scheduled_running_req_ids == ["B"]
    assert b.num_computed_tokens == 10
    s.update_from_output(so1, ModelRunnerOutput(["A", "B"], [[42], []]))
    assert a.output_token_ids == [42] and a.num_tokens == 5


# 3. Partial prefill steps yield no token; the step completing the prompt yields the first.
def test_03_partial_prefill_samples_nothing():
    rec = Recorder()
    eng = make_engine(model=rec, long_prefill_token_threshold=4)
    a = add(eng, "A", toks(10), max_tokens=2)
    seen = []
    while eng.scheduler.has_unfinished_requests():
        assert len(seen) < MAX_STEPS
        eng.step()
        seen.append((a.num_computed_tokens, a.num_tokens, len(rec.calls)))
    assert seen == [(4, 10, 0), (8, 10, 0), (10, 11, 1), (11, 12, 2)]
    assert rec.calls == [["A"], ["A"]]


# 4. Fully cached prompt: hit <= num_tokens - 1, rounded down to whole blocks.
@pytest.mark.parametrize("n, cached, scheduled", [(17, 16, 1), (32, 16, 16), (33, 32, 1),
                                                  (16, 0, 16), (15, 0, 15)])
def test_04_fully_cached_prompt_recomputes_at_least_one_token(n, cached, scheduled):
    eng = make_engine()  # block_size 16
    add(eng, "A", toks(n), max_tokens=1)
    run(eng)
    b = add(eng, "B", toks(n), max_tokens=2)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"B": scheduled}
    assert b.num_cached_tokens == cached
    assert eng.make_output(b).num_cached_tokens == cached
    assert stats_tuple(eng) == (1, n, cached, 0, 0, 0)


def test_04_block_ids_of_17_and_32_token_hits():
    # 17 tokens: A held [1, 2]; block 1 (full) is hashed -> freed to the tail, block 2
    # (partial) unhashed -> freed to the head. B hits block 1 and takes block 2 again.
    eng = make_engine()
    add(eng, "A", toks(17), max_tokens=1)
    run(eng)
    add(eng, "B", toks(17), max_tokens=2)
    eng.step()
    assert blocks(eng, "B") == [1, 2]
    assert out(eng).req_to_new_block_ids == {"B": [2]}
    # 32 tokens: both of A's blocks hashed -> tail; B hits block 1 only and pops block 3.
    eng = make_engine()
    add(eng, "A", toks(32), max_tokens=1)
    run(eng)
    add(eng, "B", toks(32), max_tokens=2)
    eng.step()
    assert blocks(eng, "B") == [1, 3]
    assert out(eng).req_to_new_block_ids == {"B": [3]}


# 5. Preemption is recompute: blocks freed, counter to 0, outputs kept, num_preemptions,
#    status PREEMPTED, front of the FCFS queue; on resume a resumed request re-prefills
#    prompt + outputs and its next output is a new token.
def test_05_preemption_is_recompute_and_goes_to_the_front():
    eng = make_engine(block_size=4, num_gpu_blocks=4, enable_prefix_caching=False,
                      max_num_seqs=2, max_num_batched_tokens=64)
    add(eng, "A", toks(4, 10), max_tokens=3)
    b = add(eng, "B", toks(4, 50), max_tokens=3)
    add(eng, "C", toks(4, 100), max_tokens=3)
    eng.step()  # A -> [1], B -> [2]; C waits (max_num_seqs)
    assert (blocks(eng, "A"), blocks(eng, "B")) == ([1], [2])
    assert b.output_token_ids == [57]  # (53 + 4) % 256
    eng.step()  # A's decode crosses into block 3; B needs a block too -> B is the victim
    so = out(eng)
    assert so.num_scheduled_tokens == {"A": 1}
    assert so.preempted_req_ids == ["B"]
    assert so.scheduled_new_req_ids == [] and so.waiting_stop_reason == "preemption"
    assert b.status == RequestStatus.PREEMPTED
    assert (b.num_computed_tokens, b.num_tokens, b.num_preemptions) == (0, 5, 1)
    assert b.output_token_ids == [57]           # outputs kept
    assert blocks(eng, "B") == [] and free_queue(eng) == [2]
    assert ids(eng.scheduler.waiting) == ["B", "C"]  # prepended ahead of C
    assert len(so.preemptions) == 1
    rec = so.preemptions[0]
    assert (rec.request_id, rec.num_computed_tokens_lost) == ("B", 4)
    assert rec.kv_cache_usage_before == 1.0
    assert rec.kv_cache_usage_after == pytest.approx(2 / 3)
    st = eng.last_stats
    assert (st.num_running_reqs, st.num_waiting_reqs, st.num_preemptions) == (1, 2, 1)
    assert st.kv_cache_usage == pytest.approx(2 / 3)  # measured after the step: A's [1, 3]
    eng.step()  # A finishes; B (5 tokens = 2 blocks) can't fit in 1 free block; C is behind it
    assert out(eng).num_scheduled_tokens == {"A": 1}
    assert out(eng).waiting_stop_reason == "kv_cache"
    assert out(eng).waiting_stop_req_id == "B"
    assert free_queue(eng) == [3, 1, 2]  # A's [1, 3] freed in reverse to the head
    eng.step()  # B resumes: recompute prompt + output = 5 tokens; C admitted behind it
    so = out(eng)
    assert so.num_scheduled_tokens == {"B": 5, "C": 4}
    assert so.scheduled_resumed_req_ids == ["B"]
    assert so.scheduled_new_req_ids == ["C"]
    assert so.scheduled_running_req_ids == []
    assert so.total_num_scheduled_tokens == 9
    assert so.req_to_new_block_ids == {"B": [3, 1], "C": [2]}
    assert (b.status, b.num_computed_tokens, b.num_tokens) == (RequestStatus.RUNNING, 5, 6)
    assert b.output_token_ids == [57, 62]  # a new token: (57 + 5) % 256


# 6a. FCFS victim = the last running request, even when another request needs the block.
# 6b. PRIORITY victim = max (priority, arrival); a self-preempting request lets the loop go on.
def _three_running(policy: str, priorities=(0, 5, 0)) -> LLMEngine:
    # block_size 4, 3 usable blocks. A (1 token), B (3 tokens, priority 5), C (1 token) are
    # admitted in separate steps so running == [A, B, C] under both policies; each holds
    # one block. In the 4th step only B crosses a block boundary (computing its 5th token).
    eng = make_engine(block_size=4, num_gpu_blocks=4, enable_prefix_caching=False,
                      policy=policy)
    add(eng, "A", toks(1, 10), max_tokens=8, priority=priorities[0])
    eng.step()
    add(eng, "B", toks(3, 20), max_tokens=8, priority=priorities[1])
    eng.step()
    add(eng, "C", toks(1, 30), max_tokens=8, priority=priorities[2])
    eng.step()
    assert ids(eng.scheduler.running) == ["A", "B", "C"]
    assert [blocks(eng, r) for r in "ABC"] == [[1], [2], [3]]
    return eng


def test_06_fcfs_victim_is_the_last_running_request():
    eng = _three_running("fcfs")
    eng.step()
    so = out(eng)
    assert so.preempted_req_ids == ["C"]
    assert so.num_scheduled_tokens == {"A": 1, "B": 1}
    assert blocks(eng, "B") == [2, 3]  # C's freed block
    assert ids(eng.scheduler.running) == ["A", "B"]
    c = eng.get_request("C")
    assert (c.status, c.num_computed_tokens) == (RequestStatus.PREEMPTED, 0)


def test_06_fcfs_request_preempts_itself_when_it_is_last():
    # 2 usable blocks: A (4 tokens) and B (4 tokens) each hold one; in step 2 A takes the
    # last free block, B (last in running) is its own victim.
    eng = make_engine(block_size=4, num_gpu_blocks=3, enable_prefix_caching=False)
    add(eng, "A", toks(4, 10), max_tokens=5)
    add(eng, "B", toks(4, 50), max_tokens=5)
    eng.step()
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 1}
    assert out(eng).preempted_req_ids == ["B"]
    assert blocks(eng, "A") == [1, 2] and blocks(eng, "B") == []


def test_06_priority_self_preemption_continues_with_the_next_request():
    eng = _three_running("priority")
    add(eng, "D", toks(1, 40), max_tokens=8)  # would fit B's freed block, but see item 7
    eng.step()
    so = out(eng)
    assert so.preempted_req_ids == ["B"]            # max((0,1), (5,2), (0,3)) = B itself
    assert so.num_scheduled_tokens == {"A": 1, "C": 1}  # the loop went on to C
    assert so.scheduled_new_req_ids == []           # 7: no admission in a preempting step
    assert so.waiting_stop_reason == "preemption"
    assert ids(eng.scheduler.running) == ["A", "C"]
    assert free_queue(eng) == [2]  # D (1 token, 1 block) would have fit
    assert ids(eng.scheduler.waiting) == ["D", "B"]  # priority 0 ahead of B's 5


def test_06_priority_victim_later_in_running_is_simply_removed():
    # Priorities A 0, B 0, C 5: B needs a block, the victim is C (not yet scheduled).
    eng = _three_running("priority", priorities=(0, 0, 5))
    eng.step()
    assert out(eng).preempted_req_ids == ["C"]
    assert out(eng).num_scheduled_tokens == {"A": 1, "B": 1}
    assert blocks(eng, "B") == [2, 3]


def test_06_priority_victim_already_scheduled_is_rolled_back():
    # 2 usable blocks. A (priority 5) is admitted first, B (priority 0) second, so
    # running == [A, B]. In step 3 A is scheduled (1 token, fits its block), then B needs a
    # new block: the victim is A, already scheduled -> its token returns to the budget.
    eng = make_engine(block_size=4, num_gpu_blocks=3, enable_prefix_caching=False,
                      policy="priority")
    a = add(eng, "A", toks(2, 10), max_tokens=8, priority=5)
    eng.step()
    add(eng, "B", toks(4, 50), max_tokens=8, priority=0)
    eng.step()
    assert ids(eng.scheduler.running) == ["A", "B"]
    assert (a.num_computed_tokens, a.num_tokens) == (3, 4)
    eng.step()
    so = out(eng)
    assert so.preempted_req_ids == ["A"]
    assert so.num_scheduled_tokens == {"B": 1}
    assert so.scheduled_running_req_ids == ["B"]
    assert so.total_num_scheduled_tokens == 1
    assert so.req_to_new_block_ids == {"B": [1]}
    assert (a.status, a.num_computed_tokens, a.num_tokens) == (RequestStatus.PREEMPTED, 0, 4)
    assert so.preemptions[0].num_computed_tokens_lost == 3  # the rolled-back token excluded
    assert blocks(eng, "B") == [2, 1]


# 7. A step with any preemption admits no waiting requests; waiting requests never preempt.
def test_07_waiting_requests_never_trigger_preemption():
    eng = make_engine(block_size=4, num_gpu_blocks=4, enable_prefix_caching=False)
    add(eng, "A", toks(8, 10), max_tokens=2)
    eng.step()
    add(eng, "B", toks(8, 50), max_tokens=2)  # needs 2 blocks, 1 free
    eng.step()
    so = out(eng)
    assert so.num_scheduled_tokens == {"A": 1}
    assert so.preempted_req_ids == [] and so.waiting_stop_reason == "kv_cache"
    assert eng.get_request("A").num_preemptions == 0
    assert eng.get_request("B").status == RequestStatus.WAITING


# 8. Head-of-line blocking: chunked-off overflow, allocation failure and max_num_seqs
#    all `break`; shorter prompts behind the head are not admitted.
def test_08_head_of_line_blocking_chunked_prefill_off():
    eng = make_engine(enable_chunked_prefill=False, max_model_len=16,
                      max_num_batched_tokens=16, max_num_seqs=4)
    add(eng, "A", toks(10, 10), max_tokens=2)
    add(eng, "B", toks(10, 50), max_tokens=2)
    add(eng, "C", toks(2, 100), max_tokens=2)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 10}
    assert out(eng).waiting_stop_reason == "budget_unchunked"
    assert out(eng).waiting_stop_req_id == "B"
    assert ids(eng.scheduler.waiting) == ["B", "C"]


def test_08_chunked_prefill_on_fills_the_budget_instead():
    eng = make_engine(max_num_batched_tokens=16, max_num_seqs=4)
    add(eng, "A", toks(10, 10), max_tokens=2)
    add(eng, "B", toks(10, 50), max_tokens=2)
    add(eng, "C", toks(2, 100), max_tokens=2)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 10, "B": 6}
    assert out(eng).waiting_stop_reason == "budget"
    assert out(eng).waiting_stop_req_id == "C"


def test_08_head_of_line_blocking_on_allocation_failure():
    eng = make_engine(block_size=4, num_gpu_blocks=4)
    add(eng, "A", toks(8, 10), max_tokens=2)
    add(eng, "B", toks(8, 50), max_tokens=2)   # 2 blocks, only 1 left
    add(eng, "C", toks(2, 100), max_tokens=2)  # would fit, but is behind B
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 8}
    assert out(eng).waiting_stop_reason == "kv_cache"
    assert out(eng).waiting_stop_req_id == "B"
    assert free_queue(eng) == [3]


def test_08_head_of_line_blocking_on_max_num_seqs():
    eng = make_engine(max_num_seqs=2)
    for i, r in enumerate("ABC"):
        add(eng, r, toks(3, 10 * i + 10), max_tokens=3)
    eng.step()
    assert out(eng).scheduled_new_req_ids == ["A", "B"]
    assert out(eng).waiting_stop_reason == "max_num_seqs"
    assert out(eng).waiting_stop_req_id == "C"


# 9. max_num_seqs counts every running request, including ones not scheduled this step.
def test_09_max_num_seqs_counts_unscheduled_running_requests():
    s = Scheduler(EngineConfig(max_num_seqs=1))
    sched_add(s, "A", toks(5))
    assert s.schedule().num_scheduled_tokens == {"A": 5}
    sched_add(s, "B", toks(3, 100))
    so = s.schedule()  # A is in flight (0 new tokens, not scheduled) but still holds the seat
    assert so.num_scheduled_tokens == {}
    assert so.total_num_scheduled_tokens == 0
    assert so.waiting_stop_reason == "max_num_seqs"
    assert so.waiting_stop_req_id == "B"


# 10. Clamp order. Waiting: threshold -> (chunked-off check against the budget) -> budget.
def test_10_waiting_threshold_applies_before_the_chunked_off_check():
    # Chunked prefill off, budget 16, threshold 4, four 15-token prompts: each is clamped to
    # 4 first, so all four fit (15 > remaining budget would otherwise block B).
    eng = make_engine(enable_chunked_prefill=False, max_model_len=16,
                      max_num_batched_tokens=16, max_num_seqs=4, long_prefill_token_threshold=4)
    for i, r in enumerate("ABCD"):
        add(eng, r, toks(15, 40 * i + 1), max_tokens=1)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 4, "B": 4, "C": 4, "D": 4}
    assert out(eng).total_num_scheduled_tokens == 16


def test_10_running_threshold_then_budget():
    eng = make_engine(max_num_batched_tokens=5, max_num_seqs=2, long_prefill_token_threshold=3)
    add(eng, "A", toks(10, 10), max_tokens=2)
    add(eng, "B", toks(10, 50), max_tokens=2)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 3, "B": 2}
    eng.step()  # both running now: A threshold 3, B the remaining budget 2
    assert out(eng).num_scheduled_tokens == {"A": 3, "B": 2}
    assert out(eng).scheduled_running_req_ids == ["A", "B"]


# 11. Block accounting: null block 0, usable N-1, usage denominator N-1, cdiv, just in time,
#     prefix-hit blocks in the free queue count against free capacity, failures are clean.
def test_11_null_block_usable_blocks_and_usage():
    eng = make_engine(block_size=4, num_gpu_blocks=5)
    assert eng.config.num_usable_blocks == 4
    assert free_queue(eng) == [1, 2, 3, 4]
    add(eng, "A", toks(8), max_tokens=3)
    eng.step()
    assert out(eng).req_to_new_block_ids == {"A": [1, 2]}
    assert free_queue(eng) == [3, 4]
    assert eng.last_stats.kv_cache_usage == 0.5  # 2 used / 4 usable
    assert eng.scheduler.kv_cache_manager.usage == 0.5
    run(eng)
    assert eng.last_stats.kv_cache_usage == 0.0
    assert 0 not in free_queue(eng) and len(free_queue(eng)) == 4


def test_11_blocks_allocated_just_in_time():
    # 4-token prompt, block_size 4, 6 outputs (10 tokens). Blocks are requested in the
    # step whose scheduled tokens cross a boundary: token index 4 (step 2), 8 (step 6).
    eng = make_engine(block_size=4, num_gpu_blocks=10, enable_prefix_caching=False)
    add(eng, "A", toks(4), max_tokens=6)
    per_step = []
    held = []
    while eng.scheduler.has_unfinished_requests():
        assert len(per_step) < MAX_STEPS
        eng.step()
        per_step.append(out(eng).req_to_new_block_ids)
        held.append(blocks(eng, "A"))
    assert per_step == [{"A": [1]}, {"A": [2]}, {}, {}, {}, {"A": [3]}]
    assert held[:5] == [[1], [1, 2], [1, 2], [1, 2], [1, 2]]
    # Caching off: freed blocks go to the head, reversed (tail block reused first).
    assert free_queue(eng) == [3, 2, 1, 4, 5, 6, 7, 8, 9]


def test_11_prefix_hits_in_free_queue_count_against_capacity_and_failure_is_clean():
    # 3 usable blocks of 4. A (8 tokens) runs and frees [1, 2], both hashed -> queue [3, 2, 1].
    eng = make_engine(block_size=4, num_gpu_blocks=4)
    add(eng, "A", toks(8), max_tokens=1)
    run(eng)
    assert free_queue(eng) == [3, 2, 1]
    add(eng, "C", toks(3, 100), max_tokens=2)
    b = add(eng, "B", toks(8) + toks(4, 50), max_tokens=1)  # A's prompt + 4 more
    eng.step()
    # C took block 3. B hits blocks 1, 2 (idle, in the free queue): needs 1 new block plus
    # the 2 it would pull out of the queue = 3 > 2 free -> fails, with no side effects.
    assert out(eng).num_scheduled_tokens == {"C": 3}
    assert out(eng).waiting_stop_reason == "kv_cache"
    assert free_queue(eng) == [2, 1]
    assert pool(eng).ref_cnt[1] == 0 and pool(eng).ref_cnt[2] == 0
    assert blocks(eng, "B") == []
    assert (b.status, b.num_computed_tokens) == (RequestStatus.WAITING, 0)
    assert stats_tuple(eng) == (1, 3, 0, 0, 0, 0)  # C only: the failed lookup isn't recorded
    eng.step()  # C finishes (its full block 3 is hashed -> tail); B still can't fit
    assert out(eng).num_scheduled_tokens == {"C": 1}
    assert stats_tuple(eng) == (0, 0, 0, 0, 0, 0)
    assert free_queue(eng) == [2, 1, 3]
    eng.step()  # B: hits [1, 2], pops block 3 from the head
    assert out(eng).num_scheduled_tokens == {"B": 4}
    assert out(eng).req_to_new_block_ids == {"B": [3]}
    assert b.num_cached_tokens == 8
    assert stats_tuple(eng) == (1, 12, 8, 0, 0, 0)


def test_11_failed_allocate_slots_has_no_side_effects():
    s = Scheduler(EngineConfig(block_size=4, num_gpu_blocks=3))
    r = sched_add(s, "A", toks(12))
    kvm = s.kv_cache_manager
    before = (list(kvm.block_pool.free_block_queue), list(kvm.block_pool.ref_cnt))
    assert kvm.allocate_slots(r, 12) is None
    assert kvm.allocate_slots(r, 4, full_sequence_must_fit=True) is None
    assert (list(kvm.block_pool.free_block_queue), list(kvm.block_pool.ref_cnt)) == before
    assert kvm.get_block_ids("A") == []
    assert kvm.allocate_slots(r, 4) == [1]  # without the full-sequence gate 1 block fits


# 12. Reserve-full-sequence admission: the whole prompt must fit, even if only a chunk runs.
def test_12_admission_reserves_the_full_sequence():
    # 4 usable blocks. C holds 1 block. A's 16-token prompt needs 4 blocks: its first chunk
    # (4 tokens, 1 block) would fit, but A is not admitted until 4 blocks are free; then it
    # only gets the 1 block its first chunk needs.
    eng = make_engine(block_size=4, num_gpu_blocks=5, long_prefill_token_threshold=4)
    add(eng, "C", toks(1, 100), max_tokens=3)
    eng.step()
    a = add(eng, "A", toks(16), max_tokens=1)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"C": 1}
    assert out(eng).waiting_stop_reason == "kv_cache"
    eng.step()  # C finishes this step (1 + 3 tokens), A still blocked while C held its block
    assert out(eng).num_scheduled_tokens == {"C": 1}
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 4}
    assert out(eng).req_to_new_block_ids == {"A": [1]}
    assert blocks(eng, "A") == [1]
    assert pool(eng).get_num_free_blocks() == 3
    assert a.num_computed_tokens == 4


# 13. Blocks are hashed at allocation time (up to the scheduled tokens), so identical
#     prompts admitted in the same step share blocks.
def test_13_identical_prompts_in_the_same_step_share_blocks():
    eng = make_engine(block_size=4)
    add(eng, "A", toks(8), max_tokens=2)
    b = add(eng, "B", toks(8), max_tokens=2)
    eng.step()
    # B hits block 1 (capped at (8-1)//4 = 1 block) and recomputes its last block.
    assert out(eng).num_scheduled_tokens == {"A": 8, "B": 4}
    assert out(eng).req_to_new_block_ids == {"A": [1, 2], "B": [3]}
    assert blocks(eng, "A") == [1, 2] and blocks(eng, "B") == [1, 3]
    assert pool(eng).ref_cnt[1] == 2
    assert b.num_cached_tokens == 4
    assert stats_tuple(eng) == (2, 16, 4, 0, 0, 0)


def test_13_running_chunk_is_hashed_when_scheduled_within_the_step():
    # A (12 tokens, threshold 4) has computed 4. In step 2 its chunk 4..8 is allocated and
    # hashed in the running phase, before B's lookup in the waiting phase of the same step.
    eng = make_engine(block_size=4, long_prefill_token_threshold=4)
    add(eng, "A", toks(12), max_tokens=2)
    eng.step()
    b = add(eng, "B", toks(12), max_tokens=2)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 4, "B": 4}
    assert b.num_cached_tokens == 8
    assert blocks(eng, "B") == [1, 2, 3] and blocks(eng, "A") == [1, 2]


# 14. Free in reverse order; hashed blocks to the tail, unhashed to the head; allocate from
#     the head; hashes evicted lazily on reuse; duplicate hashes allowed.
def test_14_free_order_hashed_tail_unhashed_head():
    # 10 usable blocks of 4. req0: 14 tokens -> [1, 2, 3, 4] (1-3 full, hashed; 4 partial).
    # req1: same first 12 tokens + 2 others -> hits [1, 2, 3], new [5]. Both finish in step 1,
    # req0 freed first: 4 -> head; then 5 -> head; 3, 2, 1 (now at 0) -> tail in that order.
    eng = make_engine(block_size=4, num_gpu_blocks=11)
    add(eng, "req0", toks(14), max_tokens=1)
    add(eng, "req1", toks(12) + [200, 201], max_tokens=1)
    eng.step()
    assert out(eng).req_to_new_block_ids == {"req0": [1, 2, 3, 4], "req1": [5]}
    assert free_queue(eng) == [5, 4, 6, 7, 8, 9, 10, 3, 2, 1]
    # Allocation pops the head; freed hashed blocks stay hit-able.
    add(eng, "D", toks(8, 150), max_tokens=2)
    e = add(eng, "E", toks(12) + [9], max_tokens=2)
    eng.step()
    assert blocks(eng, "D") == [5, 4]
    assert blocks(eng, "E") == [1, 2, 3, 6]
    assert e.num_cached_tokens == 12


def test_14_hashes_are_evicted_lazily_when_a_block_is_reused():
    eng = make_engine(block_size=4, num_gpu_blocks=3)
    add(eng, "A", toks(8), max_tokens=1)
    run(eng)
    assert free_queue(eng) == [2, 1]  # both hashed, freed in reverse
    a2 = add(eng, "A2", toks(8), max_tokens=1)
    run(eng)
    assert a2.num_cached_tokens == 4  # still hit-able while in the free queue
    add(eng, "B", toks(8, 100), max_tokens=1)
    eng.step()
    assert blocks(eng, "B") == [] and out(eng).req_to_new_block_ids == {"B": [2, 1]}
    c = add(eng, "C", toks(8), max_tokens=1)
    eng.step()
    assert c.num_cached_tokens == 0  # A's hashes went with the reused blocks


def test_14_duplicate_hashes_allowed_first_inserted_wins():
    # A and B (same 8 tokens, same step): B's block 3 holds the same content as A's block 2.
    eng = make_engine(block_size=4)
    add(eng, "A", toks(8), max_tokens=2)
    add(eng, "B", toks(8), max_tokens=2)
    eng.step()
    h = eng.get_request("A").block_hashes[1]
    assert list(pool(eng).cached_block_hash_to_block[h]) == [2, 3]
    c = add(eng, "C", toks(8) + toks(4, 60), max_tokens=2)
    eng.step()
    assert blocks(eng, "C")[:2] == [1, 2]
    assert c.num_cached_tokens == 8


# 15. Stop checks per token: EOS -> stop_token_ids (stop_reason) -> length -> min_tokens gate.
@pytest.mark.parametrize("model_token, params, status, stop_reason, outputs", [
    (EOS, dict(max_tokens=5), "FINISHED_STOPPED", None, [EOS]),
    (EOS, dict(max_tokens=5, stop_token_ids=[EOS]), "FINISHED_STOPPED", None, [EOS]),
    (EOS, dict(max_tokens=1), "FINISHED_STOPPED", None, [EOS]),
    (7, dict(max_tokens=5, stop_token_ids=[7]), "FINISHED_STOPPED", 7, [7]),
    (7, dict(max_tokens=1, stop_token_ids=[7]), "FINISHED_STOPPED", 7, [7]),
    (7, dict(max_tokens=3), "FINISHED_LENGTH", None, [7, 7, 7]),
    # An injected model that emits a stop token below min_tokens still stops (as vLLM 0.33).
    (7, dict(max_tokens=5, min_tokens=3, stop_token_ids=[7]), "FINISHED_STOPPED", 7, [7]),
    (EOS, dict(max_tokens=5, min_tokens=3), "FINISHED_STOPPED", None, [EOS]),
    # ignore_eos
    (EOS, dict(max_tokens=3, ignore_eos=True), "FINISHED_LENGTH", None, [EOS, EOS, EOS]),
])
def test_15_stop_check_order(model_token, params, status, stop_reason, outputs):
    eng = make_engine(model=ConstantModel(model_token))
    r = add(eng, "A", toks(3), **params)
    steps = run(eng)
    assert r.status.name == status
    assert r.stop_reason == stop_reason
    assert r.output_token_ids == outputs
    assert len(steps) == len(outputs)
    o = eng.make_output(r)
    assert o.token_ids == outputs  # the EOS token appears in the output ids
    assert o.finish_reason == ("stop" if status == "FINISHED_STOPPED" else "length")


def test_15_length_stop_at_max_model_len():
    eng = make_engine(max_model_len=8)
    r = add(eng, "A", toks(5), max_tokens=10)
    steps = run(eng)
    assert (r.status, r.num_tokens, len(r.output_token_ids)) == (RequestStatus.FINISHED_LENGTH,
                                                               8, 3)
    assert len(steps) == 3


def test_15_length_is_checked_before_the_min_tokens_gate():
    # min_tokens 5 cannot hold a request past max_model_len: 5 + 3 outputs = 8 -> length stop.
    eng = make_engine(max_model_len=8)
    r = add(eng, "A", toks(5), max_tokens=5, min_tokens=5)
    assert len(run(eng)) == 3
    assert (r.status, len(r.output_token_ids)) == (RequestStatus.FINISHED_LENGTH, 3)


def test_15_stopping_token_kept_later_tokens_dropped():
    s = Scheduler(EngineConfig())
    r = sched_add(s, "A", toks(3), stop_token_ids=[8])
    so = s.schedule()
    eco = s.update_from_output(so, ModelRunnerOutput(["A"], [[7, 8, 9]]))
    assert r.output_token_ids == [7, 8]
    assert (r.status, r.stop_reason) == (RequestStatus.FINISHED_STOPPED, 8)
    assert ids(eco.finished_requests) == ["A"]


def test_15_toy_model_masks_eos_and_stop_tokens_below_min_tokens():
    # Greedy "hello" emits EOS as its 6th token and 'c' (99) as its first.
    base = LLMEngine().generate("hello", sp(16))[0]
    assert base.token_ids == [99, 64, 53, 39, 85, EOS]
    o = LLMEngine().generate("hello", sp(8, min_tokens=8))[0]
    assert EOS not in o.token_ids and len(o.token_ids) == 8
    assert o.token_ids[:5] == [99, 64, 53, 39, 85]
    assert o.status == "FINISHED_LENGTH"
    o = LLMEngine().generate("hello", sp(8, stop_token_ids=[99]))[0]
    assert (o.token_ids, o.stop_reason) == ([99], 99)
    o = LLMEngine().generate("hello", sp(8, min_tokens=1, stop_token_ids=[99]))[0]
    assert o.token_ids[0] != 99
    # Sampled (temperature > 0) requests are masked too.
    for seed in range(8):
        o = LLMEngine().generate("hello", sp(12, min_tokens=12, temperature=1.0, seed=seed))[0]
        assert EOS not in o.token_ids and len(o.token_ids) == 12


# 16. Tokens for a request preempted after being scheduled are appended; for an aborted
#     request they are ignored.
def _pipelined_preemption(stop_token_ids=()):
    # 3 usable blocks of 4, threshold 4. A (12 tokens) is admitted with its first chunk.
    # Step 2 schedules A's 2nd chunk and admits B (3 tokens); before B's output arrives the
    # next schedule() needs a block for A's 3rd chunk, and B (last) is preempted.
    s = Scheduler(EngineConfig(block_size=4, num_gpu_blocks=4, long_prefill_token_threshold=4,
                               enable_prefix_caching=False))
    sched_add(s, "A", toks(12))
    sched_step(s)
    b = sched_add(s, "B", toks(3, 50), stop_token_ids=list(stop_token_ids))
    so2 = s.schedule()
    assert so2.num_scheduled_tokens == {"A": 4, "B": 3}
    so3 = s.schedule()
    assert so3.preempted_req_ids == ["B"]
    assert so3.num_scheduled_tokens == {"A": 4}
    assert (b.status, b.num_computed_tokens) == (RequestStatus.PREEMPTED, 0)
    eco = s.update_from_output(so2, ModelRunnerOutput(["A", "B"], [[], [99]]))
    return s, b, eco


def test_16_token_for_a_preempted_request_is_appended():
    s, b, eco = _pipelined_preemption()
    assert b.output_token_ids == [99] and b.num_tokens == 4
    assert b.status == RequestStatus.PREEMPTED
    assert ids(s.waiting) == ["B"]
    assert eco.finished_requests == []


def test_16_preempted_request_stopped_by_its_late_token_leaves_the_waiting_queue():
    s, b, eco = _pipelined_preemption(stop_token_ids=[99])
    assert (b.status, b.stop_reason) == (RequestStatus.FINISHED_STOPPED, 99)
    assert ids(eco.finished_requests) == ["B"]
    assert len(s.waiting) == 0 and "B" not in s.requests


def test_16_token_for_an_aborted_request_is_ignored():
    s = Scheduler(EngineConfig())
    r = sched_add(s, "A", toks(3))
    so = s.schedule()
    assert ids(s.finish_requests("A", RequestStatus.FINISHED_ABORTED)) == ["A"]
    eco = s.update_from_output(so, ModelRunnerOutput(["A"], [[5]]))
    assert r.num_tokens == 3 and r.output_token_ids == []
    assert r.status == RequestStatus.FINISHED_ABORTED
    assert eco.finished_requests == []


# 17. finished_req_ids = ids finished since the previous schedule(), in the next output.
#     (Lab deviation: no extra empty step after the last finish.)
def test_17_finished_req_ids_arrive_in_the_next_scheduler_output():
    eng = make_engine()
    add(eng, "A", toks(3), max_tokens=1)
    add(eng, "B", toks(3, 50), max_tokens=3)
    outputs, finished = [], []
    while eng.scheduler.has_unfinished_requests():
        assert len(outputs) < MAX_STEPS
        finished.append(ids(eng.step()))
        outputs.append(eng.last_scheduler_output)
    assert finished == [["A"], [], ["B"]]
    assert [o.finished_req_ids for o in outputs] == [set(), {"A"}, set()]
    assert eng.scheduler.finished_req_ids == {"B"}  # waiting for a next schedule()


# 18. Prefix-cache stats: once per admission, queries = num_tokens, preempted split out.
def test_18_prefix_stats_per_admission_and_preempted_split():
    # 3 usable blocks of 4, caching on. A and B (4 tokens each) fill blocks 1, 2. In step 2
    # A's decode takes block 3 and B preempts itself; B's block 2 (hashed) stays hit-able.
    eng = make_engine(block_size=4, num_gpu_blocks=4)
    add(eng, "A", toks(4, 10), max_tokens=3)
    b = add(eng, "B", toks(4, 50), max_tokens=3)
    eng.step()
    assert stats_tuple(eng) == (2, 8, 0, 0, 0, 0)
    eng.step()
    assert out(eng).preempted_req_ids == ["B"]
    assert stats_tuple(eng) == (0, 0, 0, 0, 0, 0)
    eng.step()  # B's lookup hits block 2 but admission fails (2 blocks needed, 1 free)
    assert out(eng).waiting_stop_reason == "kv_cache"
    assert stats_tuple(eng) == (0, 0, 0, 0, 0, 0)
    eng.step()  # B resumes: 5 tokens queried, 4 hit, counted as preempted
    assert out(eng).scheduled_resumed_req_ids == ["B"]
    assert out(eng).num_scheduled_tokens == {"B": 1}
    assert blocks(eng, "B") == [2, 3]
    assert stats_tuple(eng) == (0, 0, 0, 1, 5, 4)
    assert b.num_cached_tokens == 0  # set at first admission only
    assert b.num_preemptions == 1


# 19. Lookups only when num_computed_tokens == 0: a running request's later chunks never
#     hit blocks another request cached meanwhile.
def test_19_no_lookup_for_a_request_already_in_progress():
    # A (16 tokens, threshold 8) computes 0..8 in step 1 (blocks 1, 2). B, same prompt, same
    # step: hits 1, 2 and computes 8..16 into blocks 3, 4 (hashed). In step 2 A continues
    # 8..16 in fresh blocks 5, 6 although B's 3, 4 hold the same hashes.
    eng = make_engine(block_size=4, long_prefill_token_threshold=8)
    add(eng, "A", toks(16), max_tokens=4)
    b = add(eng, "B", toks(16), max_tokens=4)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 8, "B": 8}
    assert b.num_cached_tokens == 8
    assert stats_tuple(eng) == (2, 32, 8, 0, 0, 0)
    eng.step()
    assert out(eng).num_scheduled_tokens == {"A": 8, "B": 1}
    assert out(eng).req_to_new_block_ids == {"A": [5, 6], "B": [7]}
    assert blocks(eng, "A") == [1, 2, 5, 6]
    assert stats_tuple(eng) == (0, 0, 0, 0, 0, 0)


# 20. Priority queue order: priority, arrival_time, then request_id; the victim is the first
#     max of (priority, arrival_time) in running order.
def test_20_priority_queue_ties_break_on_request_id():
    s = Scheduler(EngineConfig(policy="priority"))
    for rid in ("c", "a", "b"):
        sched_add(s, rid, toks(2), priority=1, arrival_time=5.0)
    sched_add(s, "z", toks(2), priority=0, arrival_time=9.0)
    sched_add(s, "y", toks(2), priority=1, arrival_time=1.0)
    assert ids(s.waiting) == ["z", "y", "a", "b", "c"]
    assert s.schedule().scheduled_new_req_ids == ["z", "y", "a", "b", "c"]


def test_20_priority_victim_is_first_max_in_running_order():
    # x, y (1 token), z (3 tokens); all priority 0, arrival 0.0 -> admitted x, y, z. In the
    # 3rd step z crosses a block boundary with no block free: the victim is x (first of the
    # tied maxima), already scheduled -> rolled back.
    s = Scheduler(EngineConfig(policy="priority", block_size=4, num_gpu_blocks=4,
                               enable_prefix_caching=False))
    sched_add(s, "z", toks(3, 30))
    sched_add(s, "y", toks(1, 20))
    sched_add(s, "x", toks(1, 10))
    so = sched_step(s)
    assert so.scheduled_new_req_ids == ["x", "y", "z"]
    sched_step(s)
    so = sched_step(s)
    assert so.preempted_req_ids == ["x"]
    assert so.num_scheduled_tokens == {"y": 1, "z": 1}
    assert so.req_to_new_block_ids == {"z": [1]}
    assert ids(s.running) == ["y", "z"]


# 21. reset_prefix_cache fails while any block is held; succeeds (and forgets every hash)
#     once all blocks are free; with reset_running_requests it preempts running requests
#     back to front so the waiting queue keeps running order.
def test_21_reset_prefix_cache():
    eng = make_engine(block_size=4, num_gpu_blocks=10)
    add(eng, "A", toks(8), max_tokens=2)
    eng.step()
    assert eng.scheduler.reset_prefix_cache() is False  # A holds blocks
    run(eng)
    assert eng.scheduler.reset_prefix_cache() is True
    b = add(eng, "B", toks(8), max_tokens=1)
    eng.step()
    assert b.num_cached_tokens == 0


def test_21_reset_prefix_cache_with_running_requests():
    eng = make_engine(block_size=4, num_gpu_blocks=10)
    add(eng, "A", toks(4, 10), max_tokens=5)
    add(eng, "B", toks(4, 50), max_tokens=5)
    add(eng, "C", toks(4, 90), max_tokens=5)
    eng.step()
    assert eng.scheduler.reset_prefix_cache(reset_running_requests=True) is True
    assert ids(eng.scheduler.waiting) == ["A", "B", "C"]
    assert all(eng.get_request(r).status == RequestStatus.PREEMPTED for r in "ABC")
    assert len(free_queue(eng)) == 9


# 22. Stats snapshot timing: measured after finished requests left `running`.
def test_22_stats_measured_after_the_step_updates():
    eng = make_engine(max_num_seqs=2)
    add(eng, "A", toks(3), max_tokens=1)
    add(eng, "B", toks(3, 50), max_tokens=3)
    add(eng, "C", toks(3, 90), max_tokens=3)
    eng.step()  # A, B admitted, C waits; A finishes in this step
    st = eng.last_stats
    assert (st.step_counter, st.num_running_reqs, st.num_waiting_reqs) == (1, 1, 1)
    eng.step()
    assert (eng.last_stats.num_running_reqs, eng.last_stats.num_waiting_reqs) == (2, 0)


# =================================================================== requests in and out

def test_abort_running_request_frees_its_blocks():
    eng = make_engine(block_size=4, num_gpu_blocks=5)
    a = add(eng, "A", toks(8), max_tokens=10)
    eng.step()
    assert blocks(eng, "A") == [1, 2] and free_queue(eng) == [3, 4]
    assert ids(eng.abort_request("A")) == ["A"]
    assert (a.status, a.get_finished_reason()) == (RequestStatus.FINISHED_ABORTED, "abort")
    assert eng.scheduler.running == [] and not eng.has_unfinished_requests()
    assert free_queue(eng) == [3, 4, 2, 1]  # hashed blocks -> tail, reversed
    assert all(c == 0 for c in pool(eng).ref_cnt)
    assert eng.abort_request(["A", "nope"]) == []  # finished / unknown ids ignored
    assert eng.scheduler.finished_req_ids == {"A"}


def test_abort_waiting_and_preempted_requests():
    eng = make_engine(max_num_seqs=1)
    add(eng, "A", toks(3), max_tokens=3)
    b = add(eng, "B", toks(3, 50), max_tokens=3)
    eng.step()
    assert ids(eng.scheduler.finish_requests(["B"], RequestStatus.FINISHED_ABORTED)) == ["B"]
    assert b.status == RequestStatus.FINISHED_ABORTED
    assert len(eng.scheduler.waiting) == 0 and ids(eng.scheduler.running) == ["A"]
    finished = eng.step()
    assert finished == []  # an abort is not reported by step()
    assert out(eng).finished_req_ids == {"B"}
    # A preempted request (in the waiting queue) can be aborted too, and holds no blocks.
    eng = make_engine(block_size=4, num_gpu_blocks=3, enable_prefix_caching=False)
    add(eng, "A", toks(4, 10), max_tokens=5)
    p = add(eng, "P", toks(4, 50), max_tokens=5)
    eng.step()
    eng.step()
    assert p.status == RequestStatus.PREEMPTED
    assert ids(eng.abort_request("P")) == ["P"]
    assert len(eng.scheduler.waiting) == 0 and p.status == RequestStatus.FINISHED_ABORTED
    run(eng)
    assert len(free_queue(eng)) == 2


def test_prompt_too_long_for_max_model_len_is_ignored_at_add():
    eng = make_engine(max_model_len=8, max_num_batched_tokens=8, max_num_seqs=8)
    r = add(eng, "A", toks(8), max_tokens=2)
    assert r.status == RequestStatus.FINISHED_IGNORED
    assert r.get_finished_reason() == "length"
    assert isinstance(r.stop_reason, str)
    assert "8" in r.stop_reason and "max_model_len" in r.stop_reason
    assert not eng.has_unfinished_requests() and "A" not in eng.scheduler.requests
    ok = add(eng, "B", toks(5), max_tokens=2)
    assert ok.status == RequestStatus.WAITING
    assert ids(eng.step()) == ["A"]  # reported by the next step, once
    assert out(eng).finished_req_ids == {"A"}
    assert run(eng) == [["B"]]


def test_prompt_needing_more_blocks_than_the_cache_is_ignored_at_add():
    eng = make_engine(block_size=4, num_gpu_blocks=3)  # 2 usable blocks = 8 tokens
    r = add(eng, "A", toks(9), max_tokens=1)
    assert r.status == RequestStatus.FINISHED_IGNORED
    assert "3" in r.stop_reason and "2" in r.stop_reason
    assert add(eng, "B", toks(8), max_tokens=1).status == RequestStatus.WAITING


def test_request_outgrowing_the_whole_cache_while_decoding_is_ignored():
    # 2 usable blocks of 4 = 8 token slots. A (4 tokens) fills them by step 5 (computed 8,
    # 9 tokens). In step 6 computing token index 8 needs a 3rd block: A preempts itself.
    # In step 7 nothing runs and its 9 tokens can never fit: FINISHED_IGNORED with a
    # reason, instead of an endless loop.
    eng = make_engine(block_size=4, num_gpu_blocks=3, enable_prefix_caching=False)
    a = add(eng, "A", toks(4), max_tokens=20)
    steps = run(eng)
    assert steps == [[], [], [], [], [], [], ["A"]]
    assert a.status == RequestStatus.FINISHED_IGNORED
    assert (a.num_tokens, a.num_preemptions) == (9, 1)
    assert "9" in a.stop_reason and "3" in a.stop_reason and "2" in a.stop_reason
    assert len(free_queue(eng)) == 2 and all(c == 0 for c in pool(eng).ref_cnt)


def test_step_returns_exactly_the_requests_finished_in_it():
    eng = make_engine()
    add(eng, "A", toks(3), max_tokens=2)
    add(eng, "B", toks(3, 50), max_tokens=1)
    add(eng, "C", toks(3, 90), max_tokens=2)
    add(eng, "D", toks(3, 130), max_tokens=4)
    assert run(eng) == [["B"], ["A", "C"], [], ["D"]]


def test_scheduler_output_fields_on_a_plain_step():
    eng = make_engine(block_size=4, max_num_batched_tokens=10, max_num_seqs=4)
    add(eng, "A", toks(6), max_tokens=3)
    add(eng, "B", toks(6, 50), max_tokens=3)
    eng.step()
    so = out(eng)
    assert so.num_scheduled_tokens == {"A": 6, "B": 4}
    assert so.total_num_scheduled_tokens == 10
    assert so.scheduled_new_req_ids == ["A", "B"]
    assert so.scheduled_resumed_req_ids == [] and so.scheduled_running_req_ids == []
    assert so.preempted_req_ids == [] and so.preemptions == []
    assert so.finished_req_ids == set()
    assert so.req_to_new_block_ids == {"A": [1, 2], "B": [3]}
    assert so.waiting_stop_reason is None and so.waiting_stop_req_id is None
    eng.step()
    so = out(eng)
    assert so.num_scheduled_tokens == {"A": 1, "B": 2}
    assert so.scheduled_running_req_ids == ["A", "B"] and so.scheduled_new_req_ids == []
    # A's 7th token fits its 2nd block; B's last 2 prompt tokens (4..6) need its 2nd block.
    assert so.req_to_new_block_ids == {"B": [4]}
    st = eng.last_stats
    assert (st.num_running_reqs, st.num_waiting_reqs, st.num_preemptions) == (2, 0, 0)
    assert st.step_counter == 2


# =================================================================== the toy model

def _greedy_by_hand(prompt: str, max_tokens: int) -> list[int]:
    m = ToyModel()
    seq = list(prompt.encode())
    outs = []
    while len(outs) < max_tokens:
        logits = m.logits(np.array([seq[-1]]), np.array([len(seq)]))[0]
        t = int(np.argmax(logits))
        outs.append(t)
        seq.append(t)
        if t == EOS:
            break
    return outs


def test_toy_model_is_deterministic():
    a = LLMEngine().generate(["the cat", "hello"], sp(16))
    b = LLMEngine().generate(["the cat", "hello"], sp(16))
    assert [o.token_ids for o in a] == [o.token_ids for o in b]


def test_toy_model_greedy_at_temperature_zero_is_argmax():
    for prompt in ("hello", "the cat", "foo"):
        o = LLMEngine().generate(prompt, sp(16))[0]
        assert o.token_ids == _greedy_by_hand(prompt, 16)


def test_toy_model_seeded_sampling_reproducible_and_seed_dependent():
    def gen(seed):
        return LLMEngine().generate("hello", sp(12, temperature=1.0, seed=seed,
                                                ignore_eos=True))[0].token_ids
    assert gen(1) == gen(1)
    assert gen(1) != gen(2)
    assert gen(1) == [43, 90, 121, 33, 124, 86, 54, 96, 70, EOS, 123, 73]
    assert gen(1) != LLMEngine().generate("hello", sp(12, ignore_eos=True))[0].token_ids


def test_toy_model_emits_eos_for_hello():
    o = LLMEngine().generate("hello", sp(16))[0]
    assert o.token_ids == [99, 64, 53, 39, 85, EOS]
    assert o.text == "c@5'U"
    assert (o.status, o.finish_reason, o.stop_reason) == ("FINISHED_STOPPED", "stop", None)


def test_toy_model_is_batched_one_call_per_step():
    rec = Recorder(ToyModel())
    eng = LLMEngine(model=rec)
    outs = eng.generate(["a", "bb", "ccc"], sp(3, ignore_eos=True))
    assert rec.calls == [["gen-0", "gen-1", "gen-2"]] * 3
    assert [len(o.token_ids) for o in outs] == [3, 3, 3]
    # Chunked prefills join the batch only when they sample.
    rec = Recorder(ToyModel())
    eng = LLMEngine(model=rec, long_prefill_token_threshold=2)
    eng.generate(["a", "bcdef"], sp(3, ignore_eos=True))
    assert rec.calls == [["gen-0"], ["gen-0"], ["gen-0", "gen-1"], ["gen-1"], ["gen-1"]]


def test_generate_returns_text_and_token_ids_in_prompt_order():
    eng = LLMEngine()
    prompts = ["zzz", "a", "mm"]
    params = [sp(5, ignore_eos=True), sp(1, ignore_eos=True), sp(3, ignore_eos=True)]
    outs = eng.generate(prompts, params)
    assert [o.request_id for o in outs] == ["gen-0", "gen-1", "gen-2"]
    assert [o.prompt for o in outs] == prompts
    assert [o.prompt_token_ids for o in outs] == [list(p.encode()) for p in prompts]
    assert [len(o.token_ids) for o in outs] == [5, 1, 3]
    for o in outs:
        assert o.text == ByteTokenizer().decode(o.token_ids)
        assert o.status == "FINISHED_LENGTH"
    assert outs[1].token_ids == _greedy_by_hand("a", 1)
