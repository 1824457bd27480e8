"""`BlockMirror`: the KV cache as a recording's KV events describe it, for checking them.

It keeps each block's reference count and whether it holds a cached hash, and each
request's block table, and refuses an event no block pool could emit: a block beyond
`num_gpu_blocks`, allocated while in use, hit without a cached hash, freed by a
request that does not hold it, cached while free, evicted while in use.
"""

from __future__ import annotations

from mini_engine.recording.header import Defect, show

__all__ = ["BlockMirror"]


class BlockMirror:
    def __init__(self, num_gpu_blocks: int) -> None:
        self.ref = [0] * num_gpu_blocks
        self.hashed = bytearray(num_gpu_blocks)
        self.tables: dict[int, list[int]] = {}  # request index -> its blocks, in order
        self.num_free = num_gpu_blocks - 1  # block 0 is vLLM's null block
        self.usable = num_gpu_blocks - 1
        self.free_before: dict[int, int] = {}  # request -> free blocks before its last free

    def usage(self) -> float:
        """vLLM's kv_cache_usage: the fraction of usable blocks in use."""
        return 1.0 - self.num_free / self.usable

    def usage_before_free(self, ri: int) -> float:
        """The usage before request `ri` last freed its blocks (a preemption reports it)."""
        return 1.0 - self.free_before.get(ri, self.num_free) / self.usable

    def table_length(self, ri: int) -> int:
        return len(self.tables.get(ri, ()))

    def holds_nothing(self, ri: int, where: str, rid: str) -> None:
        if self.tables.get(ri):
            raise Defect(f"{where}.request_id", f"request {show(rid)} still holds blocks "
                                                f"{self.tables[ri][:8]} (free them first)")

    def clear_hashes(self) -> None:
        self.hashed = bytearray(len(self.hashed))

    def apply(self, ev, ri: int, where: str) -> None:
        """One blocks_* event for request `ri`; Defect if the pool could not have emitted it."""
        ids, field = ev.block_ids, f"{where}.block_ids"
        if ids and max(ids) >= len(self.ref):
            raise Defect(field, f"block {max(ids)} is beyond the cache (num_gpu_blocks is "
                                f"{len(self.ref)})")
        if len(set(ids)) != len(ids):
            raise Defect(field, "a block id appears twice")
        kind, ref, hashed = ev.kind, self.ref, self.hashed
        if kind in ("blocks_allocated", "blocks_hit"):
            for b in ids:
                if kind == "blocks_allocated" and ref[b]:
                    raise Defect(field, f"block {b} is allocated but in use")
                if kind == "blocks_hit" and not hashed[b]:
                    raise Defect(field, f"block {b} is a cache hit but holds no cached hash")
                self.num_free -= ref[b] == 0
                ref[b] += 1
            self.tables.setdefault(ri, []).extend(ids)
        elif kind == "blocks_freed":
            held = self.tables.get(ri, [])
            if sorted(ids) != sorted(held):
                raise Defect(field, f"frees {ids[:8]}, but the request holds {held[:8]}")
            self.free_before[ri] = self.num_free
            for b in ids:
                ref[b] -= 1
                self.num_free += ref[b] == 0
            self.tables.pop(ri, None)
        elif kind == "blocks_cached":
            if len(ev.block_hashes) != len(ids):
                raise Defect(f"{where}.block_hashes", f"{len(ev.block_hashes)} hashes for "
                                                      f"{len(ids)} blocks")
            held = set(self.tables.get(ri, ()))
            for b in ids:
                if b not in held or hashed[b]:
                    raise Defect(field, f"block {b} is cached, but the request does not hold "
                                        f"it or it is cached already")
                hashed[b] = 1
        else:  # blocks_evicted
            for b in ids:
                if ref[b] or not hashed[b]:
                    raise Defect(field, f"block {b} is evicted but is not a cached free block")
                hashed[b] = 0
