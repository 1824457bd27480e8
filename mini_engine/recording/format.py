"""The recording format, version 2: one pydantic model per JSONL line, and its JSON Schema.

A file is a header line, one line per frame (frame 0: what was emitted before the
first step; frame s: the engine's record of step s and what was emitted after it),
and a final line. Everything in it is what an engine emitted (events.py), named as
vLLM names it, so a producer other than mini_engine (a capture of a real vLLM
server) can write it. docs/recording-format.md describes every field.

Every field has a strict type (no "5" for 5, no 1.0 or true for an integer, no NaN
or infinity) and bounds that fit what reads it: counts are non-negative 64-bit
integers, token ids are in the tokenizer's vocabulary, fractions are in 0..1, frame
numbers are at most MAX_RECORDED_STEPS. What depends on other lines (a block id below
the header's `num_gpu_blocks`, a request id the header declares, a request's status
before an event) is checked by `checks.FrameChecker` while loading.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.recording.limits import MAX_RECORDED_STEPS

FORMAT = "mini-engine-recording"
VERSION = 2

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1
INT32_MAX = 2 ** 31 - 1
TOKEN_MAX = ByteTokenizer.vocab_size - 1  # the last token id (EOS): prompts and samples

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Positive = Annotated[int, Field(ge=1, le=INT64_MAX)]
TokenId = Annotated[int, Field(ge=0, le=TOKEN_MAX)]
StopTokenId = Annotated[int, Field(ge=0, le=INT32_MAX)]  # may lie outside the vocabulary
StepNumber = Annotated[int, Field(ge=0, le=MAX_RECORDED_STEPS)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
RequestId = Annotated[str, Field(min_length=1)]
# Block 0 is vLLM's null block and never appears; the upper bound is the header's count.
BlockIds = list[Annotated[int, Field(ge=1, le=INT64_MAX)]]
FINISHED_STATUSES = ("FINISHED_STOPPED", "FINISHED_LENGTH", "FINISHED_ABORTED", "FINISHED_IGNORED",
                     "FINISHED_LENGTH_CAPPED")
LIVE_STATUSES = ("WAITING", "RUNNING", "PREEMPTED")
StopReason = Literal["budget", "max_num_seqs", "kv_cache", "budget_unchunked", "preemption"]


class _Line(BaseModel):
    model_config = _STRICT


# ----------------------------------------------------------------------------- events

class Queued(_Line):
    kind: Literal["queued"]
    request_id: RequestId
    num_prompt_tokens: Positive
    position: Literal["back", "sorted"]


class Ignored(_Line):
    kind: Literal["ignored"]
    request_id: RequestId
    reason: str


class Admitted(_Line):
    kind: Literal["admitted"]
    request_id: RequestId
    num_computed_tokens: Count
    num_cached_tokens: Count
    resumed: bool


class Preempted(_Line):
    kind: Literal["preempted"]
    request_id: RequestId
    num_tokens_lost: Count
    kv_cache_usage_before: Fraction
    kv_cache_usage_after: Fraction
    position: Literal["front", "sorted"]
    cause: Literal["schedule", "reset_prefix_cache"]


class Finished(_Line):
    kind: Literal["finished"]
    request_id: RequestId
    # The length stop is FINISHED_LENGTH, or vLLM's FINISHED_LENGTH_CAPPED with vllm_compat.
    status: Literal["FINISHED_STOPPED", "FINISHED_LENGTH", "FINISHED_ABORTED",
                    "FINISHED_LENGTH_CAPPED"]
    reason: Literal["stop", "length", "abort"] | None
    stop_reason: StopTokenId | str | None
    prev_status: Literal[LIVE_STATUSES]  # type: ignore[valid-type]


class AdmissionStopped(_Line):
    kind: Literal["admission_stopped"]
    reason: StopReason
    request_id: RequestId | None
    detail: str
    rest: StopReason | Literal["head_of_line"]


class BlocksAllocated(_Line):
    kind: Literal["blocks_allocated"]
    request_id: RequestId
    block_ids: BlockIds


class BlocksHit(_Line):
    kind: Literal["blocks_hit"]
    request_id: RequestId
    block_ids: BlockIds


class BlocksFreed(_Line):
    kind: Literal["blocks_freed"]
    request_id: RequestId
    block_ids: BlockIds


class BlocksCached(_Line):
    kind: Literal["blocks_cached"]
    request_id: RequestId
    block_ids: BlockIds
    block_hashes: list[Int64]


class BlocksEvicted(_Line):
    kind: Literal["blocks_evicted"]
    request_id: RequestId
    block_ids: BlockIds


class CacheCleared(_Line):
    kind: Literal["cache_cleared"]


Event = Annotated[Union[Queued, Ignored, Admitted, Preempted, Finished, AdmissionStopped,
                        BlocksAllocated, BlocksHit, BlocksFreed, BlocksCached, BlocksEvicted,
                        CacheCleared], Field(discriminator="kind")]


# ----------------------------------------------------------------------------- header

class Producer(_Line):
    name: str
    version: str


class EngineSettings(_Line):
    """EngineConfig's fields, with vLLM's names; EngineConfig itself checks their bounds."""

    max_num_batched_tokens: Positive
    max_num_seqs: Positive
    long_prefill_token_threshold: Count
    enable_chunked_prefill: bool
    block_size: Positive
    num_gpu_blocks: Annotated[int, Field(ge=2, le=INT64_MAX)]
    enable_prefix_caching: bool
    max_model_len: Positive
    policy: Literal["fcfs", "priority"]
    vllm_compat: bool = False  # written only when on


class SamplingParamsLine(_Line):
    """SamplingParams' fields (SamplingParams itself checks how they combine)."""

    max_tokens: Positive
    min_tokens: Count = 0
    temperature: Annotated[float, Field(ge=0.0)] = 1.0
    seed: Int64 | None = None
    ignore_eos: bool = False
    eos_token_id: StopTokenId | None = None
    stop_token_ids: list[StopTokenId] = []
    prompt_logprobs: Annotated[int, Field(ge=-1, le=INT64_MAX)] | None = None
    skip_reading_prefix_cache: bool | None = None


class RequestHeader(_Line):
    """A request as the producer knew it when it arrived: a prompt (text, one token per
    UTF-8 byte) or its token ids, never both."""

    request_id: RequestId
    prompt: Annotated[str, Field(min_length=1)] | None = None
    prompt_token_ids: Annotated[list[TokenId], Field(min_length=1)] | None = None
    sampling_params: SamplingParamsLine
    priority: Int64 = 0
    arrival_step: Count = 0
    cache_salt: str | None = None


class ModelLine(_Line):
    """Which model sampled the tokens (spec.ModelSpec)."""

    kind: Literal["toy", "last_plus_pos", "constant"] = "toy"
    seed: Count = 0
    modulus: Annotated[int, Field(ge=1, le=TOKEN_MAX + 1)] = 256
    value: TokenId = 0


class ScenarioEventLine(_Line):
    """A timed action (spec.ScenarioEvent): abort a request, or reset the prefix cache."""

    step: Count
    action: Literal["abort", "reset_prefix_cache"]
    request_id: RequestId | None = None
    reset_running_requests: bool = False


class ExpectLine(_Line):
    statuses: dict[str, Literal[FINISHED_STATUSES]] = {}  # type: ignore[valid-type]
    total_steps: Count | None = None
    num_preemptions: Count | None = None


class GenerateLine(_Line):
    """The scenario's generate block as written (its requests are in `requests` already)."""

    count: Positive
    seed: Count = 0
    prompt_len: Annotated[list[Positive], Field(min_length=2, max_length=2)] = [8, 64]
    max_tokens: Annotated[list[Positive], Field(min_length=2, max_length=2)] = [4, 64]
    arrival_rate: Annotated[float, Field(gt=0.0)] | None = None
    shared_prefix_fraction: Fraction = 0.0
    shared_prefix_len: Count = 0
    ignore_eos: bool = True
    id_prefix: str = "gen-"


class ScenarioLine(_Line):
    name: str
    description: str
    model: ModelLine = ModelLine()
    events: list[ScenarioEventLine] = []
    expect: ExpectLine | None = None
    generate: GenerateLine | None = None
    source: str | None = None


class Header(_Line):
    format: Literal["mini-engine-recording"]
    version: Literal[2]
    producer: Producer
    engine: EngineSettings
    requests: list[RequestHeader]
    scenario: ScenarioLine


# ----------------------------------------------------------------------------- frames

class AtSchedule(_Line):
    """What schedule() saw when it finished deciding (before the step's finishes freed blocks)."""

    num_free_blocks: Count
    kv_cache_usage: Fraction
    token_budget_left: Count
    num_running: Count
    num_waiting: Count


class Stats(_Line):
    """vLLM's SchedulerStats after the step (before the arrivals and aborts that follow it)."""

    num_free_blocks: Count
    kv_cache_usage: Fraction
    num_running: Count
    num_waiting: Count
    prefix_cache_queries: Count
    prefix_cache_hits: Count
    num_preemptions: Count


class Step(_Line):
    """One frame. Frame 0 has only `after`; a scheduled entry is [request_id, tokens, sampled token or null]."""

    step: StepNumber
    scheduled: list[tuple[RequestId, Positive, TokenId | None]] = []
    events: list[Event] = []
    after: list[Event] = []
    finished: list[RequestId] = []
    at_schedule: AtSchedule | None = None
    stats: Stats | None = None


class Final(_Line):
    num_steps: StepNumber
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
