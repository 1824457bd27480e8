"""`SamplingParams`: how many tokens to generate and when to stop (vLLM's names and defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.min_tokens < 0:
            raise ValueError(f"min_tokens must be >= 0, got {self.min_tokens}")
        if self.min_tokens > self.max_tokens:
            raise ValueError(
                f"min_tokens ({self.min_tokens}) must be <= max_tokens ({self.max_tokens})")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        self.stop_token_ids = list(self.stop_token_ids or [])
        self._check_prompt_logprobs()
        if self.skip_reading_prefix_cache is None:
            self.skip_reading_prefix_cache = self.prompt_logprobs is not None
        elif not isinstance(self.skip_reading_prefix_cache, bool):
            raise ValueError("skip_reading_prefix_cache must be True, False or None, "
                             f"got {self.skip_reading_prefix_cache!r}")

    def _check_prompt_logprobs(self) -> None:
        """vLLM's rule: None, -1, or an int >= 0 (True is read as 1)."""
        n = self.prompt_logprobs
        if n is True:
            self.prompt_logprobs = 1
        elif n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < -1):
            raise ValueError(
                f"prompt_logprobs must be None, -1 (all) or an integer >= 0, got {n!r}")
