"""`BlockPool`: the paged KV blocks, their reference counts, the free queue and the prefix-cache map.

Block 0 is vLLM's null block and is never handed out. The free queue is an
OrderedDict used as vLLM's doubly linked list: allocate from the head; a freed
block with a prefix-cache hash goes to the tail (evicted last, LRU), one without
goes to the head (reused first). Hashes are evicted lazily, when a block is reused.
The pool emits the KV events only it can see (evictions, a cleared cache) into the
engine's event log; the KV-cache manager emits the rest, where it knows the request.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

from mini_engine.engine.events import BlocksEvicted, CacheCleared, EventLog


class BlockPool:
    def __init__(self, num_gpu_blocks: int, enable_caching: bool,
                 events: EventLog | None = None) -> None:
        self.num_gpu_blocks = num_gpu_blocks
        self.events = events if events is not None else EventLog()
        self.kv_events = False  # emit BlocksEvicted / CacheCleared (see KVCacheManager)
        self.enable_caching = enable_caching
        self.ref_cnt = [0] * num_gpu_blocks
        self.block_hash: list[int | None] = [None] * num_gpu_blocks
        self.free_block_queue: OrderedDict[int, None] = OrderedDict.fromkeys(range(1, num_gpu_blocks))
        # hash -> {block_id: None}, insertion ordered: several blocks may share a hash.
        self.cached_block_hash_to_block: dict[int, dict[int, None]] = {}

    def get_num_free_blocks(self) -> int:
        return len(self.free_block_queue)

    def get_usage(self) -> float:
        total = self.num_gpu_blocks - 1
        return 1.0 - len(self.free_block_queue) / total if total else 0.0

    def get_cached_block(self, block_hash: int) -> int | None:
        blocks = self.cached_block_hash_to_block.get(block_hash)
        return next(iter(blocks)) if blocks else None

    def get_new_blocks(self, num_blocks: int, request_id: str = "") -> list[int]:
        """Take blocks from the head of the free queue; cached ones lose their hash (evicted)."""
        if num_blocks > len(self.free_block_queue):
            raise ValueError(f"Cannot get {num_blocks} free blocks from the pool")
        pop = self.free_block_queue.popitem
        ref_cnt, block_hash = self.ref_cnt, self.block_hash
        ret = []
        evicted = []
        for _ in range(num_blocks):
            b = pop(last=False)[0]
            if block_hash[b] is not None:
                self._evict_cached_block(b)
                evicted.append(b)
            ref_cnt[b] = 1
            ret.append(b)
        if evicted and self.kv_events:
            self.events.append(BlocksEvicted(request_id, tuple(evicted)))
        return ret

    def _evict_cached_block(self, block_id: int) -> None:
        h = self.block_hash[block_id]
        self.block_hash[block_id] = None
        blocks = self.cached_block_hash_to_block.get(h)
        if blocks is not None:
            blocks.pop(block_id, None)
            if not blocks:
                del self.cached_block_hash_to_block[h]

    def cache_full_block(self, block_id: int, block_hash: int) -> None:
        self.block_hash[block_id] = block_hash
        self.cached_block_hash_to_block.setdefault(block_hash, {})[block_id] = None

    def cache_full_blocks(self, block_ids: list[int], block_hashes: list[int]) -> None:
        """`cache_full_block` for each pair (one call for a prefill's worth of blocks)."""
        block_hash, cached = self.block_hash, self.cached_block_hash_to_block
        for b, h in zip(block_ids, block_hashes):
            block_hash[b] = h
            blocks = cached.get(h)
            if blocks is None:
                cached[h] = {b: None}
            else:
                blocks[b] = None

    def touch(self, block_ids: Iterable[int]) -> None:
        """A prefix hit: take a reference, pulling the block out of the free queue if idle."""
        ref_cnt, queue = self.ref_cnt, self.free_block_queue
        for b in block_ids:
            if ref_cnt[b] == 0:
                del queue[b]
            ref_cnt[b] += 1

    def free_blocks(self, ordered_block_ids: Iterable[int]) -> None:
        """Release blocks given in eviction order (first = evicted first)."""
        ref_cnt, block_hash, caching = self.ref_cnt, self.block_hash, self.enable_caching
        evict_first: list[int] = []
        evict_last: list[int] = []
        for b in ordered_block_ids:
            ref_cnt[b] -= 1
            if ref_cnt[b] == 0:
                (evict_last if caching and block_hash[b] is not None else evict_first).append(b)
        queue = self.free_block_queue
        for b in reversed(evict_first):  # prepend keeping order: evict_first[0] ends at the head
            queue[b] = None
            queue.move_to_end(b, last=False)
        for b in evict_last:
            queue[b] = None

    def reset_prefix_cache(self) -> bool:
        """Forget every cached hash; refused (False) while any block is held."""
        if len(self.free_block_queue) != self.num_gpu_blocks - 1:
            return False
        self.cached_block_hash_to_block.clear()
        self.block_hash = [None] * self.num_gpu_blocks
        if self.kv_events:
            self.events.append(CacheCleared())
        return True

    def num_cached_free_blocks(self) -> int:
        """Free blocks that still hold a prefix-cache hash (reusable without recompute)."""
        block_hash = self.block_hash
        return sum(1 for b in self.free_block_queue if block_hash[b] is not None)
