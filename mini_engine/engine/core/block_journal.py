"""`JournaledBlockPool`: a `BlockPool` whose changes during one step can be undone exactly.

An engine running a model it does not know (engine/model_guard.py) uses this pool, so
that a model failing after `schedule()` took, touched, freed or cached blocks leaves
the pool exactly as before the step: same ref counts and hashes, same free-queue order,
same prefix-cache map (outer and inner insertion order, which decides which block a
prefix hit gets). Between `begin()` and `commit()`/`rollback()` each change is noted
with what undoing it needs; outside, the pool behaves as (and costs what) a plain one does.

Most changes are undone from the note alone (blocks taken from the head go back to the
head, blocks freed to an end come off it). Two need the order they disturbed: a prefix
hit takes idle blocks out of the middle of the free queue (the queue's order is copied
for it), and an eviction may drop a hash from the middle of the prefix-cache map (its
key order is copied the first time in a step, and restored last). Those copies cost
O(pool), and only on a guarded step that does such a thing.
"""

from __future__ import annotations

from itertools import islice
from typing import Iterable

from mini_engine.engine.core.block_pool import BlockPool


class JournaledBlockPool(BlockPool):
    journal: list | None = None  # the open step's notes, or None: not recording
    # The prefix-cache map's key order when this step first dropped a key from it.
    outer_order: list | None = None

    def begin(self) -> None:
        self.journal = []
        self.outer_order = None

    def commit(self) -> None:
        self.journal = self.outer_order = None

    def rollback(self) -> None:
        """Undo every change since `begin()`, newest first."""
        journal, self.journal = self.journal or [], None
        for note in reversed(journal):
            getattr(self, "_undo_" + note[0])(*note[1:])
        if self.outer_order is not None:
            # Keys dropped this step came back at the end: put every key in its old place
            # (the order noted holds them all; keys it has that are gone were added after).
            cached = self.cached_block_hash_to_block
            entries = {h: cached[h] for h in self.outer_order if h in cached}
            cached.clear()
            cached.update(entries)
            self.outer_order = None

    # ------------------------------------------------------------------ noted changes

    def get_new_blocks(self, num_blocks: int, request_id: str = "") -> list[int]:
        journal = self.journal
        if journal is None or num_blocks > len(self.free_block_queue):
            return super().get_new_blocks(num_blocks, request_id)
        block_hash, cached = self.block_hash, self.cached_block_hash_to_block
        evicted = [(b, block_hash[b]) for b in islice(self.free_block_queue, num_blocks)
                   if block_hash[b] is not None]
        inner = {}
        if evicted:
            inner = {h: tuple(cached.get(h, ())) for _, h in evicted}
            if self.outer_order is None and any(
                    len(keys) <= sum(1 for _, g in evicted if g == h) for h, keys in inner.items()):
                self.outer_order = list(cached)  # a key is about to leave the map
        blocks = super().get_new_blocks(num_blocks, request_id)
        journal.append(("take", blocks, evicted, inner))
        return blocks

    def touch(self, block_ids: Iterable[int]) -> None:
        journal = self.journal
        if journal is None:
            return super().touch(block_ids)
        block_ids = list(block_ids)
        ref_cnt = self.ref_cnt
        queue = list(self.free_block_queue) if any(ref_cnt[b] == 0 for b in block_ids) else None
        super().touch(block_ids)
        journal.append(("touch", block_ids, queue))

    def free_blocks(self, ordered_block_ids: Iterable[int]) -> None:
        journal = self.journal
        if journal is None:
            return super().free_blocks(ordered_block_ids)
        block_ids = list(ordered_block_ids)
        super().free_blocks(block_ids)
        # Where each block that became idle went: cached ones to the tail, others to the head.
        ref_cnt, block_hash = self.ref_cnt, self.block_hash
        idle = [b for b in block_ids if ref_cnt[b] == 0]
        to_tail = sum(1 for b in idle if self.enable_caching and block_hash[b] is not None)
        journal.append(("free", block_ids, len(idle) - to_tail, to_tail))

    def cache_full_block(self, block_id: int, block_hash: int) -> None:
        if self.journal is not None:
            self._note_cached(block_id, block_hash)
        super().cache_full_block(block_id, block_hash)

    def cache_full_blocks(self, block_ids: list[int], block_hashes: list[int]) -> None:
        if self.journal is None:
            return super().cache_full_blocks(block_ids, block_hashes)
        for b, h in zip(block_ids, block_hashes):
            self.cache_full_block(b, h)

    def _note_cached(self, block_id: int, block_hash: int) -> None:
        blocks = self.cached_block_hash_to_block.get(block_hash)
        self.journal.append(("cache", block_id, self.block_hash[block_id], block_hash,
                             None if blocks is None else tuple(blocks)))

    # ------------------------------------------------------------------ undoing them

    def _undo_take(self, blocks: list[int], evicted: list, inner: dict) -> None:
        queue, ref_cnt = self.free_block_queue, self.ref_cnt
        for b in reversed(blocks):  # back to the head, in their old order
            ref_cnt[b] = 0
            queue[b] = None
            queue.move_to_end(b, last=False)
        for b, h in evicted:
            self.block_hash[b] = h
        cached = self.cached_block_hash_to_block
        for h, keys in inner.items():
            cached[h] = dict.fromkeys(keys)  # a dropped key comes back last: see rollback

    def _undo_touch(self, block_ids: list[int], queue: list[int] | None) -> None:
        ref_cnt = self.ref_cnt
        for b in block_ids:
            ref_cnt[b] -= 1
        if queue is not None:
            self.free_block_queue.clear()
            self.free_block_queue.update(dict.fromkeys(queue))

    def _undo_free(self, block_ids: list[int], to_head: int, to_tail: int) -> None:
        queue = self.free_block_queue
        for _ in range(to_tail):
            queue.popitem(last=True)
        for _ in range(to_head):
            queue.popitem(last=False)
        ref_cnt = self.ref_cnt
        for b in block_ids:
            ref_cnt[b] += 1

    def _undo_cache(self, block_id: int, old_hash: int | None, block_hash: int,
                    keys: tuple[int, ...] | None) -> None:
        self.block_hash[block_id] = old_hash
        cached = self.cached_block_hash_to_block
        if keys is None:
            del cached[block_hash]  # it was added last, and everything after is undone
        else:
            cached[block_hash] = dict.fromkeys(keys)
