"""`add_request` and `abort_request`'s argument checks: all of them, before anything changes.

A call that raises here leaves the engine as it was (no arrival counted, no id taken),
so it can be retried with good arguments. Errors are `ArgumentError` (a ValueError) or,
for a wrong type, `ArgumentTypeError` (also a TypeError), and name the request and the
argument. Prompt token ids may be any integers (numpy ones too) inside the vocabulary;
they are stored as plain ints.
"""

from __future__ import annotations

import functools
from typing import Iterable, NamedTuple

from mini_engine.engine.config import INT64_MAX, INT64_MIN
from mini_engine.engine.errors import ArgumentError, ArgumentTypeError
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.validation import check_int, is_int, shown


_INT_ONLY = frozenset({int})


class CheckedRequest(NamedTuple):
    token_ids: list[int]
    sampling_params: SamplingParams
    priority: int


def check_request(request_id: object, prompt: object, sampling_params: object,
                  prompt_token_ids: object, priority: object, cache_salt: object,
                  tokenizer, existing: dict) -> CheckedRequest:
    """Every `add_request` argument checked (and normalized), or the first error."""
    if not isinstance(request_id, str):
        raise ArgumentTypeError("request_id", f"request_id must be a string, got "
                                f"{shown(request_id)} ({type(request_id).__name__})")
    if (prompt is None) == (prompt_token_ids is None):
        raise ArgumentError("prompt", "give exactly one of prompt or prompt_token_ids")
    if cache_salt is not None and not isinstance(cache_salt, str):
        raise ArgumentTypeError("cache_salt", f"request {request_id!r}: cache_salt must be a "
                                f"string or None, got {shown(cache_salt)}")
    if cache_salt:
        _encodable(request_id, "cache_salt", cache_salt)
    if request_id in existing:
        raise ArgumentError("request_id", f"duplicate request id {request_id!r}")
    if prompt is not None:
        if not isinstance(prompt, str):
            raise ArgumentTypeError("prompt", f"request {request_id!r}: prompt must be a "
                                    f"string, got {shown(prompt)} ({type(prompt).__name__})")
        _encodable(request_id, "prompt", prompt)
        token_ids = tokenizer.encode(prompt)
    else:
        token_ids = _token_ids(request_id, prompt_token_ids, tokenizer.vocab_size)
    if not token_ids:
        raise ArgumentError("prompt", f"request {request_id!r}: the prompt is empty")
    if sampling_params is None:
        sampling_params = SamplingParams()
    elif not isinstance(sampling_params, SamplingParams):
        raise ArgumentTypeError("sampling_params", f"request {request_id!r}: sampling_params "
                                f"must be a SamplingParams or None, got "
                                f"{type(sampling_params).__name__}")
    else:
        sampling_params.validate()  # again: its fields may have been changed since
    priority = check_int("priority", priority, INT64_MIN, INT64_MAX)
    return CheckedRequest(token_ids, sampling_params, priority)


def check_request_ids(request_ids: object) -> tuple[str, ...]:
    """`abort_request`'s argument: one id or an iterable of ids, all strings."""
    if isinstance(request_ids, str):
        return (request_ids,)
    if not isinstance(request_ids, Iterable):
        raise ArgumentTypeError("request_ids", "request_ids must be a request id or a list "
                                f"of them, got {shown(request_ids)}")
    ids = tuple(request_ids)
    bad = next((i for i in ids if not isinstance(i, str)), None)
    if bad is not None:
        raise ArgumentTypeError("request_ids", "request_ids must be strings, got "
                                f"{shown(bad)} ({type(bad).__name__})")
    return ids


def _encodable(request_id: str, name: str, text: str) -> None:
    """Prompts and salts are hashed and tokenized as UTF-8: a lone surrogate can't be."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ArgumentError(name, f"request {request_id!r}: {name} is not valid text "
                            f"({e.reason} at index {e.start})") from None


def _token_ids(request_id: str, value: object, vocab_size: int) -> list[int]:
    if type(value) is not list and (isinstance(value, (str, bytes))
                                    or not isinstance(value, Iterable)):
        raise ArgumentTypeError("prompt_token_ids", f"request {request_id!r}: prompt_token_ids "
                                f"must be a list of token ids, got {shown(value)}")
    token_ids = list(value)
    if not _INT_ONLY.issuperset(map(type, token_ids)):
        for i, t in enumerate(token_ids):
            if not is_int(t):
                raise ArgumentTypeError(
                    "prompt_token_ids", f"request {request_id!r}: prompt_token_ids[{i}] must "
                    f"be a token id (an integer), got {shown(t)} ({type(t).__name__})")
        token_ids = [int(t) for t in token_ids]
    if not _vocabulary(vocab_size).issuperset(token_ids):
        bad = next(t for t in token_ids if not 0 <= t < vocab_size)
        raise ArgumentError("prompt_token_ids", f"request {request_id!r}: token id {shown(bad)} "
                            f"is outside the vocabulary (0..{vocab_size - 1})")
    return token_ids


@functools.lru_cache(maxsize=4)
def _vocabulary(vocab_size: int) -> frozenset[int]:
    """Every token id: a set test checks a prompt in one C loop (types are checked first)."""
    return frozenset(range(vocab_size))
