"""cache_salt, prompt_logprobs, reset_prefix_cache and finish_requests(None) at the engine's API.

The step-by-step behaviour is pinned against real vLLM by the golden traces
(tests/engine/golden/scenarios/u*.json); these tests pin the public API around it:
argument checks, return values and what the stats and the next output report.
"""

from __future__ import annotations

import pytest

from mini_engine import LLMEngine, RequestStatus, SamplingParams

PROMPT = "The quick brown fox jumps over a lazy do"  # 40 tokens: two full blocks of 16


def _params(**kw) -> SamplingParams:
    return SamplingParams(max_tokens=kw.pop("max_tokens", 2), temperature=0.0, ignore_eos=True, **kw)


def _run_alone(eng: LLMEngine, rid: str, **add) -> int:
    """Add one request, run it to the end; return its prefix-cache hit tokens."""
    sp = add.pop("sampling_params", _params())
    eng.add_request(rid, PROMPT, sp, **add)
    while eng.has_unfinished_requests():
        eng.step()
    return eng.get_request(rid).num_cached_tokens


def test_cache_salt_isolates_tenants() -> None:
    eng = LLMEngine(enable_prefix_caching=True, max_model_len=256)
    hits = [_run_alone(eng, rid, cache_salt=salt) for rid, salt in
            [("a", "t1"), ("b", "t2"), ("c", "t1"), ("d", None), ("e", "")]]
    # Same salt shares both full blocks; another salt or none shares nothing; "" is no salt.
    assert hits == [0, 0, 32, 0, 32]


def test_cache_salt_must_be_a_string() -> None:
    eng = LLMEngine()
    with pytest.raises(ValueError, match="cache_salt must be a string or None, got 7"):
        eng.add_request("a", PROMPT, cache_salt=7)


def test_prompt_logprobs_skips_reading_but_still_writes_the_cache() -> None:
    eng = LLMEngine(enable_prefix_caching=True, max_model_len=256)
    assert _run_alone(eng, "a") == 0
    assert _run_alone(eng, "b", sampling_params=_params(prompt_logprobs=1)) == 0
    assert _run_alone(eng, "c") == 32  # a's (and b's) blocks are cached


def test_prompt_logprobs_requests_are_not_counted_in_prefix_cache_stats() -> None:
    eng = LLMEngine(enable_prefix_caching=True, max_model_len=256)
    eng.add_request("a", PROMPT, _params(prompt_logprobs=0))
    eng.step()
    stats = eng.last_stats.prefix_cache_stats
    assert (stats.requests, stats.queries, stats.hits) == (0, 0, 0)


@pytest.mark.parametrize("value, stored", [(None, None), (-1, -1), (0, 0), (5, 5), (True, 1)])
def test_prompt_logprobs_accepted_values(value, stored) -> None:
    sp = SamplingParams(prompt_logprobs=value)
    assert sp.prompt_logprobs == stored
    assert sp.skip_reading_prefix_cache is (value is not None)


@pytest.mark.parametrize("value", [-2, 1.5, "3", False])
def test_prompt_logprobs_rejected_values(value) -> None:
    with pytest.raises(ValueError, match="prompt_logprobs must be None, -1 .all. or an integer >= 0"):
        SamplingParams(prompt_logprobs=value)


def test_reset_refused_while_blocks_are_held_then_accepted() -> None:
    eng = LLMEngine(enable_prefix_caching=True, max_model_len=256)
    eng.add_request("a", PROMPT, _params(max_tokens=3))
    eng.step()
    assert eng.reset_prefix_cache() is False
    while eng.has_unfinished_requests():
        eng.step()
    assert eng.last_stats.prefix_cache_stats.reset is False
    assert eng.reset_prefix_cache() is True
    assert _run_alone(eng, "b") == 0  # nothing left to hit
    # The stats of the step after a successful reset say so.
    eng.reset_prefix_cache()
    eng.add_request("c", PROMPT, _params())
    eng.step()
    assert eng.last_stats.prefix_cache_stats.reset is True


def test_reset_with_running_requests_reports_them_in_the_next_step() -> None:
    eng = LLMEngine(enable_prefix_caching=True, max_model_len=256, max_num_seqs=2)
    for rid in ("a", "b", "c"):
        eng.add_request(rid, PROMPT + rid, _params(max_tokens=6))
    eng.step()
    eng.step()
    assert eng.reset_prefix_cache(reset_running_requests=True) is True
    assert [eng.get_request(r).status for r in "abc"] == [RequestStatus.PREEMPTED] * 2 + [
        RequestStatus.WAITING]
    eng.step()
    out = eng.last_scheduler_output
    assert sorted(out.preempted_req_ids) == ["a", "b"]
    assert out.scheduled_resumed_req_ids == ["a", "b"]
    assert eng.last_stats.num_preemptions == 2
    eng.step()
    assert eng.last_scheduler_output.preempted_req_ids == []
    assert eng.last_stats.num_preemptions == 0


def test_finish_requests_none_finishes_everything() -> None:
    eng = LLMEngine(max_num_seqs=1)
    for rid in ("a", "b", "c"):
        eng.add_request(rid, PROMPT, _params(max_tokens=8))
    eng.step()
    done = eng.scheduler.finish_requests(None, RequestStatus.FINISHED_ABORTED)
    assert [r.request_id for r in done] == ["a", "b", "c"]
    assert not eng.has_unfinished_requests()
    assert eng.scheduler.kv_cache_manager.block_pool.get_num_free_blocks() == \
        eng.config.num_usable_blocks
    assert eng.scheduler.finish_requests(None, RequestStatus.FINISHED_ABORTED) == []
