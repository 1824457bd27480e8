"""`KVCacheManager`: which blocks each request holds, prefix-cache lookups and `allocate_slots`.

Mirrors vllm/v1/core/kv_cache_manager.py for one full-attention group:
blocks are allocated just in time (`cdiv(tokens, block_size)`), full blocks are
registered in the prefix cache at allocation, a failed allocation changes
nothing, and a request's blocks are freed in reverse order. Every block it hands out,
shares, caches or frees is reported to the engine's event log as it happens.
"""

from __future__ import annotations

from mini_engine.engine.core.block_pool import BlockPool
from mini_engine.engine.events import (BlocksAllocated, BlocksCached, BlocksFreed, BlocksHit,
                                       EventLog)
from mini_engine.engine.core.kv_cache_utils import PrefixCacheStats, cdiv
from mini_engine.engine.request import Request

_NO_BLOCKS: list[int] = []  # shared "no new block" result; never mutated


class KVCacheManager:
    def __init__(self, block_size: int, num_gpu_blocks: int, enable_caching: bool,
                 max_model_len: int, events: EventLog | None = None) -> None:
        self.block_size = block_size
        self.enable_caching = enable_caching
        self.max_model_len = max_model_len
        self.events = events if events is not None else EventLog()
        self.block_pool = BlockPool(num_gpu_blocks, enable_caching, self.events)
        # KV-cache events are emitted only when a consumer asks (vLLM's
        # enable_kv_cache_events, off by default): LLMEngine(kv_cache_events=True).
        self.kv_events = False
        # The lean path of allocate_slots for a running request growing (see there); off:
        # every call takes the general path (tests require identical results either way).
        self.use_fast_paths = True
        self.req_to_blocks: dict[str, list[int]] = {}
        self.num_cached_block: dict[str, int] = {}
        # request_id -> the most tokens its held blocks take with allocate_slots doing
        # nothing (no new block, no newly full block to cache): the scheduler's decode
        # fast path skips allocate_slots below it. Kept in step by allocate_slots / free.
        self.room: dict[str, int] = {}
        self.prefix_cache_stats = PrefixCacheStats()

    @property
    def usage(self) -> float:
        return self.block_pool.get_usage()

    def get_block_ids(self, request_id: str) -> list[int]:
        return list(self.req_to_blocks.get(request_id, ()))

    def make_prefix_cache_stats(self) -> PrefixCacheStats:
        stats, self.prefix_cache_stats = self.prefix_cache_stats, PrefixCacheStats()
        return stats

    def record_prefix_cache_stats(self, request: Request, num_hits: int) -> None:
        # vLLM: a request that skipped the lookup (prompt_logprobs) is not counted.
        if self.enable_caching and not request.skip_reading_prefix_cache:
            self.prefix_cache_stats.record(request.num_tokens, num_hits, request.num_preemptions > 0)

    def get_computed_blocks(self, request: Request) -> tuple[list[int], int]:
        """Longest run of cached full blocks, capped so at least one token is recomputed.

        None for a request that skips reading the cache (prompt_logprobs: every prompt
        token must be computed); its blocks are still cached when allocated (vLLM).
        """
        if not self.enable_caching or request.skip_reading_prefix_cache:
            return [], 0
        max_blocks = (request.num_tokens - 1) // self.block_size
        lookup = self.block_pool.cached_block_hash_to_block.get
        hits: list[int] = []
        for h in request.block_hashes[:max_blocks]:
            blocks = lookup(h)
            if not blocks:
                break
            hits.append(next(iter(blocks)))
        return hits, len(hits) * self.block_size

    def _num_blocks_to_allocate(self, num_held: int, num_tokens: int,
                                new_computed_blocks: list[int]) -> int:
        num_new = cdiv(num_tokens, self.block_size) - len(new_computed_blocks) - num_held
        if not new_computed_blocks:
            return max(num_new, 0)
        # Prefix-hit blocks sitting idle in the free queue leave it when touched.
        ref_cnt = self.block_pool.ref_cnt
        return max(num_new, 0) + sum(1 for b in new_computed_blocks if ref_cnt[b] == 0)

    def allocate_slots(self, request: Request, num_new_tokens: int,
                       num_new_computed_tokens: int = 0,
                       new_computed_blocks: list[int] | None = None,
                       full_sequence_must_fit: bool = False) -> list[int] | None:
        """Blocks for `num_new_tokens` more tokens, or None (and no side effects) if they don't fit."""
        pool = self.block_pool
        rid = request.request_id
        block_size = self.block_size
        max_model_len = self.max_model_len
        blocks = self.req_to_blocks.get(rid)
        total_computed = request.num_computed_tokens + num_new_computed_tokens
        if total_computed > max_model_len:
            total_computed = max_model_len
        num_tokens_need_slot = total_computed + num_new_tokens
        if num_tokens_need_slot > max_model_len:
            num_tokens_need_slot = max_model_len
        if (blocks is not None and not new_computed_blocks and not full_sequence_must_fit
                and self.use_fast_paths and not num_new_computed_tokens):
            return self.grow_slots(request, num_new_tokens)
        # Admission (prefix hits, the whole sequence must fit) or a request with no blocks.
        new_computed_blocks = new_computed_blocks or []
        num_held = len(blocks) if blocks else 0
        num_free = len(pool.free_block_queue)
        if full_sequence_must_fit:
            full = min(request.num_tokens, self.max_model_len)
            if self._num_blocks_to_allocate(num_held, full, new_computed_blocks) > num_free:
                return None
        if self._num_blocks_to_allocate(num_held, num_tokens_need_slot,
                                        new_computed_blocks) > num_free:
            return None
        if blocks is None:
            blocks = self.req_to_blocks[rid] = []
            if new_computed_blocks:
                pool.touch(new_computed_blocks)
                blocks.extend(new_computed_blocks)
                self.num_cached_block[rid] = len(new_computed_blocks)
                if self.kv_events:
                    self.events.append(BlocksHit(rid, tuple(new_computed_blocks)))
        n_new = cdiv(num_tokens_need_slot, block_size) - len(blocks)
        new_blocks = self._take_blocks(rid, blocks, n_new) if n_new > 0 else []
        room = len(blocks) * block_size
        if self.enable_caching:
            num_cached = self._cache_full(request, blocks, total_computed + num_new_tokens)
            # The next block to fill gets cached as soon as a step completes it.
            room = min(room, (num_cached + 1) * block_size - 1)
        self.room[rid] = room
        return new_blocks

    def grow_slots(self, request: Request, num_new_tokens: int) -> list[int] | None:
        """allocate_slots' lean path for a running request growing (the scheduler's decode
        steps and chunks, ~1 call in 8 per request): no prefix hits to book, and its common
        case, one block just filled, cached inline. Same result as allocate_slots."""
        rid = request.request_id
        blocks = self.req_to_blocks.get(rid)
        if blocks is None or not self.use_fast_paths:
            return self.allocate_slots(request, num_new_tokens)
        block_size = self.block_size
        total_computed = request.num_computed_tokens
        if total_computed > self.max_model_len:
            total_computed = self.max_model_len
        num_tokens_need_slot = total_computed + num_new_tokens
        if num_tokens_need_slot > self.max_model_len:
            num_tokens_need_slot = self.max_model_len
        n_new = -(-num_tokens_need_slot // block_size) - len(blocks)
        if n_new > 0:
            if n_new > len(self.block_pool.free_block_queue):
                return None
            new_blocks = self.block_pool.get_new_blocks(n_new, rid)
            blocks.extend(new_blocks)
            if self.kv_events:
                self.events.append(BlocksAllocated(rid, tuple(new_blocks)))
        else:
            new_blocks = _NO_BLOCKS
        room = len(blocks) * block_size
        if self.enable_caching:
            num_cached = self.num_cached_block.get(rid, 0)
            num_full = total_computed + num_new_tokens
            if num_full > request.num_tokens:
                num_full = request.num_tokens
            num_full //= block_size
            if num_full == num_cached + 1:
                block_id, block_hash = blocks[num_cached], request.block_hashes[num_cached]
                self.block_pool.cache_full_block(block_id, block_hash)
                self.num_cached_block[rid] = num_cached = num_full
                if self.kv_events:
                    self.events.append(BlocksCached(rid, (block_id,), (block_hash,)))
            elif num_full > num_cached:
                num_cached = self._cache_full(request, blocks, num_full * block_size)
            if room > (num_cached + 1) * block_size - 1:
                room = (num_cached + 1) * block_size - 1
        self.room[rid] = room
        return new_blocks

    def _take_blocks(self, rid: str, blocks: list[int], n_new: int) -> list[int]:
        """Append `n_new` fresh blocks to the request's table (and say so)."""
        new_blocks = self.block_pool.get_new_blocks(n_new, rid)
        blocks.extend(new_blocks)
        if self.kv_events:
            self.events.append(BlocksAllocated(rid, tuple(new_blocks)))
        return new_blocks

    def _cache_full(self, request: Request, blocks: list[int], num_tokens: int) -> int:
        """Register the blocks `num_tokens` fills (capped at the request's tokens); the count cached."""
        rid = request.request_id
        num_cached = self.num_cached_block.get(rid, 0)
        if num_tokens > request.num_tokens:
            num_tokens = request.num_tokens
        num_full = num_tokens // self.block_size
        if num_full <= num_cached:
            return num_cached
        ids = blocks[num_cached:num_full]
        hashes = request.block_hashes[num_cached:num_full]
        self.block_pool.cache_full_blocks(ids, hashes)
        self.num_cached_block[rid] = num_full
        if self.kv_events:
            self.events.append(BlocksCached(rid, tuple(ids), tuple(hashes)))
        return num_full

    def cache_blocks(self, request: Request, num_tokens: int) -> None:
        """Register the request's newly full blocks in the prefix cache."""
        self._cache_full(request, self.req_to_blocks[request.request_id], num_tokens)

    def num_blocks_to_admit(self, request: Request, new_computed_blocks: list[int]) -> int:
        """Blocks admitting the request's whole sequence would take from the free queue."""
        full = min(request.num_tokens, self.max_model_len)
        held = len(self.req_to_blocks.get(request.request_id, ()))
        return self._num_blocks_to_allocate(held, full, new_computed_blocks)

    def reset_prefix_cache(self) -> bool:
        if not self.block_pool.reset_prefix_cache():
            return False
        self.prefix_cache_stats.reset = True
        return True

    def free(self, request: Request) -> None:
        """Release every block of the request, tail block first (evicted first)."""
        rid = request.request_id
        blocks = self.req_to_blocks.pop(rid, None)
        self.num_cached_block.pop(rid, None)
        self.room.pop(rid, None)
        if blocks:
            order = blocks[::-1]
            self.block_pool.free_blocks(order)
            if self.kv_events:
                self.events.append(BlocksFreed(rid, tuple(order)))
