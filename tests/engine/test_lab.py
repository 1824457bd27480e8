"""Lab 01-01, "Trace a Request's Lifecycle": its four tests, its expected trace, and its
"going further" cases, each pinned as an exact event list.

Every number below is derived by hand from the lab text and the reference semantics
(one token per byte for ByteTokenizer, default budget 2048, block size 16):

* a prompt that fits the budget is prefilled in step 1 and samples its first token in
  that same step, so the first event is (prompt, prompt + 1);
* each decode step advances both counters by exactly one;
* the run takes exactly max_tokens steps (no extra empty step: lab deviation 3).
"""

from __future__ import annotations

from mini_engine import Event, LLMEngine, SamplingParams, trace_request

HELLO_TRACE = [
    Event(request_id="req-0", status="RUNNING", num_computed_tokens=5, num_tokens=6),
    Event(request_id="req-0", status="RUNNING", num_computed_tokens=6, num_tokens=7),
    Event(request_id="req-0", status="RUNNING", num_computed_tokens=7, num_tokens=8),
    Event(request_id="req-0", status="FINISHED_LENGTH", num_computed_tokens=8, num_tokens=9),
]

MAX_STEPS = 1000  # every loop here is bounded so a bug can't hang the suite


# --------------------------------------------------------------------- the lab's four tests

def test_first_event_is_running_after_prefill():
    events = trace_request("hello", max_tokens=4)
    first = events[0]
    assert first.status == "RUNNING"
    assert first.num_computed_tokens == 5  # the whole 5-byte prompt, in step 1
    assert first.num_tokens == 6           # plus the first sampled token, same step


def test_counters_monotonic_and_decode_by_one():
    events = trace_request("hello", max_tokens=4)
    computed = [e.num_computed_tokens for e in events]
    tokens = [e.num_tokens for e in events]
    assert computed == sorted(computed)
    assert all(b - a == 1 for a, b in zip(computed, computed[1:]))
    assert all(b - a == 1 for a, b in zip(tokens, tokens[1:]))


def test_finishes_at_length_cap():
    events = trace_request("hello", max_tokens=4)
    last = events[-1]
    assert last.status.startswith("FINISHED")
    assert last.status == "FINISHED_LENGTH"
    assert last.num_tokens == 5 + 4
    assert all(e.status == "RUNNING" for e in events[:-1])


def test_total_decode_steps_equals_max_tokens():
    for max_tokens in (1, 2, 4, 7):
        events = trace_request("hello", max_tokens=max_tokens)
        assert len(events) == max_tokens  # one event per step, one step per output token


# --------------------------------------------------------------------- the expected trace

def test_hello_trace_exactly():
    assert trace_request("hello", max_tokens=4) == HELLO_TRACE


def test_hello_trace_event_fields():
    event = trace_request("hello", max_tokens=1)[0]
    assert event == ("req-0", "FINISHED_LENGTH", 5, 6)
    assert event._fields == ("request_id", "status", "num_computed_tokens", "num_tokens")


# --------------------------------------------------------------------- going further

def _greedy(max_tokens: int) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)


def _trace(engine: LLMEngine) -> list[list[Event]]:
    """Per step: running requests, then waiting (WAITING / PREEMPTED) ones in queue order,
    then those step() just finished."""
    steps: list[list[Event]] = []
    while engine.scheduler.has_unfinished_requests():
        assert len(steps) < MAX_STEPS, "the run loop did not finish"
        finished = engine.step()
        steps.append([Event(r.request_id, r.status.name, r.num_computed_tokens, r.num_tokens)
                      for r in [*engine.scheduler.running, *engine.scheduler.waiting,
                                *finished]])
    return steps


def test_chunked_prefill_threshold_two_ten_char_prompt():
    # Chunks of 2: computed 2, 4, 6, 8 with num_tokens stuck at 10 (partial prefills sample
    # nothing); the chunk that completes the prompt (10) samples token 11.
    assert trace_request("0123456789", max_tokens=4, long_prefill_token_threshold=2) == [
        Event("req-0", "RUNNING", 2, 10),
        Event("req-0", "RUNNING", 4, 10),
        Event("req-0", "RUNNING", 6, 10),
        Event("req-0", "RUNNING", 8, 10),
        Event("req-0", "RUNNING", 10, 11),
        Event("req-0", "RUNNING", 11, 12),
        Event("req-0", "RUNNING", 12, 13),
        Event("req-0", "FINISHED_LENGTH", 13, 14),
    ]


def test_chunked_prefill_by_budget():
    # No threshold, but a 4-token budget (max_num_seqs must not exceed it): chunks of 4.
    assert trace_request("0123456789", max_tokens=2, max_num_batched_tokens=4,
                         max_num_seqs=4) == [
        Event("req-0", "RUNNING", 4, 10),
        Event("req-0", "RUNNING", 8, 10),
        Event("req-0", "RUNNING", 10, 11),
        Event("req-0", "FINISHED_LENGTH", 11, 12),
    ]


def test_two_requests_interleave_in_the_same_steps():
    engine = LLMEngine()
    engine.add_request("req-0", "hello", _greedy(3))
    engine.add_request("req-1", "hi", _greedy(2))
    assert _trace(engine) == [
        [Event("req-0", "RUNNING", 5, 6), Event("req-1", "RUNNING", 2, 3)],
        [Event("req-0", "RUNNING", 6, 7), Event("req-1", "FINISHED_LENGTH", 3, 4)],
        [Event("req-0", "FINISHED_LENGTH", 7, 8)],
    ]


def test_continuous_batching_prefill_joins_running_decode():
    # req-1 arrives after step 1: step 2 batches req-0's decode token with req-1's prefill.
    engine = LLMEngine()
    engine.add_request("req-0", "hello", _greedy(3))
    engine.step()
    engine.add_request("req-1", "hey", _greedy(2))
    engine.step()
    assert engine.last_scheduler_output.num_scheduled_tokens == {"req-0": 1, "req-1": 3}
    assert engine.last_scheduler_output.scheduled_running_req_ids == ["req-0"]
    assert engine.last_scheduler_output.scheduled_new_req_ids == ["req-1"]
    assert [(r.request_id, r.num_computed_tokens, r.num_tokens)
            for r in engine.scheduler.running] == [("req-0", 6, 7), ("req-1", 3, 4)]
    assert _trace(engine) == [
        [Event("req-0", "FINISHED_LENGTH", 7, 8), Event("req-1", "FINISHED_LENGTH", 4, 5)],
    ]


def test_waiting_visible_by_starving_the_budget():
    # Budget 4: "abcd" takes all of step 1, "xy" waits; in step 2 req-0's decode token
    # leaves 3 tokens of budget, enough for req-1's 2-token prompt.
    engine = LLMEngine(max_num_batched_tokens=4, max_num_seqs=4)
    engine.add_request("req-0", "abcd", _greedy(2))
    engine.add_request("req-1", "xy", _greedy(2))
    steps = []
    reasons = []
    while engine.scheduler.has_unfinished_requests():
        assert len(steps) < MAX_STEPS
        finished = engine.step()
        reasons.append(engine.last_scheduler_output.waiting_stop_reason)
        steps.append([Event(r.request_id, r.status.name, r.num_computed_tokens, r.num_tokens)
                      for r in [*engine.scheduler.running, *engine.scheduler.waiting,
                                *finished]])
    assert steps == [
        [Event("req-0", "RUNNING", 4, 5), Event("req-1", "WAITING", 0, 2)],
        [Event("req-1", "RUNNING", 2, 3), Event("req-0", "FINISHED_LENGTH", 5, 6)],
        [Event("req-1", "FINISHED_LENGTH", 3, 4)],
    ]
    assert reasons == ["budget", None, None]


def test_waiting_visible_by_max_num_seqs():
    engine = LLMEngine(max_num_seqs=1)
    engine.add_request("req-0", "abc", _greedy(2))
    engine.add_request("req-1", "de", _greedy(2))
    steps = _trace(engine)
    assert steps == [
        [Event("req-0", "RUNNING", 3, 4), Event("req-1", "WAITING", 0, 2)],
        [Event("req-1", "WAITING", 0, 2), Event("req-0", "FINISHED_LENGTH", 4, 5)],
        [Event("req-1", "RUNNING", 2, 3)],
        [Event("req-1", "FINISHED_LENGTH", 3, 4)],
    ]


def test_preemption_sends_counter_back_to_zero():
    # 4 blocks of 4 tokens = 3 usable (block 0 is the null block). Both 4-token prompts fit
    # (one block each). In step 2 req-0's decode crosses a block boundary and takes the last
    # free block; req-1 then needs one too, and as the newest running request it is its own
    # FCFS victim: PREEMPTED, computed back to 0, its sampled token kept (num_tokens 5).
    # Step 3 admits nothing (1 free block, req-1 needs 2 for 5 tokens); req-0 finishes and
    # frees its blocks, so step 4 re-prefills req-1's 5 tokens (prompt + its output).
    engine = LLMEngine(block_size=4, num_gpu_blocks=4, enable_prefix_caching=False)
    engine.add_request("req-0", "abcd", _greedy(3))
    engine.add_request("req-1", "efgh", _greedy(3))
    assert _trace(engine) == [
        [Event("req-0", "RUNNING", 4, 5), Event("req-1", "RUNNING", 4, 5)],
        [Event("req-0", "RUNNING", 5, 6), Event("req-1", "PREEMPTED", 0, 5)],
        [Event("req-1", "PREEMPTED", 0, 5), Event("req-0", "FINISHED_LENGTH", 6, 7)],
        [Event("req-1", "RUNNING", 5, 6)],
        [Event("req-1", "FINISHED_LENGTH", 6, 7)],
    ]
    assert engine.get_request("req-1").num_preemptions == 1
    assert engine.get_request("req-0").num_preemptions == 0


def test_ttft_and_itl_in_steps():
    # From the threshold-2 trace: the first token appears in step 5 (TTFT = 5 steps),
    # then one token per step (ITL = 1 step).
    events = trace_request("0123456789", max_tokens=4, long_prefill_token_threshold=2)
    token_steps = [i + 1 for i, (prev, cur) in enumerate(zip([None, *events], events))
                   if cur.num_tokens > (prev.num_tokens if prev else 10)]
    assert token_steps == [5, 6, 7, 8]
