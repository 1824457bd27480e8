"""Scenario YAML files -> `Scenario` (spec.py), with one clear error line for every bad input.

Validation is done by the pydantic models of schema.py (strict types: no "5" -> 5 coercion,
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

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mini_engine.errors import MiniEngineError
from mini_engine.scenarios.generate import expand_generate, generate_spec
from mini_engine.scenarios.schema import (UNION_TAGS, FieldError, LastPlusPosSection,
                                          ScenarioFile, ToyModelSection)
from mini_engine.scenarios.spec import Expect, ModelSpec, RequestSpec, Scenario

__all__ = ["ScenarioError", "load_scenario", "load_scenario_text", "scenario_json_schema",
           "ScenarioFile"]

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_ALIAS_NODES = 100_000  # nodes reached again through aliases: stops alias bombs


class ScenarioError(MiniEngineError):
    """One bad scenario input: where (`path`, 1-based `line`, dotted `field`) and what (`message`)."""

    title = "Scenario error"
    unnamed_source = "<string>"  # a scenario given as text, not as a file

    def __init__(self, message: str, path: str | os.PathLike | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        super().__init__(" ".join(str(message).split()), path, line, field)  # always one line


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
            if isinstance(part, str) and part in UNION_TAGS:
                continue  # a union tag in pydantic's path, not a key
            parts.append(part)  # a missing key: keep the mapping's line
            node = None
        elif (isinstance(node, yaml.SequenceNode) and isinstance(part, int)
              and 0 <= part < len(node.value)):
            node = node.value[part]
            line = node.start_mark.line + 1
            parts.append(part)
        else:
            if not (isinstance(part, str) and part in UNION_TAGS):
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
    if isinstance(error, FieldError):
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
