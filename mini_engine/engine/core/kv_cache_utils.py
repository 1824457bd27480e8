"""KV-cache helpers shared by the manager and the scheduler: `cdiv`, block hashing, prefix-cache stats.

Mirrors vllm/v1/core/kv_cache_utils.py (hash_block_tokens, PrefixCacheStats lives in
vllm/v1/metrics/stats.py there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mini_engine.engine.request import Request

NONE_HASH = 0  # parent hash of block 0 (vLLM: a fixed seed hash)


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def make_block_hasher(block_size: int):
    """Extends `request.block_hashes` to cover every full block of its tokens (chained hashes).

    Tuples of ints hash identically in every process, so traces are reproducible.
    """

    def hash_request_blocks(request: Request) -> None:
        hashes = request.block_hashes
        n_full = request.num_tokens // block_size
        if len(hashes) >= n_full:
            return
        tokens = request._all_token_ids
        parent = hashes[-1] if hashes else NONE_HASH
        for i in range(len(hashes), n_full):
            parent = hash((parent, tuple(tokens[i * block_size:(i + 1) * block_size])))
            hashes.append(parent)

    hash_request_blocks.block_size = block_size
    return hash_request_blocks


@dataclass
class PrefixCacheStats:
    """Per-step prefix-cache counters (vLLM stats.py); queries and hits are in tokens."""

    requests: int = 0
    queries: int = 0
    hits: int = 0
    preempted_requests: int = 0
    preempted_queries: int = 0
    preempted_hits: int = 0

    def record(self, num_tokens: int, num_hits: int, preempted: bool) -> None:
        if preempted:
            self.preempted_requests += 1
            self.preempted_queries += num_tokens
            self.preempted_hits += num_hits
        else:
            self.requests += 1
            self.queries += num_tokens
            self.hits += num_hits
