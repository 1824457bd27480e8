"""KV-cache events are opt-in (vLLM's enable_kv_cache_events): off, the engine decides
exactly the same and emits every other event; on, it adds the block events in place."""

from __future__ import annotations

import pytest

from mini_engine import LLMEngine, SamplingParams

KV_KINDS = {"blocks_allocated", "blocks_hit", "blocks_cached", "blocks_freed",
            "blocks_evicted", "cache_cleared"}


def run(kv_cache_events: bool) -> list:
    """A small run with prefix hits, evictions and a preemption; every step's record."""
    engine = LLMEngine(max_num_batched_tokens=32, max_num_seqs=4, block_size=4,
                       num_gpu_blocks=12, kv_cache_events=kv_cache_events)
    shared = list(range(1, 13))
    for i in range(5):
        engine.add_request(f"r{i}", prompt_token_ids=shared + [20 + i] * (i + 1),
                           sampling_params=SamplingParams(max_tokens=6, ignore_eos=True))
    steps = []
    while engine.has_unfinished_requests():
        engine.step()
        steps.append(engine.last_step)
    return steps


def test_kv_events_are_off_by_default():
    assert LLMEngine().kv_cache_events is False
    kinds = {e.kind for s in run(False) for e in s.events}
    assert not kinds & KV_KINDS
    assert {"queued", "admitted", "finished"} <= kinds


def test_on_they_are_added_and_nothing_else_changes():
    off, on = run(False), run(True)
    kinds_on = {e.kind for s in on for e in s.events}
    assert {"blocks_allocated", "blocks_hit", "blocks_cached", "blocks_freed"} <= kinds_on
    assert "preempted" in kinds_on and "blocks_evicted" in kinds_on
    assert len(off) == len(on)
    for a, b in zip(off, on):
        assert [e for e in b.events if e.kind not in KV_KINDS] == list(a.events)
        assert a._replace(events=(), num_before=0) == b._replace(events=(), num_before=0)


def test_the_switch_is_checked_and_survives_a_snapshot():
    with pytest.raises(TypeError, match="kv_cache_events"):
        LLMEngine(kv_cache_events="yes")
    engine = LLMEngine(kv_cache_events=True)
    assert LLMEngine.from_snapshot(engine.snapshot(), kv_cache_events=True).kv_cache_events
    assert not LLMEngine.from_snapshot(engine.snapshot()).kv_cache_events
