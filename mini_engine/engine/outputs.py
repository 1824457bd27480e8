"""The records that cross the scheduler / model boundary each step, named as vLLM's."""

from __future__ import annotations

from dataclasses import dataclass, field

from mini_engine.engine.core.kv_cache_utils import PrefixCacheStats


@dataclass
class ModelRunnerOutput:
    """Sampled tokens, aligned with `req_ids` (the scheduled requests, in order).

    A request in the middle of a chunked prefill gets an empty list, as vLLM's runner discards it.
    """

    req_ids: list[str]
    sampled_token_ids: list[list[int]]

    @property
    def req_id_to_index(self) -> dict[str, int]:
        return {rid: i for i, rid in enumerate(self.req_ids)}


class OneTokenEachOutput(ModelRunnerOutput):
    """`LLMEngine.step`'s fast form of a ModelRunnerOutput where every scheduled request
    sampled exactly one token: the tokens flat and the `Request` objects, aligned with
    `req_ids`, so no one-element list per request is built; `sampled_token_ids` is
    materialized only if someone reads it.
    """

    def __init__(self, req_ids: list[str], requests: list, tokens: list[int]) -> None:
        self.req_ids = req_ids
        self.requests = requests
        self.tokens = tokens

    @property
    def sampled_token_ids(self) -> list[list[int]]:
        return [[t] for t in self.tokens]


class SomeSampledOutput(OneTokenEachOutput):
    """The fast form for a step with partial prefills: `requests` / `tokens` are the rows
    that sampled (one token each, in scheduled order), `sampled` is aligned with `req_ids`
    (None for a partial prefill, which samples nothing)."""

    def __init__(self, req_ids: list[str], requests: list, tokens: list[int],
                 sampled: list[int | None]) -> None:
        super().__init__(req_ids, requests, tokens)
        self.sampled = sampled

    @property
    def sampled_token_ids(self) -> list[list[int]]:
        return [[t] if t is not None else [] for t in self.sampled]


@dataclass
class SchedulerStats:
    """Per-step scheduler state, measured after the step's updates (vLLM stats.py)."""

    step_counter: int
    num_running_reqs: int
    num_waiting_reqs: int
    kv_cache_usage: float
    prefix_cache_stats: PrefixCacheStats
    num_preemptions: int  # preemptions in this step


@dataclass
class EngineCoreOutputs:
    """What `update_from_output` returns: requests that finished, and the step's stats."""

    finished_requests: list
    scheduler_stats: SchedulerStats


@dataclass
class RequestOutput:
    """What `LLMEngine.generate` returns per prompt."""

    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    token_ids: list[int]
    text: str
    finish_reason: str | None
    status: str
    stop_reason: int | str | None
    num_cached_tokens: int
