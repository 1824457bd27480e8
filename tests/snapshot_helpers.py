"""Shared by the snapshot tests: one step's full trace, read from the engine itself (not from a snapshot)."""

from __future__ import annotations

import pickle
from dataclasses import fields, is_dataclass

from mini_engine.engine.llm_engine import LLMEngine


def plain(value):
    """A comparable, order-preserving form: dataclasses as (name, value) pairs, dicts as item
    tuples (insertion order counts), sets sorted, lists as tuples."""
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple((f.name, plain(getattr(value, f.name)))
                                               for f in fields(value))
    if isinstance(value, dict):
        return tuple((k, plain(v)) for k, v in value.items())
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(value))
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return tuple(plain(v) for v in value)
    return value


def engine_trace(engine: LLMEngine, request_ids) -> tuple:
    """What the last step decided, and every piece of engine state after it."""
    sch = engine.scheduler
    kvm = sch.kv_cache_manager
    pool = kvm.block_pool
    requests = []
    for rid in request_ids:
        try:
            r = engine.get_request(rid)
        except KeyError:
            requests.append((rid, "PENDING"))
            continue
        requests.append((rid, r.status.name, r.num_computed_tokens, r.num_tokens,
                         r.num_preemptions, r.num_cached_tokens, r.stop_reason,
                         r.is_prefill_chunk, r.length_limit, r.cache_salt, tuple(r.all_token_ids),
                         tuple(r.block_hashes)))
    return (
        engine.step_count, plain(engine.last_scheduler_output), plain(engine.last_stats),
        engine.last_step, tuple(requests),
        sch.step_counter, tuple(sch.requests), tuple(r.request_id for r in sch.waiting),
        tuple(r.request_id for r in sch.running), tuple(sorted(sch.finished_req_ids)),
        tuple(r.request_id for r in sch.finished_outside_update), tuple(sch.events),
        plain(kvm.req_to_blocks), plain(kvm.num_cached_block), plain(kvm.room),
        plain(kvm.prefix_cache_stats),
        tuple(pool.ref_cnt), tuple(pool.block_hash), tuple(pool.free_block_queue),
        plain(pool.cached_block_hash_to_block),
    )


def round_trip(obj):
    """Through pickle, as a snapshot stored on disk or sent to another process would be."""
    return pickle.loads(pickle.dumps(obj))
