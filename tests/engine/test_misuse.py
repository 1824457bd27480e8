"""Engine API misuse never wedges the engine (issue 8, classes 5 and 13, and its property test).

Every argument of `add_request` (and `abort_request`, `reset_prefix_cache`, `generate`)
is checked before anything changes: a bad call raises an error naming the argument and
leaves the engine exactly as it was (its snapshot compares equal), so a retry with good
arguments works and later steps run as if the bad call had never been made.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.engine.errors import ArgumentError, ArgumentTypeError, MiniEngineError
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.model import LastPlusPosModel
from mini_engine.engine.request import RequestStatus
from mini_engine.engine.sampling_params import SamplingParams


def small_engine() -> LLMEngine:
    engine = LLMEngine(model=LastPlusPosModel(), max_num_batched_tokens=16, max_num_seqs=4,
                       num_gpu_blocks=10, block_size=4, max_model_len=64)
    engine.add_request("a", prompt_token_ids=[1, 2, 3, 4, 5],
                       sampling_params=SamplingParams(max_tokens=6))
    engine.step()
    return engine


def test_a_refused_add_request_registers_nothing_and_can_be_retried():
    """The issue's case: priority="high" used to leave "b" half-registered."""
    engine = small_engine()
    before = engine.snapshot()
    with pytest.raises(ArgumentTypeError) as info:
        engine.add_request("b", "hello", priority="high")
    assert str(info.value) == "priority must be an integer, got 'high' (str)"
    assert isinstance(info.value, TypeError) and info.value.argument == "priority"
    assert engine.snapshot() == before
    engine.add_request("b", "hello", priority=1)
    while engine.has_unfinished_requests():
        engine.step()
    assert engine.get_request("b").is_finished()


def sp_mutated_after_creation() -> SamplingParams:
    sp = SamplingParams()
    sp.seed = 1.5
    return sp


@pytest.mark.parametrize("call,error,text", [
    (lambda e: e.add_request(5, "hi"), ArgumentTypeError,
     "request_id must be a string, got 5 (int)"),
    (lambda e: e.add_request(None, "hi"), ArgumentTypeError,
     "request_id must be a string, got None (NoneType)"),
    (lambda e: e.add_request(("x",), "hi"), ArgumentTypeError,
     "request_id must be a string, got ('x',) (tuple)"),
    (lambda e: e.add_request("a", "hi"), ArgumentError, "duplicate request id 'a'"),
    (lambda e: e.add_request("b"), ArgumentError, "give exactly one of prompt or prompt_token_ids"),
    (lambda e: e.add_request("b", "hi", prompt_token_ids=[1]), ArgumentError,
     "give exactly one of prompt or prompt_token_ids"),
    (lambda e: e.add_request("b", 42), ArgumentTypeError,
     "request 'b': prompt must be a string, got 42 (int)"),
    (lambda e: e.add_request("b", ""), ArgumentError, "request 'b': the prompt is empty"),
    (lambda e: e.add_request("b", "a\ud800b"), ArgumentError,
     "request 'b': prompt is not valid text (surrogates not allowed at index 1)"),
    (lambda e: e.add_request("b", prompt_token_ids=[1, 1.5]), ArgumentTypeError,
     "request 'b': prompt_token_ids[1] must be a token id (an integer), got 1.5 (float)"),
    (lambda e: e.add_request("b", prompt_token_ids=[[1]]), ArgumentTypeError,
     "request 'b': prompt_token_ids[0] must be a token id (an integer), got [1] (list)"),
    (lambda e: e.add_request("b", prompt_token_ids=[1, 300]), ArgumentError,
     "request 'b': token id 300 is outside the vocabulary (0..256)"),
    (lambda e: e.add_request("b", prompt_token_ids="abc"), ArgumentTypeError,
     "request 'b': prompt_token_ids must be a list of token ids, got 'abc'"),
    (lambda e: e.add_request("b", prompt_token_ids=7), ArgumentTypeError,
     "request 'b': prompt_token_ids must be a list of token ids, got 7"),
    (lambda e: e.add_request("b", "hi", sampling_params={"max_tokens": 3}), ArgumentTypeError,
     "request 'b': sampling_params must be a SamplingParams or None, got dict"),
    (lambda e: e.add_request("b", "hi", sampling_params=sp_mutated_after_creation()),
     ArgumentTypeError, "seed must be an integer or None, got 1.5 (float)"),
    (lambda e: e.add_request("b", "hi", priority=1.5), ArgumentTypeError,
     "priority must be an integer, got 1.5 (float)"),
    (lambda e: e.add_request("b", "hi", priority=True), ArgumentTypeError,
     "priority must be an integer, got True (bool)"),
    (lambda e: e.add_request("b", "hi", priority=2**63), ArgumentError,
     "priority must be between -9223372036854775808 and 9223372036854775807, "
     "got 9223372036854775808"),
    (lambda e: e.add_request("b", "hi", cache_salt=7), ArgumentTypeError,
     "request 'b': cache_salt must be a string or None, got 7"),
    (lambda e: e.add_request("b", "hi", cache_salt="\udcff"), ArgumentError,
     "request 'b': cache_salt is not valid text (surrogates not allowed at index 0)"),
    (lambda e: e.abort_request(5), ArgumentTypeError,
     "request_ids must be a request id or a list of them, got 5"),
    (lambda e: e.abort_request(["a", 5]), ArgumentTypeError,
     "request_ids must be strings, got 5 (int)"),
    (lambda e: e.reset_prefix_cache("yes"), ArgumentTypeError,
     "reset_running_requests must be True or False, got 'yes'"),
    (lambda e: e.generate(["x", "y"], [SamplingParams()]), ArgumentError,
     "sampling_params has 1 entries for 2 prompts"),
    (lambda e: e.generate(["x", 5]), ArgumentTypeError,
     "request 'gen-2': prompt must be a string, got 5 (int)"),
    (lambda e: e.update_settings(max_num_seqs="8"), ConfigError,
     "max_num_seqs: must be a positive integer, got '8' (str)"),
])
def test_a_bad_call_names_the_argument_and_changes_nothing(call, error, text):
    engine = small_engine()
    before = engine.snapshot()
    with pytest.raises(error) as info:
        call(engine)
    assert str(info.value) == text
    assert isinstance(info.value, MiniEngineError) and isinstance(info.value, ValueError)
    assert engine.snapshot() == before
    while engine.has_unfinished_requests():
        engine.step()
    assert engine.get_request("a").get_finished_reason() == "length"


def test_abort_takes_a_tuple_or_a_generator_of_ids():
    engine = small_engine()
    engine.add_request("b", "hello")
    assert [r.request_id for r in engine.abort_request(x for x in ("b", "zzz"))] == ["b"]
    assert [r.request_id for r in engine.abort_request(("a",))] == ["a"]


# ------------------------------------------------------------------ the property

BAD_CALLS = [
    lambda e, rid: e.add_request(rid, "hi", priority="high"),
    lambda e, rid: e.add_request(rid, prompt_token_ids=[1, 999]),
    lambda e, rid: e.add_request(rid, prompt_token_ids=[1, 2.5]),
    lambda e, rid: e.add_request(rid, "hi", cache_salt=["salt"]),
    lambda e, rid: e.add_request(rid, "hi", sampling_params="greedy"),
    lambda e, rid: e.add_request(rid, "hi", priority=10**40),
    lambda e, rid: e.add_request(rid.encode(), "hi"),
    lambda e, rid: e.add_request(rid),
    lambda e, rid: e.add_request("r0", "dup") if rid != "r0" else e.add_request(rid, ""),
    lambda e, rid: e.abort_request(7),
    lambda e, rid: e.reset_prefix_cache(1),
    lambda e, rid: e.update_settings(long_prefill_token_threshold=0.5),
    lambda e, rid: e.update_settings(num_gpu_blocks=10**7),
    lambda e, rid: e.update_settings(policy="lottery"),
]


def play(seed: int, with_bad_calls: bool) -> tuple[list, dict]:
    """A seeded random session of valid calls (adds, aborts, resets, steps), with bad calls
    interleaved or not; every step's record, and each request's final state."""
    rnd = random.Random(seed)
    engine = LLMEngine(model=LastPlusPosModel(), config=EngineConfig(
        max_num_batched_tokens=12, max_num_seqs=3, num_gpu_blocks=rnd.randint(4, 12),
        block_size=2, max_model_len=40, policy=rnd.choice(["fcfs", "priority"])))
    usable = engine.config.num_usable_blocks
    steps, n = [], 0
    for _ in range(60):
        if rnd.random() < 0.4:  # a bad call: raises, changes nothing
            call = rnd.choice(BAD_CALLS)
            if with_bad_calls:
                with pytest.raises((ValueError, TypeError)) as info:
                    call(engine, f"r{n}")
                assert isinstance(info.value, MiniEngineError)
            continue
        op = rnd.random()
        if op < 0.35:
            engine.add_request(f"r{n}", prompt_token_ids=[rnd.randint(0, 3)] * rnd.randint(1, 12),
                               sampling_params=SamplingParams(max_tokens=rnd.randint(1, 8)),
                               priority=rnd.randint(0, 2))
            n += 1
        elif op < 0.42 and n:
            engine.abort_request(f"r{rnd.randrange(n)}")
        elif op < 0.47:
            engine.reset_prefix_cache(rnd.random() < 0.5)
        elif engine.has_unfinished_requests():
            engine.step()
            steps.append(engine.last_step)
        pool = engine.scheduler.kv_cache_manager.block_pool
        used = sum(1 for b in range(1, pool.num_gpu_blocks) if pool.ref_cnt[b] > 0)
        assert pool.get_num_free_blocks() + used == usable
    while engine.has_unfinished_requests():
        assert len(steps) < 2000
        engine.step()
        steps.append(engine.last_step)
    final = {f"r{i}": engine.get_request(f"r{i}").status for i in range(n)}
    assert all(RequestStatus.is_finished(s) for s in final.values())
    assert engine.scheduler.kv_cache_manager.block_pool.get_num_free_blocks() == usable
    return steps, final


@settings(deadline=None, max_examples=40, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_bad_calls_interleaved_with_valid_ones_change_nothing(seed):
    """Blocks are conserved after every call, every request finishes, and the run is the
    run without the bad calls, step for step."""
    assert play(seed, with_bad_calls=True) == play(seed, with_bad_calls=False)
