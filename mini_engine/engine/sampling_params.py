"""`SamplingParams`: how many tokens to generate and when to stop (vLLM's names and defaults).

Every field is checked when the object is made, and again by `LLMEngine.add_request`
(the dataclass is mutable): a wrong type raises `ArgumentTypeError` (a TypeError), a
value out of range `ArgumentError` (a ValueError), each naming the field first. The
bounds (engine/config.py) keep every value within what the engine and its recordings
store: counts and token ids in int32, seeds in int64, a temperature the float32 sampler
can divide by.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mini_engine.engine.config import (INT32_MAX, INT64_MAX, INT64_MIN, MAX_TEMPERATURE,
                                       MAX_TOKEN_ID, MIN_TEMPERATURE)
from mini_engine.engine.errors import ArgumentError, ArgumentTypeError
from mini_engine.engine.validation import (argument_error, argument_type_error, check_bool,
                                           check_int, check_real, is_int, shown)


@dataclass
class SamplingParams:
    max_tokens: int = 16
    min_tokens: int = 0
    temperature: float = 1.0
    seed: int | None = None
    ignore_eos: bool = False
    eos_token_id: int | None = None  # None -> the tokenizer's EOS
    stop_token_ids: list[int] = field(default_factory=list)
    # Log-probabilities of the prompt tokens: None (off), -1 (the whole vocabulary) or a
    # count; True means 1. The toy engine computes none, but as in vLLM such a request
    # must compute every prompt token itself, so it skips reading the prefix cache
    # (its own blocks are still cached for others).
    prompt_logprobs: int | None = None
    # None: derived from prompt_logprobs (vLLM sampling_params.py __post_init__).
    skip_reading_prefix_cache: bool | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field (normalizing numpy integers to int, temperature to float);
        idempotent, so `add_request` re-runs it on parameters changed after creation."""
        if self._plainly_valid():
            return
        self.max_tokens = _count("max_tokens", self.max_tokens, 1, "must be at least 1")
        self.min_tokens = _count("min_tokens", self.min_tokens, 0, "must be >= 0")
        if self.min_tokens > self.max_tokens:
            raise argument_error("min_tokens", f"({self.min_tokens}) must be <= max_tokens "
                                 f"({self.max_tokens})")
        self.temperature = _temperature(self.temperature)
        if self.seed is not None:
            self.seed = check_int("seed", self.seed, INT64_MIN, INT64_MAX,
                                  what="an integer or None")
        self.ignore_eos = check_bool("ignore_eos", self.ignore_eos)
        if self.eos_token_id is not None:
            self.eos_token_id = check_int("eos_token_id", self.eos_token_id, 0, MAX_TOKEN_ID,
                                          what="a token id (an integer) or None")
        self.stop_token_ids = _token_ids("stop_token_ids", self.stop_token_ids)
        self._check_prompt_logprobs()
        if self.skip_reading_prefix_cache is None:
            self.skip_reading_prefix_cache = self.prompt_logprobs is not None
        elif not isinstance(self.skip_reading_prefix_cache, bool):
            raise argument_type_error(
                "skip_reading_prefix_cache",
                f"must be True, False or None, got {shown(self.skip_reading_prefix_cache)}")

    def _plainly_valid(self) -> bool:
        """Every field already of its plain type and in range (what a validated object
        holds): the cheap test `add_request` passes for almost every request."""
        t, seed, eos, n = self.temperature, self.seed, self.eos_token_id, self.prompt_logprobs
        return (type(self.max_tokens) is int and type(self.min_tokens) is int
                and 0 <= self.min_tokens <= self.max_tokens <= INT32_MAX and self.max_tokens >= 1
                and type(t) is float and (t == 0.0 or MIN_TEMPERATURE <= t <= MAX_TEMPERATURE)
                and (seed is None or (type(seed) is int and INT64_MIN <= seed <= INT64_MAX))
                and type(self.ignore_eos) is bool
                and (eos is None or (type(eos) is int and 0 <= eos <= MAX_TOKEN_ID))
                and type(self.stop_token_ids) is list
                and all(type(i) is int and 0 <= i <= MAX_TOKEN_ID for i in self.stop_token_ids)
                and (n is None or (type(n) is int and -1 <= n <= INT32_MAX))
                and type(self.skip_reading_prefix_cache) is bool)

    def _check_prompt_logprobs(self) -> None:
        """vLLM's rule: None, -1, or an int >= 0 (True is read as 1)."""
        n = self.prompt_logprobs
        if n is True:
            self.prompt_logprobs = 1
        elif n is not None:
            message = f"must be None, -1 (all) or an integer >= 0, got {shown(n)}"
            if not is_int(n):
                raise argument_type_error("prompt_logprobs", message)
            if not -1 <= n <= INT32_MAX:
                raise argument_error("prompt_logprobs", message if n < -1 else
                                     f"must be at most {INT32_MAX}, got {shown(n)}")
            self.prompt_logprobs = int(n)


def _count(name: str, value: object, lo: int, too_small: str) -> int:
    """A token count in [lo, INT32_MAX]; below `lo` the message is the historical one."""
    if is_int(value) and value < lo:
        raise argument_error(name, f"{too_small}, got {shown(value)}")
    return check_int(name, value, lo, INT32_MAX)


def _temperature(value: object) -> float:
    t = check_real("temperature", value)
    if t < 0:
        raise argument_error("temperature", f"must be >= 0, got {shown(value)}")
    if t and not MIN_TEMPERATURE <= t <= MAX_TEMPERATURE:
        raise argument_error("temperature", f"must be 0 (greedy) or between {MIN_TEMPERATURE} "
                             f"and {MAX_TEMPERATURE:g}, got {shown(value)}")
    return t


def _token_ids(name: str, value: object) -> list[int]:
    """A list of token ids (any iterable of integers; None is the empty list)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise argument_type_error(name, f"must be a list of token ids, got {shown(value)}")
    # The message names the entry (stop_token_ids[2]), the error's `argument` the list.
    return [check_int(f"{name}[{i}]", t, 0, MAX_TOKEN_ID, what="a token id (an integer)",
                      value_error=lambda n, m: ArgumentError(name, f"{n} {m}"),
                      type_error=lambda n, m: ArgumentTypeError(name, f"{n} {m}"))
            for i, t in enumerate(value)]
