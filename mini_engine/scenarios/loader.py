"""Scenario YAML files -> `Scenario` (spec.py), with one clear error line for every bad input.

Validation is done by the pydantic models of schema.py (strict types: no "5" -> 5 coercion,
booleans are not integers; unknown keys are errors, with a "did you mean" hint); the
same models export the JSON Schema (`scenario_json_schema()`, `mini-engine schema`).
YAML is read with libyaml's CSafeLoader (PyYAML's pure-Python SafeLoader without it),
never executing a tag. The file is first *composed* into a node tree (which keeps line
numbers), checked for duplicate keys, recursive aliases, alias bombs and nesting depth,
then constructed and validated (yaml_tree.py, which documents its bounds); a pydantic
error's location path (`("requests", 2, "max_tokens")`) is walked through the node tree to
find its line.

Limits, so that any file loads or is refused within seconds: a scenario file may be at
most MAX_SCENARIO_BYTES = 8 MiB (a larger one is refused before it is read, like anything
that is not a regular file: files/read.py), hold at most MAX_YAML_NODES = 1,000,000
values (yaml_reader.py) and MAX_REQUESTS = 100,000 requests (schema.py; a generate block
adds up to 100,000 more). Large workloads belong in a generate block. Measured with
`python benchmarks/input_bench.py` (2 cores): an 8 MiB scenario of 86,000 requests loads
in 1.9 s (230 MB peak RSS), one of 67,000 block-style requests in 2.3 s, one 8 MiB prompt
in 0.1 s; a file over MAX_YAML_NODES is refused after about 2 s, a 16 MB file at once.

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
                                   # reproducible and readable), seed, priority (0), arrival_step (0),
                                   # cache_salt (null), prompt_logprobs (null: reads the prefix cache)
    events: [{step: 3, abort: req-0}]   # applied once `step` steps have run; also
                                   # {step: 5, reset_prefix_cache: true} (refused while blocks are
                                   # held) or {step: 5, reset_prefix_cache: {reset_running_requests: true}}
    generate: {count, seed, prompt_len: [min, max], max_tokens: [min, max], arrival_rate,
               shared_prefix_fraction, shared_prefix_len, ignore_eos, id_prefix}
    expect: {statuses: {id: FINISHED_...}, total_steps: N, num_preemptions: N}
"""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from typing import Any, Iterator

import yaml
from pydantic import ValidationError

from mini_engine.files.read import InputFileError, read_text
from mini_engine.scenarios.error import ScenarioError, echo
from mini_engine.scenarios.generate import expand_generate, generate_spec
from mini_engine.scenarios.schema import (MAX_REQUESTS, UNION_TAGS, FieldError,
                                          LastPlusPosSection, ScenarioFile, ToyModelSection)
from mini_engine.scenarios.spec import Expect, ModelSpec, RequestSpec, Scenario
from mini_engine.scenarios.yaml_reader import YamlDocument, locate, read_yaml

__all__ = ["MAX_SCENARIO_BYTES", "ScenarioError", "load_scenario", "load_scenario_text",
           "scenario_json_schema", "ScenarioFile"]

MAX_SCENARIO_BYTES = 8 * 1024 * 1024  # a scenario file; larger ones are refused unread


def scenario_json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a scenario file, for editors and `mini-engine schema`."""
    schema = ScenarioFile.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# ---------------------------------------------------------------------- building

def _build(doc: ScenarioFile, source: str | None) -> Scenario:
    """The validated file as the engine-facing `Scenario`; a generate block is expanded here."""
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
                    priority=r.priority, arrival_step=r.arrival_step, cache_salt=r.cache_salt)
        for i, r in enumerate(doc.requests)]
    gen_spec = None
    if doc.generate is not None:
        requests += expand_generate(doc.generate)
        gen_spec = generate_spec(doc.generate)
    expect = None
    if doc.expect is not None:
        expect = Expect(statuses=dict(doc.expect.statuses), total_steps=doc.expect.total_steps,
                        num_preemptions=doc.expect.num_preemptions)
    return Scenario(
        name=doc.name, description=doc.description.strip(), engine=doc.engine.to_config(),
        model=model_spec, requests=tuple(requests),
        events=tuple(e.to_event() for e in doc.events),
        expect=expect, source=source, generate=gen_spec)


# ---------------------------------------------------------------------- errors

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
        if abs(value) >= 10 ** 30:
            return f"an integer of {len(str(abs(value)))} digits"
        return f"{value} (an integer)"
    if isinstance(value, float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"{echo(text)} (a string)"
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
    if kind == "too_long" and tuple(err["loc"]) == ("requests",):
        return (f"more than {MAX_REQUESTS:,} requests (the limit, MAX_REQUESTS): use a "
                f"generate block for large workloads")
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
    if isinstance(error, FieldError):
        loc += error.loc
    if err["type"] == "model_rule":
        loc += ("rule",)
    return loc


@contextmanager
def _paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a file's millions of new objects are built (each
    collection would walk them all: a 16 MB file loads 3x slower with it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_text(text: str, source: str) -> None:
    if "\x00" in text:
        raise ScenarioError("binary data (NUL byte), not a YAML text file", source,
                            text.count("\n", 0, text.index("\x00")) + 1)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate (only a str given as text has one)
        raise ScenarioError(f"YAML syntax error: unacceptable character #x{ord(text[e.start]):04x}: "
                            f"special characters are not allowed", source,
                            text.count("\n", 0, e.start) + 1) from None


def _validate(doc: YamlDocument, source: str) -> ScenarioFile:
    try:
        return ScenarioFile.model_validate(doc.data)
    except ValidationError as e:
        located = []
        for index, err in enumerate(e.errors()):
            line, field = locate(doc, _error_loc(err), UNION_TAGS)
            located.append((line, index, field, _message(err)))
        line, _, field, message = min(located)
        raise ScenarioError(message, source, line, field) from None


def load_scenario_text(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario YAML text; `source` names it in errors (and Scenario.source)."""
    _check_text(text, source)
    with _paused_gc():
        doc = read_yaml(text, source)
        if doc.line is None:
            raise ScenarioError("the file is empty: expected a mapping with name, "
                                "description and requests (or generate)", source)
        if not isinstance(doc.data, dict):
            kind = "a list" if isinstance(doc.data, list) else "a scalar"
            raise ScenarioError(f"the top level must be a mapping (name, description, "
                                f"engine, requests, ...), got {kind}", source, doc.line)
        return _build(_validate(doc, source), source)


def load_scenario(path: str | bytes | os.PathLike) -> Scenario:
    """Load a scenario file; raises ScenarioError (never anything else) for any bad input:
    a missing file, anything but a regular file, a file over MAX_SCENARIO_BYTES, text that
    is not UTF-8, YAML that is not a valid scenario."""
    try:
        text = read_text(path, what="a scenario", max_bytes=MAX_SCENARIO_BYTES)
    except InputFileError as e:
        raise ScenarioError(e.message, e.filename, e.line) from None
    return load_scenario_text(text, os.fsdecode(os.fspath(path)))
