"""recording.history: a request's and a block's story agree with seek() at every step."""

from __future__ import annotations

import pytest

from mini_engine.recording import record
from mini_engine.recording.history import BlockChange, block_history, request_history
from mini_engine.sources import open_source


def _recording(name: str):
    return record(open_source(name).scenario)


@pytest.mark.parametrize("name", ["hello", "kv_preemption", "prefix_caching", "never_fits",
                                  "priority", "abort", "max_num_seqs", "chunked_prefill"])
def test_request_history_matches_seek_on_every_step(name):
    rec = _recording(name)
    for rid in rec.request_ids:
        for h in request_history(rec, rid):
            r = rec.seek(h.step).request(rid)
            waits = r.waiting_reason if r.status in ("WAITING", "PREEMPTED") else None
            assert (h.status, h.num_computed_tokens, h.num_tokens, h.num_blocks,
                    h.waiting_reason) == (r.status, r.num_computed_tokens, r.num_tokens,
                                          r.num_blocks, waits), (rid, h.step)


def test_preempted_request_recomputes_and_loses_its_blocks():
    rec = _recording("kv_preemption")
    history = {h.step: h for h in request_history(rec, "b")}
    assert history[10].status == "PREEMPTED"
    assert history[10].blocks_lost == (3, 4, 8, 5)
    assert history[10].waiting_reason == "preempted"
    assert history[11].waiting_reason == "kv_cache"
    assert (history[13].scheduled, history[13].scheduled_tokens) == ("recompute (last chunk)", 17)
    assert history[1].scheduled == "prefill (last chunk)"
    assert history[2].scheduled == "decode"
    assert max(history) == 15 and history[15].status == "FINISHED_LENGTH"


def test_ignored_request_history_is_its_arrival_step():
    rec = _recording("never_fits")
    (only,) = request_history(rec, "huge")
    assert only.step == 0 and only.status == "FINISHED_IGNORED"
    assert [h.stop_reason for h in only.happenings if h.kind == "ignore"] == [
        "prompt needs 7 KV blocks, the cache has 4 usable blocks"]


def test_block_history_shows_prefix_hits_and_caching():
    rec = _recording("prefix_caching")
    assert block_history(rec, 3) == [
        BlockChange(1, "in_use", ("q1",), (), ("q1",)),
        BlockChange(3, "shared", ("q2",), (), ("q1", "q2"), hit_by=("q2",)),
        BlockChange(5, "shared", ("q3",), (), ("q1", "q2", "q3"), hit_by=("q3",)),
        BlockChange(6, "shared", (), ("q1",), ("q2", "q3")),
        BlockChange(8, "in_use", (), ("q2",), ("q3",)),
        BlockChange(10, "cached_free", (), ("q3",), ()),
    ]


def test_block_history_owners_match_seek():
    rec = _recording("kv_preemption")
    for b in range(1, rec.config.num_gpu_blocks):
        for c in block_history(rec, b):
            state = rec.seek(c.step)
            owners = tuple(sorted(r for r, t in state.block_tables.items() if b in t))
            assert c.owners == owners, (b, c.step)


def test_block_out_of_range():
    rec = _recording("hello")
    with pytest.raises(IndexError):
        block_history(rec, rec.config.num_gpu_blocks)
