"""The toy model and sampler: next-token logits from (last token, position), batched in numpy.

`ToyModel.sample(requests)` returns one next token per request, in order, with one
numpy gather for the whole batch. Greedy (temperature 0) decoding reads a table of
argmaxes precomputed at start-up; temperature > 0 uses Gumbel-max noise derived
from (request seed, position), so sampling is seeded and reproducible, and survives
preemption. As vLLM's sampler does, EOS and stop tokens are masked while a request
has fewer than `min_tokens` outputs. Any object with the same `sample` method can
be plugged into `LLMEngine(model=...)`.
"""

from __future__ import annotations

import functools
import zlib
from typing import Protocol, Sequence

import numpy as np

from mini_engine.engine.request import Request
from mini_engine.engine.tokenizer import ByteTokenizer

_PERIOD = 61  # positions repeat with this period in the toy logits
_PRINTABLE = [9, 10] + list(range(32, 127))


class Model(Protocol):
    def sample(self, requests: Sequence[Request]) -> list[int]: ...


class ToyModel:
    """Deterministic printable-ASCII babble that sometimes ends with EOS."""

    def __init__(self, seed: int = 0, eos_rate: float = 0.04) -> None:
        tok = ByteTokenizer()
        self.vocab_size = tok.vocab_size
        self.eos_token_id = tok.eos_token_id
        self.seed = seed
        self.token_logits, self.pos_logits, self.greedy_flat = _toy_tables(seed, eos_rate)

    def logits(self, last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.token_logits[last_tokens] + self.pos_logits[positions % _PERIOD]

    def sample(self, requests: Sequence[Request]) -> list[int]:
        n = len(requests)
        if n == 0:
            return []
        # One gather for the whole batch: greedy next token of every (last token, position).
        cells = np.fromiter((r._all_token_ids[-1] * _PERIOD + r.num_tokens % _PERIOD
                             for r in requests), np.int64, n)
        out = self.greedy_flat[cells]
        special = [i for i, r in enumerate(requests) if r.temperature > 0 or r.min_tokens]
        if special:
            self._sample_special(requests, special, cells, out)
        return out.tolist()

    def _sample_special(self, requests: Sequence[Request], special: list[int],
                        cells: np.ndarray, out: np.ndarray) -> None:
        """Full logits for rows that mask stop tokens (min_tokens) or sample (temperature > 0)."""
        idx = np.array(special)
        logits = self.logits(cells[idx] // _PERIOD, cells[idx] % _PERIOD)
        for row, i in enumerate(special):
            r = requests[i]
            if r.num_tokens - r.num_prompt_tokens < r.min_tokens:
                for t in r.stop_token_ids:
                    if 0 <= t < self.vocab_size:
                        logits[row, t] = -np.inf
                if r.eos_token_id is not None:
                    logits[row, r.eos_token_id] = -np.inf
            if r.temperature > 0:
                seed = r.sampling_params.seed
                if seed is None:
                    seed = zlib.crc32(r.request_id.encode())
                logits[row] = logits[row] / r.temperature + _gumbel(seed, r.num_tokens,
                                                                     self.vocab_size)
        out[idx] = logits.argmax(axis=1)


@functools.lru_cache(maxsize=8)
def _toy_tables(seed: int, eos_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logit tables and the greedy argmax of every (last token, position) cell (read-only, cached)."""
    tok = ByteTokenizer()
    v, eos_id = tok.vocab_size, tok.eos_token_id
    rng = np.random.default_rng(seed)
    token_logits = rng.standard_normal((v, v)).astype(np.float32) * 2.0
    pos_logits = rng.standard_normal((_PERIOD, v)).astype(np.float32)
    allowed = np.full(v, -1e9, dtype=np.float32)
    allowed[_PRINTABLE] = 0.0
    allowed[eos_id] = 0.0
    token_logits += allowed  # only printable bytes and EOS can be produced
    full = token_logits[:, None, :] + pos_logits[None, :, :]
    eos = full[:, :, eos_id].copy()
    full[:, :, eos_id] = -np.inf
    best_other, argmax_other = full.max(axis=2), full.argmax(axis=2)
    # Bias EOS so it wins in about `eos_rate` of the (token, position) cells.
    bias = float(np.quantile(best_other - eos, eos_rate)) if eos_rate > 0 else -1e9
    token_logits[:, eos_id] += bias
    greedy = np.where(eos + bias > best_other, eos_id, argmax_other)
    for a in (token_logits, pos_logits, greedy):
        a.setflags(write=False)
    return token_logits, pos_logits, greedy.ravel()  # greedy index: last * period + pos % period


def _gumbel(seed: int, position: int, vocab_size: int) -> np.ndarray:
    """Gumbel noise that depends only on (seed, position): a counter-based hash (splitmix64)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
             + np.uint64(position) * np.uint64(0xBF58476D1CE4E5B9)
             + np.arange(vocab_size, dtype=np.uint64) * np.uint64(0x94D049BB133111EB))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    u = (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
    u = np.clip(u, 1e-12, 1 - 1e-12)
    return (-np.log(-np.log(u))).astype(np.float32)


class LastPlusPosModel:
    """The oracle's token rule: next = (last_token + position) % modulus, position = num_tokens."""

    def __init__(self, modulus: int = 256) -> None:
        self.modulus = modulus

    def sample(self, requests: Sequence[Request]) -> list[int]:
        m = self.modulus
        return [(r._all_token_ids[-1] + r.num_tokens) % m for r in requests]


class ConstantModel:
    """Always the same token: handy for EOS and stop-token tests."""

    def __init__(self, value: int) -> None:
        self.value = value

    def sample(self, requests: Sequence[Request]) -> list[int]:
        return [self.value] * len(requests)
