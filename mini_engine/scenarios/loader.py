"""Scenario YAML files -> `Scenario` (scenario.py), with one clear error line for every bad input.

Validation is done by the pydantic models below (strict types: no "5" -> 5 coercion,
booleans are not integers; unknown keys are errors, with a "did you mean" hint); the
same models export the JSON Schema (`scenario_json_schema()`, `mini-engine schema`).
YAML is read with PyYAML's SafeLoader only. The file is first *composed* into a node
tree (which keeps line numbers), checked for duplicate keys, recursive aliases and
alias bombs, then constructed and validated; a pydantic error's location path
(`("requests", 2, "max_tokens")`) is walked through the node tree to find its line.

Any problem raises exactly one `ScenarioError` (the first one, in file order), whose
`str()` is a single line `path:line: field: message`.

The format (every key is in the JSON Schema, with its default):

    name: str                      # required
    description: str               # required: what to look at, and why
    engine: {EngineConfig fields}  # vLLM names, EngineConfig's defaults
    model: {seed: 0}               # toy model (default) | {rule: last_plus_pos, modulus: 256}
                                   #                     | {rule: constant, value: N}
    requests:                      # each: id (default req-N, N = index in this list),
      - prompt: "hello"            # exactly one of prompt / prompt_token_ids, max_tokens (16),
        max_tokens: 4              # min_tokens (0), ignore_eos (false), eos_token_id (null =
                                   # tokenizer EOS 256), stop_token_ids ([]), temperature
                                   # (0.0: greedy, unlike SamplingParams' 1.0, so runs are
                                   # reproducible and readable), seed, priority (0), arrival_step (0)
    events: [{step: 3, abort: req-0}]   # applied once `step` steps have run
    generate: {count, seed, prompt_len: [min, max], max_tokens: [min, max], arrival_rate,
               shared_prefix_fraction, shared_prefix_len, ignore_eos, id_prefix}
    expect: {statuses: {id: FINISHED_...}, total_steps: N, num_preemptions: N}
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import numpy as np
import yaml
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError,
                      model_validator)

from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.engine.request import RequestStatus
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.scenarios.spec import (Expect, GenerateSpec, ModelSpec, RequestSpec, Scenario, ScenarioEvent)
from mini_engine.engine.tokenizer import ByteTokenizer

__all__ = ["ScenarioError", "load_scenario", "load_scenario_text", "scenario_json_schema",
           "ScenarioFile"]

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_ALIAS_NODES = 100_000  # nodes reached again through aliases: stops alias bombs
MAX_GENERATED_TOKENS = 20_000_000  # generate.count * longest prompt
TOKEN_MAX = ByteTokenizer.vocab_size - 1  # 256 is EOS; prompts may use 0..256 as the engine does
FINISHED_STATUS_NAMES = tuple(s.name for s in RequestStatus if RequestStatus.is_finished(s))
_ENGINE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(EngineConfig)}


class ScenarioError(Exception):
    """One bad scenario input: where (`path`, 1-based `line`, dotted `field`) and what (`message`)."""

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        self.message = " ".join(str(message).split())  # always one line
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "<string>"
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class _LocError(ValueError):
    """Raised inside the models' validators: a message for a location below the model."""

    def __init__(self, loc: tuple, message: str) -> None:
        super().__init__(message)
        self.loc = tuple(loc)
        self.message = message


# ---------------------------------------------------------------------- models

TokenId = Annotated[int, Field(ge=0, le=TOKEN_MAX)]
PosInt = Annotated[int, Field(ge=1)]
IntRange = Annotated[list[PosInt], Field(min_length=2, max_length=2,
                                         description="[min, max], both inclusive")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              populate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        """pydantic would reject extra keys too; this adds the "did you mean" hint."""
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key in cls.model_fields:
                    continue
                message = f"unknown key {key!r}"
                close = (difflib.get_close_matches(key, allowed, n=1)
                         if isinstance(key, str) else [])
                if close:
                    message += f"; did you mean {close[0]!r}?"
                else:
                    message += f" (allowed: {', '.join(allowed)})"
                raise _LocError((key,), message)
        return data


class EngineSection(_Strict):
    """EngineConfig fields, with vLLM's names and EngineConfig's defaults."""

    max_num_batched_tokens: int = Field(_ENGINE_DEFAULTS["max_num_batched_tokens"], ge=1,
                                        description="token budget per step")
    max_num_seqs: int = Field(_ENGINE_DEFAULTS["max_num_seqs"], ge=1,
                              description="seats: most requests RUNNING at once")
    long_prefill_token_threshold: int = Field(
        _ENGINE_DEFAULTS["long_prefill_token_threshold"], ge=0,
        description="cap on prefill tokens per request per step (0: no cap)")
    enable_chunked_prefill: bool = _ENGINE_DEFAULTS["enable_chunked_prefill"]
    block_size: int = Field(_ENGINE_DEFAULTS["block_size"], ge=1, description="tokens per KV block")
    num_gpu_blocks: int = Field(_ENGINE_DEFAULTS["num_gpu_blocks"], ge=2, le=1_000_000,
                                description="KV blocks, including the reserved null block 0")
    enable_prefix_caching: bool = _ENGINE_DEFAULTS["enable_prefix_caching"]
    max_model_len: int = Field(_ENGINE_DEFAULTS["max_model_len"], ge=1)
    policy: Literal["fcfs", "priority"] = _ENGINE_DEFAULTS["policy"]

    @model_validator(mode="after")
    def _engine_accepts(self) -> "EngineSection":
        try:
            self.to_config()
        except ConfigError as e:
            raise _LocError((e.field,), e.message) from None
        return self

    def to_config(self) -> EngineConfig:
        return EngineConfig(**self.model_dump())


class ToyModelSection(_Strict):
    """The numpy toy model: printable-ASCII babble that sometimes emits EOS."""

    rule: Literal["toy"] = "toy"
    seed: int = Field(0, ge=0)


class LastPlusPosSection(_Strict):
    """next token = (last token + position) % modulus (the oracle's rule)."""

    rule: Literal["last_plus_pos"]
    modulus: int = Field(256, ge=1, le=TOKEN_MAX + 1)


class ConstantSection(_Strict):
    """Always the same token (handy for EOS and stop-token tests)."""

    rule: Literal["constant"]
    value: TokenId = 0


_MODEL_RULES = ("toy", "last_plus_pos", "constant")


def _model_rule(value: Any) -> str | None:
    if isinstance(value, dict):
        rule = value.get("rule", "toy")
        return rule if isinstance(rule, str) and rule in _MODEL_RULES else None
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
    max_tokens: int = Field(16, ge=1)
    min_tokens: int = Field(0, ge=0)
    ignore_eos: bool = False
    eos_token_id: TokenId | None = Field(None, description="null: the tokenizer's EOS (256)")
    stop_token_ids: list[TokenId] = Field(default_factory=list)
    temperature: float = Field(0.0, ge=0.0,
                               description="default 0.0 (greedy) so runs are reproducible")
    seed: int | None = Field(None, ge=0)
    priority: int = Field(0, description="policy priority: lower is more urgent")
    arrival_step: int = Field(0, ge=0, description="added once this many steps have run")

    @model_validator(mode="after")
    def _check(self) -> "RequestSection":
        if self.prompt is None and self.prompt_token_ids is None:
            raise _LocError((), "give one of prompt or prompt_token_ids")
        if self.prompt is not None and self.prompt_token_ids is not None:
            raise _LocError(("prompt_token_ids",),
                            "give only one of prompt or prompt_token_ids, not both")
        try:
            self.sampling_params()
        except ValueError as e:
            field = next((f for f in ("min_tokens", "max_tokens", "temperature")
                          if str(e).startswith(f)), None)
            raise _LocError((field,) if field else (), str(e)) from None
        return self

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(
            max_tokens=self.max_tokens, min_tokens=self.min_tokens,
            temperature=self.temperature, seed=self.seed, ignore_eos=self.ignore_eos,
            eos_token_id=self.eos_token_id, stop_token_ids=list(self.stop_token_ids))


class EventSection(_Strict):
    step: int = Field(ge=0, description="applied once this many steps have run")
    abort: str = Field(min_length=1, description="the request id to abort")


class GenerateSection(_Strict):
    """Many requests from a seed (numpy default_rng), appended after the explicit ones."""

    count: int = Field(ge=1, le=100_000)
    seed: int = Field(0, ge=0)
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
                raise _LocError((name,), f"min ({lo}) must be <= max ({hi})")
        if self.shared_prefix_fraction > 0:
            if self.shared_prefix_len < 1:
                raise _LocError(("shared_prefix_len",),
                                "must be >= 1 when shared_prefix_fraction > 0")
            if self.shared_prefix_len >= self.prompt_len[0]:
                raise _LocError(("shared_prefix_len",),
                                f"({self.shared_prefix_len}) must be smaller than the shortest "
                                f"prompt (prompt_len min {self.prompt_len[0]})")
        if self.count * self.prompt_len[1] > MAX_GENERATED_TOKENS:
            raise _LocError(("count",), f"count * prompt_len max must be <= "
                                        f"{MAX_GENERATED_TOKENS} prompt tokens")
        return self

    def request_ids(self) -> list[str]:
        return [f"{self.id_prefix}{k}" for k in range(self.count)]


class ExpectSection(_Strict):
    statuses: dict[str, Literal[FINISHED_STATUS_NAMES]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="request id -> final status")
    total_steps: int | None = Field(None, ge=0, description="engine steps, idle ones included")
    num_preemptions: int | None = Field(None, ge=0, description="preemptions in the whole run")


class ScenarioFile(_Strict):
    """A mini-engine scenario: engine settings, model, requests, timed events, expectations."""

    model_config = ConfigDict(title="mini-engine scenario")

    name: str = Field(min_length=1)
    description: str = Field(min_length=1, description="what to look at, and why")
    engine: EngineSection = Field(default_factory=EngineSection)
    model: ModelSection = Field(default_factory=ToyModelSection)
    requests: list[RequestSection] = Field(default_factory=list)
    events: list[EventSection] = Field(default_factory=list)
    generate: GenerateSection | None = None
    expect: ExpectSection | None = None

    @model_validator(mode="after")
    def _check(self) -> "ScenarioFile":
        if not self.requests and self.generate is None:
            raise _LocError(("requests",),
                            "the scenario has no requests: give a requests list or a generate block")
        first_use: dict[str, int] = {}
        for i, rid in enumerate(self.request_ids()[:len(self.requests)]):
            if rid in first_use:
                loc = ("requests", i, "id")
                raise _LocError(loc, f"duplicate request id {rid!r} "
                                     f"(already used by requests[{first_use[rid]}])")
            first_use[rid] = i
        if self.generate is not None:
            for gid in self.generate.request_ids():
                if gid in first_use:
                    raise _LocError(("generate", "id_prefix"),
                                    f"generated id {gid!r} collides with requests[{first_use[gid]}]")
        known = set(self.request_ids())
        for i, event in enumerate(self.events):
            if event.abort not in known:
                raise _LocError(("events", i, "abort"),
                                f"unknown request {event.abort!r}{_did_you_mean(event.abort, known)}")
        if self.expect is not None:
            for rid in self.expect.statuses:
                if rid not in known:
                    raise _LocError(("expect", "statuses", rid),
                                    f"unknown request {rid!r}{_did_you_mean(rid, known)}")
        return self

    def request_ids(self) -> list[str]:
        ids = [r.id if r.id is not None else f"req-{i}" for i, r in enumerate(self.requests)]
        if self.generate is not None:
            ids += self.generate.request_ids()
        return ids


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def scenario_json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a scenario file, for editors and `mini-engine schema`."""
    schema = ScenarioFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# ---------------------------------------------------------------------- building

def expand_generate(gen: GenerateSection) -> list[RequestSpec]:
    """The generate block's requests. Deterministic: one default_rng(seed), draws in a fixed order.

    arrival_step = floor of the running sum of exponential gaps with mean 1/arrival_rate
    (a Poisson process; all 0 without a rate); prompt and max_tokens lengths uniform in
    their inclusive ranges; a `shared_prefix_fraction` of the prompts start with the same
    `shared_prefix_len` tokens; prompt tokens are printable ASCII (32..126).
    """
    rng = np.random.default_rng(gen.seed)
    n = gen.count
    if gen.arrival_rate is None:
        arrivals = np.zeros(n, dtype=np.int64)
    else:
        arrivals = np.floor(np.cumsum(rng.exponential(1.0 / gen.arrival_rate, n))).astype(np.int64)
    prompt_lens = rng.integers(gen.prompt_len[0], gen.prompt_len[1], size=n, endpoint=True)
    max_tokens = rng.integers(gen.max_tokens[0], gen.max_tokens[1], size=n, endpoint=True)
    shared = rng.random(n) < gen.shared_prefix_fraction
    prefix = rng.integers(32, 127, size=gen.shared_prefix_len).tolist()
    tokens = rng.integers(32, 127, size=int(prompt_lens.sum())).tolist()
    specs = []
    offset = 0
    for k, rid in enumerate(gen.request_ids()):
        length = int(prompt_lens[k])
        ids = tokens[offset:offset + length]
        offset += length
        if shared[k]:
            ids[:len(prefix)] = prefix
        specs.append(RequestSpec(
            request_id=rid,
            sampling_params=SamplingParams(max_tokens=int(max_tokens[k]), temperature=0.0,
                                           ignore_eos=gen.ignore_eos),
            prompt_token_ids=tuple(ids), arrival_step=int(arrivals[k])))
    return specs


def _build(doc: ScenarioFile, source: str | None) -> Scenario:
    model = doc.model
    if isinstance(model, ToyModelSection):
        model_spec = ModelSpec(kind="toy", seed=model.seed)
    elif isinstance(model, LastPlusPosSection):
        model_spec = ModelSpec(kind="last_plus_pos", modulus=model.modulus)
    else:
        model_spec = ModelSpec(kind="constant", value=model.value)
    ids = doc.request_ids()
    requests = [
        RequestSpec(request_id=ids[i], sampling_params=r.sampling_params(), prompt=r.prompt,
                    prompt_token_ids=(tuple(r.prompt_token_ids)
                                      if r.prompt_token_ids is not None else None),
                    priority=r.priority, arrival_step=r.arrival_step)
        for i, r in enumerate(doc.requests)]
    gen_spec = None
    if doc.generate is not None:
        g = doc.generate
        requests += expand_generate(g)
        gen_spec = GenerateSpec(
            count=g.count, seed=g.seed, prompt_len=tuple(g.prompt_len),
            max_tokens=tuple(g.max_tokens), arrival_rate=g.arrival_rate,
            shared_prefix_fraction=g.shared_prefix_fraction,
            shared_prefix_len=g.shared_prefix_len, ignore_eos=g.ignore_eos,
            id_prefix=g.id_prefix)
    expect = None
    if doc.expect is not None:
        expect = Expect(statuses=dict(doc.expect.statuses), total_steps=doc.expect.total_steps,
                        num_preemptions=doc.expect.num_preemptions)
    return Scenario(
        name=doc.name, description=doc.description.strip(), engine=doc.engine.to_config(),
        model=model_spec, requests=tuple(requests),
        events=tuple(ScenarioEvent(step=e.step, action="abort", request_id=e.abort)
                     for e in doc.events),
        expect=expect, source=source, generate=gen_spec)


# ---------------------------------------------------------------------- YAML

def _format_field(parts: list) -> str | None:
    out = ""
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or None


def _check_tree(root: yaml.Node, source: str) -> None:
    """Duplicate mapping keys, recursive aliases and alias bombs, found in the composed tree."""
    seen: set[int] = set()
    visits = 0
    first_shared: yaml.Node | None = None
    # Iterative DFS; ("exit", node) markers keep the current path for cycle detection.
    on_path: set[int] = set()
    stack: list[tuple[str, yaml.Node, list]] = [("enter", root, [])]
    while stack:
        action, node, path = stack.pop()
        if action == "exit":
            on_path.discard(id(node))
            continue
        if id(node) in on_path:
            raise ScenarioError("recursive alias: a node contains itself", source,
                                node.start_mark.line + 1, _format_field(path))
        first_visit = id(node) not in seen
        if not first_visit:
            first_shared = first_shared or node
            visits += 1
            if visits > MAX_ALIAS_NODES:
                raise ScenarioError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes "
                                    f"(an alias bomb?)", source, first_shared.start_mark.line + 1)
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            continue
        on_path.add(id(node))
        stack.append(("exit", node, path))
        children = []
        if isinstance(node, yaml.MappingNode):
            keys: dict[tuple, yaml.Node] = {}
            for key, value in node.value:
                if first_visit and isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    ident = (key.tag, key.value)
                    if ident in keys:
                        raise ScenarioError(
                            f"duplicate key {key.value!r} (first at line "
                            f"{keys[ident].start_mark.line + 1})", source,
                            key.start_mark.line + 1, _format_field(path + [key.value]))
                    keys[ident] = key
                label = key.value if isinstance(key, yaml.ScalarNode) else "?"
                children.append((value, path + [label]))
                if not isinstance(key, yaml.ScalarNode):
                    children.append((key, path + ["?"]))
        else:
            children = [(child, path + [i]) for i, child in enumerate(node.value)]
        for child, child_path in reversed(children):
            stack.append(("enter", child, child_path))


def _locate(root: yaml.Node, loc: tuple) -> tuple[int, str | None]:
    """The line of a pydantic location path in the node tree, and its dotted field name."""
    node = root
    line = root.start_mark.line + 1
    parts: list = []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value
                          if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if match is not None:
                line = match[0].start_mark.line + 1
                node = match[1]
                parts.append(str(part))
                continue
            if isinstance(part, str) and part in _MODEL_RULES:
                continue  # a union tag in pydantic's path, not a key
            parts.append(part)  # a missing key: keep the mapping's line
            node = None
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and 0 <= part < len(node.value)):
            node = node.value[part]
            line = node.start_mark.line + 1
            parts.append(part)
        else:
            if not (isinstance(part, str) and part in _MODEL_RULES):
                parts.append(part)
            node = None
    return line, _format_field(parts)


_TYPE_WORDS = {
    "int_type": "an integer", "string_type": "a string", "bool_type": "true or false",
    "float_type": "a number", "list_type": "a list", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int):
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"{text!r} (a string)"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _message(err: dict) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {_describe(value)}"
    if kind == "missing":
        return f"missing required key {err['loc'][-1]!r}"
    if kind == "value_error" and isinstance(ctx.get("error"), ValueError):
        return str(ctx["error"])
    bounds = {"greater_than_equal": (">=", "ge"), "greater_than": (">", "gt"),
              "less_than_equal": ("<=", "le"), "less_than": ("<", "lt")}
    if kind in bounds:
        op, key = bounds[kind]
        return f"must be {op} {ctx[key]}, got {_describe(value)}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, got {_describe(value)}"
    if kind in ("string_too_short", "too_short") and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind == "too_short" or kind == "too_long":
        lo = 2 if "min_length" not in ctx else ctx["min_length"]
        return f"expected a list of {lo} items ([min, max]), got {ctx.get('actual_length')}" \
            if err["loc"] and err["loc"][-1] in ("prompt_len", "max_tokens") else err["msg"]
    if kind == "string_unicode":
        return "not valid Unicode text (a lone surrogate escape?)"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "invalid_key":
        return f"keys must be strings, got {_describe(value)}"
    if kind == "model_rule":
        rule = value.get("rule") if isinstance(value, dict) else None
        return f"rule must be one of 'toy', 'last_plus_pos', 'constant', got {_describe(rule)}"
    return err["msg"]


def _error_loc(err: dict) -> tuple:
    loc = tuple(err["loc"])
    error = (err.get("ctx") or {}).get("error")
    if isinstance(error, _LocError):
        loc += error.loc
    if err["type"] == "model_rule":
        loc += ("rule",)
    return loc


def _yaml_error(e: yaml.YAMLError, text: str, source: str) -> ScenarioError:
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        message = "; ".join(str(m) for m in (e.context, e.problem) if m)
        kind = "YAML error" if isinstance(e, yaml.constructor.ConstructorError) else "YAML syntax error"
        return ScenarioError(f"{kind}: {message or e}", source, line)
    if isinstance(e, yaml.reader.ReaderError):
        line = text[:e.position].count("\n") + 1 if isinstance(e.position, int) else None
        return ScenarioError(f"YAML syntax error: unacceptable character #x{e.character:04x}: "
                             f"{e.reason}", source, line)
    return ScenarioError(f"YAML syntax error: {e}", source)


def load_scenario_text(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario YAML text; `source` names it in errors (and Scenario.source)."""
    if "\x00" in text:
        raise ScenarioError("binary data (NUL character), not a YAML text file", source,
                            text[:text.index("\x00")].count("\n") + 1)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:
        raise _yaml_error(e, text, source) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as e:
            raise _yaml_error(e, text, source) from None
        if root is None:
            raise ScenarioError("the file is empty: expected a mapping with name, description "
                                "and requests (or generate)", source)
        if not isinstance(root, yaml.MappingNode):
            kind = "a list" if isinstance(root, yaml.SequenceNode) else "a scalar"
            raise ScenarioError(f"the top level must be a mapping (name, description, engine, "
                                f"requests, ...), got {kind}", source, root.start_mark.line + 1)
        _check_tree(root, source)
        try:
            data = loader.construct_document(root)
        except yaml.YAMLError as e:
            raise _yaml_error(e, text, source) from None
    finally:
        loader.dispose()
    try:
        doc = ScenarioFile.model_validate(data)
    except ValidationError as e:
        located = []
        for index, err in enumerate(e.errors()):
            line, field = _locate(root, _error_loc(err))
            located.append((line, index, field, _message(err)))
        line, _, field, message = min(located)
        raise ScenarioError(message, source, line, field) from None
    return _build(doc, source)


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Load a scenario file; raises ScenarioError (never anything else) for any bad input."""
    source = str(path)
    p = Path(path)
    try:
        if p.is_dir():
            raise ScenarioError("is a directory, not a scenario file", source)
        if not p.exists():
            raise ScenarioError("no such file", source)
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(f"file too large ({size} bytes, limit {MAX_FILE_BYTES})", source)
        data = p.read_bytes()
    except ScenarioError:
        raise
    except OSError as e:
        raise ScenarioError(f"cannot read: {e.strerror or e}", source) from None
    if b"\x00" in data:
        raise ScenarioError("binary data (NUL byte), not a YAML text file", source,
                            data[:data.index(b"\x00")].count(b"\n") + 1)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"not UTF-8 text (invalid byte 0x{data[e.start]:02x} at offset "
                            f"{e.start})", source, data[:e.start].count(b"\n") + 1) from None
    return load_scenario_text(text, source)
