"""KV-cache helpers shared by the manager and the scheduler: `cdiv`, block hashing, prefix-cache stats.

Mirrors vllm/v1/core/kv_cache_utils.py (hash_block_tokens, PrefixCacheStats lives in
vllm/v1/metrics/stats.py there).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mini_engine.engine.request import Request

NONE_HASH = 0  # parent hash of block 0 (vLLM: a fixed seed hash)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def salt_key(cache_salt: str) -> int:
    """The salt as an int that is the same in every process (str hashes are randomised).

    vLLM adds ("cache_salt", salt) to the extra keys of block 0 only
    (kv_cache_utils.py generate_block_hash_extra_keys); chaining carries it to every
    later block, so requests with different salts never share a block.
    """
    return int.from_bytes(hashlib.sha256(cache_salt.encode("utf-8")).digest()[:8], "little")


class BlockHasher:
    """Extends `request.block_hashes` to cover every full block of its tokens (chained hashes).

    Tuples of ints hash identically in every process, so traces are reproducible. A class
    rather than a closure so requests that hold one can be pickled (engine snapshots).
    """

    __slots__ = ("block_size",)

    def __init__(self, block_size: int) -> None:
        self.block_size = block_size

    def __call__(self, request: Request) -> None:
        block_size = self.block_size
        hashes = request.block_hashes
        n_full = request.num_tokens // block_size
        if len(hashes) >= n_full:
            return
        parent = hashes[-1] if hashes else NONE_HASH
        for i in range(len(hashes), n_full):
            start = i * block_size
            key = (parent, request.token_ids_slice(start, start + block_size))
            if i == 0 and request.cache_salt:
                key += (salt_key(request.cache_salt),)  # block 0 only: the chain carries it
            parent = hash(key)
            hashes.append(parent)

    def __eq__(self, other: object) -> bool:
        return type(other) is BlockHasher and other.block_size == self.block_size

    def __hash__(self) -> int:
        return hash((BlockHasher, self.block_size))


def make_block_hasher(block_size: int) -> BlockHasher:
    return BlockHasher(block_size)


@dataclass
class PrefixCacheStats:
    """Per-step prefix-cache counters (vLLM stats.py); queries and hits are in tokens.

    `reset`: a `reset_prefix_cache()` succeeded since the last stats (vLLM sets it in
    KVCacheManager.reset_prefix_cache). Requests that skip reading the cache
    (prompt_logprobs) are not counted, as in vLLM.
    """

    requests: int = 0
    queries: int = 0
    hits: int = 0
    preempted_requests: int = 0
    preempted_queries: int = 0
    preempted_hits: int = 0
    reset: bool = False

    def record(self, num_tokens: int, num_hits: int, preempted: bool) -> None:
        if preempted:
            self.preempted_requests += 1
            self.preempted_queries += num_tokens
            self.preempted_hits += num_hits
        else:
            self.requests += 1
            self.queries += num_tokens
            self.hits += num_hits
