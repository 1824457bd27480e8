"""Capture lines: a recording (format v2) written by a recorder inside a real vLLM server.

A capture cannot know its requests up front (they arrive while it runs) nor every
event mini_engine emits, so it has its own line models: a header with `"kind":
"capture"` (the source: vLLM X.Y and its scheduler class; the engine settings read
from vLLM's SchedulerConfig/CacheConfig; the settings mini_engine does not model),
one line per step (arrivals, aborts, what was scheduled, preemptions, finishes,
queues, block-table changes, free blocks, KV usage, prefix-cache stats, timings), and
the final line. A field the capture could not read is null: unknown, never zero.
docs/recording-format.md ("Captures") describes every field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mini_engine.recording.format import (Count, EngineSettings, FinalLine, Fraction, Int64,
                                          Positive, Producer, RequestId)
from mini_engine.recording.limits import MAX_RECORDED_STEPS

CAPTURE_KIND = "capture"


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


Micros = Annotated[float, Field(ge=0.0)]
AnyTokenId = Annotated[int, Field(ge=0, le=2 ** 63 - 1)]  # a real model's vocabulary
BlockId = Annotated[int, Field(ge=0, le=2 ** 63 - 1)]


class CaptureSource(_Line):
    name: Literal["vLLM"]
    version: str
    scheduler: str
    parent: str
    log_stats: bool


class CaptureHeader(_Line):
    format: Literal["mini-engine-recording"]
    version: Literal[2]
    kind: Literal["capture"]
    producer: Producer
    source: CaptureSource
    engine: EngineSettings
    unmodelled: dict[str, str | int | float | bool | None]
    token_ids: bool


class Arrival(_Line):
    """A request as it reached the scheduler (added before this step's schedule())."""

    request_id: RequestId
    num_prompt_tokens: Positive
    max_tokens: Positive | None
    min_tokens: Count | None
    ignore_eos: bool | None
    eos_token_id: AnyTokenId | None
    stop_token_ids: list[AnyTokenId] | None
    priority: Int64
    prompt_token_ids: list[AnyTokenId] | None = None
    cache_salt: str | None = None


FinishStatus = Literal["FINISHED_STOPPED", "FINISHED_LENGTH_CAPPED", "FINISHED_ABORTED",
                       "FINISHED_IGNORED", "FINISHED_ERROR", "FINISHED_REPETITION"]


class CaptureStep(_Line):
    step: Annotated[int, Field(ge=1, le=MAX_RECORDED_STEPS)]
    wall_time: float | None
    schedule_us: Micros | None
    update_us: Micros | None
    capture_us: Micros | None
    arrived: list[Arrival]
    aborted: list[tuple[RequestId, FinishStatus]]
    scheduled: dict[str, Positive]  # in SchedulerOutput.num_scheduled_tokens order
    new: list[RequestId]
    resumed: list[RequestId]
    preempted: list[RequestId]
    at_schedule: "CaptureAtSchedule"
    finished: list[tuple[RequestId, FinishStatus, Literal["stop", "length", "abort", "error",
                                                             "repetition"] | None,
                         AnyTokenId | str | None, Count]]
    sampled: dict[str, list[AnyTokenId]] | None = None
    # Block-table changes, in order: [id, replaced, ids]: the table is now `ids` (replaced)
    # or gained them at its end; [id, true, []] frees it.
    blocks: list[tuple[RequestId, bool, list[BlockId]]]
    running: list[RequestId] | None  # null: unchanged since the previous line
    waiting: list[RequestId] | None
    num_free_blocks: Count
    kv_cache_usage: Fraction
    prefix_cache_queries: Count | None
    prefix_cache_hits: Count | None


class CaptureAtSchedule(_Line):
    num_free_blocks: Count
    kv_cache_usage: Fraction


CaptureStep.model_rebuild()

__all__ = ["CAPTURE_KIND", "Arrival", "CaptureHeader", "CaptureStep", "FinalLine"]
