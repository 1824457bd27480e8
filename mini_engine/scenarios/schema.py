"""The scenario file's schema: strict pydantic models of every section, and its JSON Schema.

Strict types (no "5" -> 5 coercion, booleans are not integers); unknown keys are
errors with a "did you mean" hint. The validators raise `FieldError` for a location
below the model, so the loader can point at the right line of the YAML file.
The loader (`loader.py`) turns a validated `ScenarioFile` into a `Scenario` (spec.py).

Request-level numbers are bounded so that every accepted value fits what the engine and
its recordings store, and no run is endless by construction: seeds and priorities in
int64, token counts in int32, and steps (arrival_step, an event's step, total_steps, the
arrivals a generate block's arrival_rate implies) at most MAX_SCENARIO_STEP = 1,000,000
(recording/limits.py's MAX_RECORDED_STEPS: a run is never recorded past it). Engine
settings are EngineConfig's to validate (one path for YAML, `--set` and the API).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from mini_engine.engine.config import (INT32_MAX, INT64_MAX, INT64_MIN, MAX_NUM_GPU_BLOCKS,
                                       ConfigError, EngineConfig)
from mini_engine.engine.request import RequestStatus
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.scenarios.error import echo
from mini_engine.scenarios.spec import ScenarioEvent

__all__ = ["FieldError", "ScenarioFile", "EngineSection", "ModelSection", "ToyModelSection",
           "LastPlusPosSection", "ConstantSection", "RequestSection", "EventSection",
           "ResetPrefixCacheSection", "UNION_TAGS",
           "GenerateSection", "ExpectSection", "MODEL_RULES", "MAX_REQUESTS", "MAX_SCENARIO_STEP",
           "INT32_MAX", "INT64_MAX", "INT64_MIN"]

MAX_GENERATED_TOKENS = 20_000_000  # generate.count * longest prompt
MAX_REQUESTS = 100_000  # listed in `requests` (a generate block's count has the same bound)
MAX_SCENARIO_STEP = 1_000_000  # arrivals and events: a run is recorded for at most this many
TOKEN_MAX = ByteTokenizer.vocab_size - 1  # 256 is EOS; prompts may use 0..256 as the engine does
FINISHED_STATUS_NAMES = tuple(s.name for s in RequestStatus if RequestStatus.is_finished(s))
MODEL_RULES = ("toy", "last_plus_pos", "constant")
_ENGINE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(EngineConfig)}


class FieldError(ValueError):
    """Raised inside the models' validators: a message for a location below the model."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = tuple(loc)
        self.message = message


TokenId = Annotated[int, Field(ge=0, le=TOKEN_MAX)]
PosInt = Annotated[int, Field(ge=1, le=INT32_MAX)]
Seed = Annotated[int, Field(ge=0, le=INT64_MAX)]
Step = Annotated[int, Field(ge=0, le=MAX_SCENARIO_STEP)]
IntRange = Annotated[list[PosInt], Field(min_length=2, max_length=2,
                                         description="[min, max], both inclusive")]


_KNOWN_KEYS: dict[type, frozenset] = {}  # each section's keys (model_fields is slow to ask)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              populate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        """pydantic would reject extra keys too; this adds the "did you mean" hint."""
        if isinstance(data, dict):
            known = _KNOWN_KEYS.get(cls) or _KNOWN_KEYS.setdefault(cls, frozenset(cls.model_fields))
            if data.keys() <= known:
                return data
            allowed = list(cls.model_fields)
            for key in data:
                if key in known:
                    continue
                message = f"unknown key {echo(key)}"
                close = (difflib.get_close_matches(key, allowed, n=1)
                         if isinstance(key, str) and len(key) <= 100 else [])
                if close:
                    message += f"; did you mean {close[0]!r}?"
                else:
                    message += f" (allowed: {', '.join(allowed)})"
                raise FieldError((key,), message)
        return data


def _setting(name: str, description: str | None = None, lo: int | None = None,
             hi: int | None = None, enum: list | None = None) -> Any:
    """An engine setting: its type and default here; its value is EngineConfig's to check
    (one validation path for YAML, `--set` and the API); its bounds are only shown in the
    JSON Schema, for editors."""
    extra = {key: value for key, value in (("minimum", lo), ("maximum", hi), ("enum", enum))
             if value is not None}
    return Field(_ENGINE_DEFAULTS[name], description=description, json_schema_extra=extra or None)


class EngineSection(_Strict):
    """EngineConfig fields, with vLLM's names and EngineConfig's defaults and checks."""

    max_num_batched_tokens: int = _setting("max_num_batched_tokens", "token budget per step",
                                           1, INT32_MAX)
    max_num_seqs: int = _setting("max_num_seqs", "seats: most requests RUNNING at once",
                                 1, INT32_MAX)
    long_prefill_token_threshold: int = _setting(
        "long_prefill_token_threshold",
        "cap on prefill tokens per request per step (0: no cap)", 0, INT32_MAX)
    enable_chunked_prefill: bool = _setting("enable_chunked_prefill")
    block_size: int = _setting("block_size", "tokens per KV block", 1, INT32_MAX)
    num_gpu_blocks: int = _setting("num_gpu_blocks",
                                   "KV blocks, including the reserved null block 0",
                                   2, MAX_NUM_GPU_BLOCKS)
    enable_prefix_caching: bool = _setting("enable_prefix_caching")
    max_model_len: int = _setting("max_model_len", None, 1, INT32_MAX)
    policy: str = _setting("policy", None, enum=["fcfs", "priority"])
    vllm_compat: bool = _setting("vllm_compat",
                                 "follow vLLM 0.33 where the lab differs (README)")

    @model_validator(mode="after")
    def _engine_accepts(self) -> "EngineSection":
        try:
            self.to_config()
        except ConfigError as e:
            raise FieldError((e.field,), e.message) from None
        return self

    def to_config(self) -> EngineConfig:
        return EngineConfig(**self.model_dump())


class ToyModelSection(_Strict):
    """The numpy toy model: printable-ASCII babble that sometimes emits EOS."""

    rule: Literal["toy"] = "toy"
    seed: Seed = 0


class LastPlusPosSection(_Strict):
    """next token = (last token + position) % modulus (the oracle's rule)."""

    rule: Literal["last_plus_pos"]
    modulus: int = Field(256, ge=1, le=TOKEN_MAX + 1)


class ConstantSection(_Strict):
    """Always the same token (handy for EOS and stop-token tests)."""

    rule: Literal["constant"]
    value: TokenId = 0



def _model_rule(value: Any) -> str | None:
    if isinstance(value, dict):
        rule = value.get("rule", "toy")
        return rule if isinstance(rule, str) and rule in MODEL_RULES else None
    if isinstance(value, BaseModel):
        return getattr(value, "rule", None)
    return "toy"  # not a mapping: let the toy variant say "expected a mapping"


ModelSection = Annotated[
    Union[Annotated[ToyModelSection, Tag("toy")],
          Annotated[LastPlusPosSection, Tag("last_plus_pos")],
          Annotated[ConstantSection, Tag("constant")]],
    Discriminator(_model_rule, custom_error_type="model_rule",
                  custom_error_message="rule must be one of 'toy', 'last_plus_pos', 'constant'"),
]


class RequestSection(_Strict):
    id: str | None = Field(None, min_length=1,
                           description="default req-N, N = the request's index in `requests`")
    prompt: str | None = Field(None, min_length=1,
                               description="text, one token per UTF-8 byte")
    prompt_token_ids: list[TokenId] | None = Field(None, min_length=1)
    max_tokens: int = Field(16, ge=1, le=INT32_MAX)
    min_tokens: int = Field(0, ge=0, le=INT32_MAX)
    ignore_eos: bool = False
    eos_token_id: TokenId | None = Field(None, description="null: the tokenizer's EOS (256)")
    stop_token_ids: list[TokenId] = Field(default_factory=list)
    temperature: float = Field(0.0, ge=0.0,
                               description="default 0.0 (greedy) so runs are reproducible")
    seed: Seed | None = None
    priority: int = Field(0, ge=INT64_MIN, le=INT64_MAX,
                          description="policy priority: lower is more urgent")
    arrival_step: Step = Field(0, description="added once this many steps have run")
    cache_salt: str | None = Field(
        None, description="prefix-cache blocks are shared only between requests with the same "
        "salt (vLLM's tenant isolation); null or \"\" = no salt")
    prompt_logprobs: int | None = Field(
        None, ge=-1, le=INT32_MAX,
        description="vLLM's prompt_logprobs (-1: all): none are computed here, "
        "but as in vLLM the request then skips reading the prefix cache")

    @model_validator(mode="after")
    def _check(self) -> "RequestSection":
        if self.prompt is None and self.prompt_token_ids is None:
            raise FieldError((), "give one of prompt or prompt_token_ids")
        if self.prompt is not None and self.prompt_token_ids is not None:
            raise FieldError(("prompt_token_ids",),
                            "give only one of prompt or prompt_token_ids, not both")
        try:
            self.sampling_params()  # made (so checked) once, here
        except (ValueError, TypeError) as e:
            field = getattr(e, "argument", None) or next(
                (f for f in ("min_tokens", "max_tokens", "temperature") if str(e).startswith(f)),
                None)
            raise FieldError((field,) if field in type(self).model_fields else (),
                             str(e)) from None
        return self

    def sampling_params(self) -> SamplingParams:
        """The request's SamplingParams (the one made when the section was validated)."""
        return self.params

    @functools.cached_property
    def params(self) -> SamplingParams:
        return SamplingParams(
            max_tokens=self.max_tokens, min_tokens=self.min_tokens,
            temperature=self.temperature, seed=self.seed, ignore_eos=self.ignore_eos,
            eos_token_id=self.eos_token_id, stop_token_ids=list(self.stop_token_ids),
            prompt_logprobs=self.prompt_logprobs)


class ResetPrefixCacheSection(_Strict):
    reset_running_requests: bool = Field(
        False, description="preempt the running requests first (listed as preempted by the "
        "next step, which resumes them if they fit); without it the reset is refused while "
        "any request holds KV blocks")


def _reset_form(value: Any) -> str:
    return "options" if isinstance(value, (dict, BaseModel)) else "flag"


RESET_PREFIX_CACHE_FORMS = ("flag", "options")
ResetPrefixCacheValue = Annotated[
    Union[Annotated[bool, Tag("flag")], Annotated[ResetPrefixCacheSection, Tag("options")]],
    Discriminator(_reset_form),
]
# Union tags pydantic puts in an error's path (they are not keys of the file).
UNION_TAGS = MODEL_RULES + RESET_PREFIX_CACHE_FORMS


class EventSection(_Strict):
    """One action at a step: `abort: ID` or `reset_prefix_cache: true | {reset_running_requests}`."""

    model_config = ConfigDict(json_schema_extra={
        "oneOf": [{"required": ["abort"]}, {"required": ["reset_prefix_cache"]}]})

    step: Step = Field(description="applied once this many steps have run")
    abort: str | None = Field(None, min_length=1, description="the request id to abort")
    reset_prefix_cache: ResetPrefixCacheValue | None = Field(
        None, description="forget every cached block hash (vLLM's reset_prefix_cache)")

    @model_validator(mode="after")
    def _check(self) -> "EventSection":
        if (self.abort is None) == (self.reset_prefix_cache is None):
            raise FieldError((), "give exactly one of abort or reset_prefix_cache")
        if self.reset_prefix_cache is False:
            raise FieldError(("reset_prefix_cache",),
                             "reset_prefix_cache: false does nothing; use true or "
                             "{reset_running_requests: true}")
        return self

    def to_event(self) -> "ScenarioEvent":
        if self.abort is not None:
            return ScenarioEvent(step=self.step, action="abort", request_id=self.abort)
        reset = self.reset_prefix_cache
        running = isinstance(reset, ResetPrefixCacheSection) and reset.reset_running_requests
        return ScenarioEvent(step=self.step, action="reset_prefix_cache",
                             reset_running_requests=running)


class GenerateSection(_Strict):
    """Many requests from a seed (numpy default_rng), appended after the explicit ones."""

    count: int = Field(ge=1, le=MAX_REQUESTS)
    seed: Seed = 0
    prompt_len: IntRange = Field(default_factory=lambda: [8, 64])
    max_tokens: IntRange = Field(default_factory=lambda: [4, 64])
    arrival_rate: float | None = Field(
        None, gt=0, description="mean requests per step (exponential gaps); null: all at step 0")
    shared_prefix_fraction: float = Field(0.0, ge=0.0, le=1.0)
    shared_prefix_len: int = Field(0, ge=0)
    ignore_eos: bool = True
    id_prefix: str = "gen-"

    @model_validator(mode="after")
    def _check(self) -> "GenerateSection":
        for name in ("prompt_len", "max_tokens"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise FieldError((name,), f"min ({lo}) must be <= max ({hi})")
        if self.shared_prefix_fraction > 0:
            if self.shared_prefix_len < 1:
                raise FieldError(("shared_prefix_len",),
                                "must be >= 1 when shared_prefix_fraction > 0")
            if self.shared_prefix_len >= self.prompt_len[0]:
                raise FieldError(("shared_prefix_len",),
                                f"({self.shared_prefix_len}) must be smaller than the shortest "
                                f"prompt (prompt_len min {self.prompt_len[0]})")
        if (self.arrival_rate is not None
                and self.arrival_rate * MAX_SCENARIO_STEP < self.count):
            raise FieldError(("arrival_rate",), f"({self.arrival_rate:g}) is too low: "
                             f"{self.count} requests would arrive over about "
                             f"{self.count / self.arrival_rate:.3g} steps, past the limit of "
                             f"{MAX_SCENARIO_STEP:,} (MAX_SCENARIO_STEP); use at least "
                             f"{self.count / MAX_SCENARIO_STEP:g}")
        if self.count * self.prompt_len[1] > MAX_GENERATED_TOKENS:
            raise FieldError(("count",), f"count * prompt_len max must be <= "
                                        f"{MAX_GENERATED_TOKENS} prompt tokens")
        return self

    def request_ids(self) -> list[str]:
        return [f"{self.id_prefix}{k}" for k in range(self.count)]


class ExpectSection(_Strict):
    statuses: dict[str, Literal[FINISHED_STATUS_NAMES]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="request id -> final status")
    total_steps: Step | None = Field(None, description="engine steps, idle ones included")
    num_preemptions: int | None = Field(None, ge=0, le=INT64_MAX,
                                        description="preemptions in the whole run")


class ScenarioFile(_Strict):
    """A mini-engine scenario: engine settings, model, requests, timed events, expectations."""

    model_config = ConfigDict(title="mini-engine scenario")

    name: str = Field(min_length=1)
    description: str = Field(min_length=1, description="what to look at, and why")
    engine: EngineSection = Field(default_factory=EngineSection)
    model: ModelSection = Field(default_factory=ToyModelSection)
    requests: list[RequestSection] = Field(default_factory=list, max_length=MAX_REQUESTS)
    events: list[EventSection] = Field(default_factory=list)
    generate: GenerateSection | None = None
    expect: ExpectSection | None = None

    @model_validator(mode="after")
    def _check(self) -> "ScenarioFile":
        if not self.requests and self.generate is None:
            raise FieldError(("requests",),
                            "the scenario has no requests: give a requests list or a generate block")
        first_use: dict[str, int] = {}
        for i, rid in enumerate(self.request_ids()[:len(self.requests)]):
            if rid in first_use:
                loc = ("requests", i, "id")
                raise FieldError(loc, f"duplicate request id {echo(rid)} "
                                     f"(already used by requests[{first_use[rid]}])")
            first_use[rid] = i
        if self.generate is not None:
            for gid in self.generate.request_ids():
                if gid in first_use:
                    raise FieldError(("generate", "id_prefix"),
                                    f"generated id {echo(gid)} collides with "
                                    f"requests[{first_use[gid]}]")
        known = set(self.request_ids())
        for i, event in enumerate(self.events):
            if event.abort is not None and event.abort not in known:
                raise FieldError(("events", i, "abort"),
                                f"unknown request {echo(event.abort)}"
                                f"{_did_you_mean(event.abort, known)}")
        if self.expect is not None:
            for rid in self.expect.statuses:
                if rid not in known:
                    raise FieldError(("expect", "statuses", rid),
                                    f"unknown request {echo(rid)}{_did_you_mean(rid, known)}")
        return self

    def request_ids(self) -> list[str]:
        ids = [r.id if r.id is not None else f"req-{i}" for i, r in enumerate(self.requests)]
        if self.generate is not None:
            ids += self.generate.request_ids()
        return ids


def _did_you_mean(word: str, choices) -> str:
    if len(word) > 100:
        return ""
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {echo(close[0])}?" if close else ""
