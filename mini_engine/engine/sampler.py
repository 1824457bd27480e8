"""`Sampler`: next tokens for a whole batch from a model's logits, in numpy (vllm/v1/sample/).

Two kinds of model plug into `LLMEngine(model=...)`:

- a `LogitsModel` (the toy model) gives next-token logits for a batch of
  (last token, position) rows; the engine runs them through this sampler, which
  masks EOS and the stop token ids of every request that has fewer than
  `min_tokens` outputs (vLLM's MinTokensLogitsProcessor), then takes the argmax
  (temperature 0) or a seeded Gumbel-max sample (temperature > 0) of each row;
- a `TokenRuleModel` (`LastPlusPosModel`, `ConstantModel`, models injected by tests)
  returns the tokens itself and bypasses the sampler, as vLLM's fake test models do:
  no min_tokens masking, so such a model can stop a request below `min_tokens`.

Sampling is counter-based: the Gumbel noise of a row depends only on (request seed,
position), so it is reproducible, survives preemption, and the sampler keeps no state.
"""

from __future__ import annotations

import zlib
from operator import attrgetter
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from mini_engine.engine.request import Request

_num_tokens = attrgetter("num_tokens")


@runtime_checkable
class LogitsModel(Protocol):
    """A model that produces logits: the engine samples them with `Sampler`."""

    vocab_size: int

    def logits(self, last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """float32 logits, one row of `vocab_size` per (last token, position) row."""
        ...


@runtime_checkable
class GreedyTableModel(LogitsModel, Protocol):
    """A logits model that also knows the argmax of its logits without computing them."""

    def greedy_tokens(self, last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Exactly `logits(last_tokens, positions).argmax(axis=1)`, faster."""
        ...


@runtime_checkable
class TokenRuleModel(Protocol):
    """A model that returns next tokens directly (one per request, in order); no sampler."""

    def sample(self, requests: Sequence[Request]) -> list[int]: ...


def request_seed(request: Request) -> int:
    """The sampling seed: `SamplingParams.seed`, else one derived from the request id."""
    seed = request.sampling_params.seed
    return zlib.crc32(request.request_id.encode()) if seed is None else seed


class Sampler:
    """Greedy and seeded Gumbel-max sampling of a whole batch at once.

    `use_greedy_table` (the greedy fast path) reads plain greedy rows from a
    `GreedyTableModel`'s precomputed argmax table instead of computing their logits;
    it never changes a token (the table is the argmax of the same logits).
    """

    def __init__(self, use_greedy_table: bool = True) -> None:
        self.use_greedy_table = use_greedy_table

    def __call__(self, model: LogitsModel, requests: Sequence[Request]) -> list[int]:
        n = len(requests)
        if n == 0:
            return []
        last_tokens = np.fromiter(Request.last_token_ids(requests), np.int64, n)
        positions = np.fromiter(map(_num_tokens, requests), np.int64, n)
        greedy_tokens = getattr(model, "greedy_tokens", None) if self.use_greedy_table else None
        if greedy_tokens is not None:
            out = greedy_tokens(last_tokens, positions)
            # Rows that sample, or may need min_tokens masking, get their logits.
            rows = [i for i, r in enumerate(requests) if r.temperature > 0 or r.min_tokens]
            if not rows:
                return out.tolist()
            out = out.copy()
            if len(rows) == n:
                out[:] = self.sample_rows(model, requests, last_tokens, positions)
            else:
                idx = np.array(rows)
                out[idx] = self.sample_rows(model, [requests[i] for i in rows],
                                            last_tokens[idx], positions[idx])
            return out.tolist()
        return self.sample_rows(model, requests, last_tokens, positions).tolist()

    def sample_rows(self, model: LogitsModel, requests: Sequence[Request],
                    last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Logits, min_tokens masking, then argmax or Gumbel-max, for every row."""
        logits = model.logits(last_tokens, positions)
        if not logits.flags.writeable or logits.base is not None:
            logits = logits.copy()
        mask_min_tokens(logits, requests)
        hot = [i for i, r in enumerate(requests) if r.temperature > 0]
        if hot:
            hot_requests = [requests[i] for i in hot] if len(hot) < len(requests) else requests
            idx = slice(None) if len(hot) == len(requests) else np.array(hot)
            temperatures = np.fromiter((r.temperature for r in hot_requests), np.float32, len(hot))
            seeds = np.fromiter((request_seed(r) & 0xFFFFFFFF for r in hot_requests), np.uint64,
                                len(hot))
            logits[idx] = (logits[idx] / temperatures[:, None]
                           + gumbel_noise(seeds, positions[idx], logits.shape[1]))
        return logits.argmax(axis=1)


def mask_min_tokens(logits: np.ndarray, requests: Sequence[Request]) -> None:
    """-inf on EOS and the stop token ids of rows with fewer than `min_tokens` outputs."""
    vocab_size = logits.shape[1]
    for row, r in enumerate(requests):
        if r.min_tokens and r.num_tokens - r.num_prompt_tokens < r.min_tokens:
            for t in r.stop_token_ids:
                if 0 <= t < vocab_size:
                    logits[row, t] = -np.inf
            eos = r.eos_token_id
            if eos is not None and 0 <= eos < vocab_size:  # an id outside is never sampled
                logits[row, eos] = -np.inf


def gumbel_noise(seeds: np.ndarray, positions: np.ndarray, vocab_size: int) -> np.ndarray:
    """float32 Gumbel noise, one row per (seed, position): a counter-based hash (splitmix64).

    Row i depends only on (seeds[i] mod 2**32, positions[i]): the same numbers as
    sampling that row alone.
    """
    seeds = (seeds.astype(np.uint64) & np.uint64(0xFFFFFFFF))[:, None]
    positions = positions.astype(np.uint64)[:, None]
    with np.errstate(over="ignore"):
        x = (seeds * np.uint64(0x9E3779B97F4A7C15)
             + positions * np.uint64(0xBF58476D1CE4E5B9)
             + np.arange(vocab_size, dtype=np.uint64) * np.uint64(0x94D049BB133111EB))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    np.clip(u, 1e-12, 1 - 1e-12, out=u)
    return (-np.log(-np.log(u))).astype(np.float32)
