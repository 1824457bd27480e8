"""The toy model (logits only) and the token-rule models tests and the oracle use.

`ToyModel` is a `LogitsModel`: next-token logits from (last token, position), batched
in numpy; `LLMEngine` samples them with `sampler.Sampler` (greedy or seeded Gumbel-max,
min_tokens masking). It also keeps the argmax of every (last token, position) cell,
computed once at start-up from the same logits, for the sampler's greedy fast path.

`LastPlusPosModel` and `ConstantModel` are `TokenRuleModel`s: they return tokens
directly and bypass the sampler (no min_tokens masking), as vLLM's fake test models do.
Any object with a `sample(requests)` method can be plugged in the same way.

These three check their settings when made, so that every token they return is in
the vocabulary: the engine runs them without the checks and the undo it gives a model
it does not know (engine/model_guard.py).
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence, Union

import numpy as np

from mini_engine.engine.errors import ModelError
from mini_engine.engine.request import Request
from mini_engine.engine.sampler import LogitsModel, Sampler, TokenRuleModel
from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.engine.validation import argument_error, check_int, check_real

_VOCAB_SIZE = ByteTokenizer.vocab_size

_PERIOD = 61  # positions repeat with this period in the toy logits
_PRINTABLE = [9, 10] + list(range(32, 127))

Model = Union[LogitsModel, TokenRuleModel]
_SAMPLER = Sampler()


class ToyModel:
    """Deterministic printable-ASCII babble that sometimes ends with EOS."""

    def __init__(self, seed: int = 0, eos_rate: float = 0.04) -> None:
        seed = check_int("seed", seed, 0, 2**63 - 1)
        eos_rate = check_real("eos_rate", eos_rate)
        if not 0 <= eos_rate <= 1:
            raise argument_error("eos_rate", f"must be between 0 and 1, got {eos_rate!r}")
        tok = ByteTokenizer()
        self.vocab_size = tok.vocab_size
        self.eos_token_id = tok.eos_token_id
        self.seed = seed
        self.token_logits, self.pos_logits, self.greedy_flat = _toy_tables(seed, eos_rate)

    def logits(self, last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        return self.token_logits[last_tokens] + self.pos_logits[positions % _PERIOD]

    def greedy_tokens(self, last_tokens: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """`logits(...).argmax(axis=1)` read from the table (one gather for the batch)."""
        return self.greedy_flat[last_tokens * _PERIOD + positions % _PERIOD]

    def sample(self, requests: Sequence[Request]) -> list[int]:
        """Next tokens through the default sampler (the engine calls its own Sampler)."""
        return _SAMPLER(self, requests)


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
    best_other = full.max(axis=2)
    # Bias EOS so it wins in about `eos_rate` of the (token, position) cells.
    bias = float(np.quantile(best_other - eos, eos_rate)) if eos_rate > 0 else -1e9
    token_logits[:, eos_id] += bias
    # The greedy table is the argmax of the very logits ToyModel.logits computes.
    greedy = (token_logits[:, None, :] + pos_logits[None, :, :]).argmax(axis=2)
    for a in (token_logits, pos_logits, greedy):
        a.setflags(write=False)
    return token_logits, pos_logits, greedy.ravel()  # greedy index: last * period + pos % period


class LastPlusPosModel:
    """The oracle's token rule: next = (last_token + position) % modulus, position = num_tokens."""

    def __init__(self, modulus: int = 256) -> None:
        # At most the vocabulary size: every token it returns is a valid id.
        self.modulus = check_int("modulus", modulus, 1, _VOCAB_SIZE)

    def sample(self, requests: Sequence[Request]) -> list[int]:
        m = self.modulus
        return [(r.last_token_id + r.num_tokens) % m for r in requests]


class ConstantModel:
    """Always the same token: handy for EOS and stop-token tests."""

    def __init__(self, value: int) -> None:
        self.value = check_int("value", value, 0, _VOCAB_SIZE - 1, what="a token id (an integer)")

    def sample(self, requests: Sequence[Request]) -> list[int]:
        return [self.value] * len(requests)


# The engine's own models: their settings are checked when made, so every token they
# return is valid and the engine runs them without the guard (engine/model_guard.py).
TRUSTED_MODELS = (ToyModel, LastPlusPosModel, ConstantModel)


def model_sampler(model: object, sampler: Sampler) -> Callable[[Sequence[Request]], list[int]]:
    """requests -> next tokens: a logits model through `sampler`, a token-rule model itself.

    Anything else (no `sample(requests)`, no `logits` and `vocab_size`) is a ModelError.
    """
    if isinstance(model, LogitsModel):
        return functools.partial(sampler, model)
    sample = getattr(model, "sample", None)
    if not callable(sample):
        raise ModelError(f"model {type(model).__name__} cannot be run: it has no "
                         f"sample(requests) method, and no logits(last_tokens, positions) "
                         f"and vocab_size to be sampled from")
    return sample
