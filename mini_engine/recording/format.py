"""The recording format, version 2: one pydantic model per JSONL line, and its JSON Schema.

A file is a header line, one line per frame (frame 0: what was emitted before the
first step; frame s: the engine's record of step s and what was emitted after it),
and a final line. Everything in it is what an engine emitted (events.py), named as
vLLM names it, so a producer other than mini_engine (a capture of a real vLLM
server) can write it. docs/recording-format.md describes every field.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "mini-engine-recording"
VERSION = 2

_STRICT = ConfigDict(extra="forbid", strict=True)
BlockIds = list[Annotated[int, Field(ge=0)]]


class _Line(BaseModel):
    model_config = _STRICT


# ----------------------------------------------------------------------------- events

class Queued(_Line):
    kind: Literal["queued"]
    request_id: str
    num_prompt_tokens: int
    position: Literal["back", "sorted"]


class Ignored(_Line):
    kind: Literal["ignored"]
    request_id: str
    reason: str


class Admitted(_Line):
    kind: Literal["admitted"]
    request_id: str
    num_computed_tokens: int
    num_cached_tokens: int
    resumed: bool


class Preempted(_Line):
    kind: Literal["preempted"]
    request_id: str
    num_tokens_lost: int
    kv_cache_usage_before: float
    kv_cache_usage_after: float
    position: Literal["front", "sorted"]
    cause: Literal["schedule", "reset_prefix_cache"]


class Finished(_Line):
    kind: Literal["finished"]
    request_id: str
    status: Literal["FINISHED_STOPPED", "FINISHED_LENGTH", "FINISHED_ABORTED"]
    reason: str | None
    stop_reason: int | str | None
    prev_status: str


class AdmissionStopped(_Line):
    kind: Literal["admission_stopped"]
    reason: Literal["budget", "max_num_seqs", "kv_cache", "budget_unchunked", "preemption"]
    request_id: str | None
    detail: str
    rest: str


class BlocksAllocated(_Line):
    kind: Literal["blocks_allocated"]
    request_id: str
    block_ids: BlockIds


class BlocksHit(_Line):
    kind: Literal["blocks_hit"]
    request_id: str
    block_ids: BlockIds


class BlocksFreed(_Line):
    kind: Literal["blocks_freed"]
    request_id: str
    block_ids: BlockIds


class BlocksCached(_Line):
    kind: Literal["blocks_cached"]
    request_id: str
    block_ids: BlockIds
    block_hashes: list[int]


class BlocksEvicted(_Line):
    kind: Literal["blocks_evicted"]
    request_id: str
    block_ids: BlockIds


class CacheCleared(_Line):
    kind: Literal["cache_cleared"]


Event = Annotated[Union[Queued, Ignored, Admitted, Preempted, Finished, AdmissionStopped,
                        BlocksAllocated, BlocksHit, BlocksFreed, BlocksCached, BlocksEvicted,
                        CacheCleared], Field(discriminator="kind")]


# ----------------------------------------------------------------------------- lines

class Producer(_Line):
    name: str
    version: str


class RequestHeader(_Line):
    """A request as the producer knew it when it arrived."""

    request_id: str
    prompt: str | None = None
    prompt_token_ids: list[int] | None = None
    sampling_params: dict
    priority: int = 0
    arrival_step: int = Field(0, ge=0)
    cache_salt: str | None = None


class Header(_Line):
    format: Literal["mini-engine-recording"]
    version: Literal[2]
    producer: Producer
    engine: dict  # engine settings, vLLM's names (EngineConfig)
    requests: list[RequestHeader]
    scenario: dict  # name, description, model, events, expect, generate, source


class AtSchedule(_Line):
    """What schedule() saw when it finished deciding (before the step's finishes freed blocks)."""

    num_free_blocks: int
    kv_cache_usage: float
    token_budget_left: int
    num_running: int
    num_waiting: int


class Stats(_Line):
    """vLLM's SchedulerStats after the step (before the arrivals and aborts that follow it)."""

    num_free_blocks: int
    kv_cache_usage: float
    num_running: int
    num_waiting: int
    prefix_cache_queries: int
    prefix_cache_hits: int
    num_preemptions: int


class Step(_Line):
    """One frame. Frame 0 has only `after`; a scheduled entry is [request_id, tokens, sampled token or null]."""

    step: int = Field(ge=0)
    scheduled: list[tuple[str, Annotated[int, Field(ge=1)], int | None]] = []
    events: list[Event] = []
    after: list[Event] = []
    finished: list[str] = []
    at_schedule: AtSchedule | None = None
    stats: Stats | None = None


class Final(_Line):
    num_steps: int
    complete: bool


class FinalLine(_Line):
    final: Final


def recording_json_schema() -> dict:
    """The JSON Schema of a recording's lines (`mini-engine schema --recording`)."""
    defs: dict = {}
    refs = []
    for model in (Header, Step, FinalLine):
        schema = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[model.__name__] = schema
        refs.append({"$ref": f"#/$defs/{model.__name__}"})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{FORMAT} version {VERSION}: one JSON object per line",
        "description": "Line 1 is a Header, then one Step per frame (0, 1, 2, ...), "
                       "then one FinalLine.",
        "oneOf": refs,
        "$defs": defs,
    }
