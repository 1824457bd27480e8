"""Scenario files: the loader's one-line errors, the JSON Schema, generate blocks, the bundled set."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.request import RequestStatus
from mini_engine.scenarios.spec import Scenario
from mini_engine.scenarios import yaml_reader
from mini_engine.scenarios.catalog import bundled_scenarios, resolve_scenario
from mini_engine.scenarios.loader import (ScenarioError, load_scenario, load_scenario_text,
                                          scenario_json_schema)

REPO = Path(__file__).resolve().parents[2]

HEAD = "name: t\ndescription: d\n"
ONE = HEAD + "requests:\n  - prompt: hello\n"
# The engine's finished statuses, in order, as an expect block's error lists them.
FINISHED = [s.name for s in RequestStatus if RequestStatus.is_finished(s)]
STATUS_CHOICES = ", ".join(map(repr, FINISHED[:-1])) + f" or {FINISHED[-1]!r}"


def write(tmp_path: Path, text: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


# (case id, file text, line, field, message) -- every bad input gets exactly this error.
BAD = [
    ("yaml_syntax", HEAD + "requests: [\n  - prompt: a: b\n", 4, None,
     "YAML syntax error: while parsing a flow node; did not find expected node content"),
    ("yaml_bad_indent", HEAD + "requests:\n  - prompt: a\n   max_tokens: 3\n", 5, None,
     "YAML syntax error: while parsing a block collection; did not find expected '-' indicator"),
    ("yaml_colon_in_value", HEAD + "requests:\n  - prompt: a: b\n", 4, None,
     "YAML syntax error: mapping values are not allowed in this context"),
    ("yaml_two_documents", HEAD + "---\nname: u\n", 3, None,
     "YAML syntax error: expected a single document in the stream; but found another document"),
    ("yaml_control_char", HEAD + "requests:\n  - prompt: \"a\x07\"\n", 4, None,
     "YAML syntax error: unacceptable character #x0007: special characters are not allowed"),
    ("python_tag", "name: !!python/object/apply:os.system [ls]\ndescription: d\n", 1, "name",
     "YAML error: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("duplicate_key", HEAD + "requests:\n  - prompt: a\n    max_tokens: 3\n    max_tokens: 4\n",
     6, "requests[0].max_tokens", "duplicate key 'max_tokens' (first at line 5)"),
    ("duplicate_top_key", "name: t\ndescription: d\nname: u\nrequests: [{prompt: a}]\n",
     3, "name", "duplicate key 'name' (first at line 1)"),
    ("recursive_alias", HEAD + "requests: &r [*r]\n", 3, "requests[0]",
     "recursive alias: a node contains itself"),
    ("alias_bomb", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefg", "bcdefgh")),
     6, "f[0]", "aliases expand to more than 100000 nodes (an alias bomb?)"),
    ("top_level_list", "- name: t\n", 1, None,
     "the top level must be a mapping (name, description, engine, requests, ...), got a list"),
    ("top_level_scalar", "hello\n", 1, None,
     "the top level must be a mapping (name, description, engine, requests, ...), got a scalar"),
    ("missing_name", "description: d\nrequests: [{prompt: a}]\n", 1, "name",
     "missing required key 'name'"),
    ("empty_description", "name: t\ndescription: ''\nrequests: [{prompt: a}]\n", 2,
     "description", "must not be empty"),
    ("unknown_top_key", "name: t\ndescriptoin: d\nrequests: [{prompt: a}]\n", 2, "descriptoin",
     "unknown key 'descriptoin'; did you mean 'description'?"),
    ("unknown_request_key", ONE + "    max_token: 4\n", 5, "requests[0].max_token",
     "unknown key 'max_token'; did you mean 'max_tokens'?"),
    ("unknown_engine_key", HEAD + "engine:\n  max_num_seq: 4\nrequests: [{prompt: a}]\n", 4,
     "engine.max_num_seq", "unknown key 'max_num_seq'; did you mean 'max_num_seqs'?"),
    ("unknown_key_no_match", ONE + "    zzz: 1\n", 5, "requests[0].zzz",
     "unknown key 'zzz' (allowed: id, prompt, prompt_token_ids, max_tokens, min_tokens, "
     "ignore_eos, eos_token_id, stop_token_ids, temperature, seed, priority, arrival_step, "
     "cache_salt, prompt_logprobs)"),
    ("non_string_key", HEAD + "1: 2\nrequests: [{prompt: a}]\n", 3, "1",
     "unknown key 1 (allowed: name, description, engine, model, requests, events, generate, "
     "expect)"),
    ("string_for_int", ONE + "    max_tokens: '4'\n", 5, "requests[0].max_tokens",
     "expected an integer, got '4' (a string)"),
    ("bool_for_int", ONE + "    max_tokens: true\n", 5, "requests[0].max_tokens",
     "expected an integer, got true (a boolean)"),
    ("float_for_int", ONE + "    priority: 1.5\n", 5, "requests[0].priority",
     "expected an integer, got 1.5 (a number)"),
    ("int_for_bool", ONE + "    ignore_eos: 1\n", 5, "requests[0].ignore_eos",
     "expected true or false, got 1 (an integer)"),
    ("int_for_str", "name: 12\ndescription: d\nrequests: [{prompt: a}]\n", 1, "name",
     "expected a string, got 12 (an integer)"),
    ("requests_not_list", HEAD + "requests: {prompt: a}\n", 3, "requests",
     "expected a list, got a mapping"),
    ("engine_not_mapping", HEAD + "engine: 5\nrequests: [{prompt: a}]\n", 3, "engine",
     "expected a mapping, got 5 (an integer)"),
    ("zero_max_tokens", ONE + "    max_tokens: 0\n", 5, "requests[0].max_tokens",
     "must be >= 1, got 0 (an integer)"),
    ("negative_temperature", ONE + "    temperature: -0.5\n", 5, "requests[0].temperature",
     "must be >= 0.0, got -0.5 (a number)"),
    ("nan_temperature", ONE + "    temperature: .nan\n", 5, "requests[0].temperature",
     "must be a finite number"),
    ("negative_arrival", ONE + "    arrival_step: -1\n", 5, "requests[0].arrival_step",
     "must be >= 0, got -1 (an integer)"),
    ("bad_policy", HEAD + "engine:\n  policy: lifo\nrequests: [{prompt: a}]\n", 4,
     "engine.policy", "must be 'fcfs' or 'priority', got 'lifo'"),
    ("one_gpu_block", HEAD + "engine:\n  num_gpu_blocks: 1\nrequests: [{prompt: a}]\n", 4,
     "engine.num_gpu_blocks", "must be at least 2 (block 0 is the reserved null block), got 1"),
    # EngineConfig's bound (one validation path for YAML, --set and the API).
    ("too_many_gpu_blocks", HEAD + "engine:\n  num_gpu_blocks: 10000000\nrequests: [{prompt: a}]\n",
     4, "engine.num_gpu_blocks", "must be at most 1000000, got 10000000"),
    ("min_gt_max_tokens", ONE + "    max_tokens: 2\n    min_tokens: 3\n", 6,
     "requests[0].min_tokens", "min_tokens (3) must be <= max_tokens (2)"),
    ("token_id_too_big", HEAD + "requests:\n  - prompt_token_ids:\n      - 1\n      - 257\n", 6,
     "requests[0].prompt_token_ids[1]", "must be <= 256, got 257 (an integer)"),
    ("token_id_negative", HEAD + "requests:\n  - prompt_token_ids: [-1]\n", 4,
     "requests[0].prompt_token_ids[0]", "must be >= 0, got -1 (an integer)"),
    ("stop_token_id_too_big", ONE + "    stop_token_ids: [300]\n", 5,
     "requests[0].stop_token_ids[0]", "must be <= 256, got 300 (an integer)"),
    ("surrogate_prompt", HEAD + "requests:\n  - prompt: \"a\\ud800\"\n", 4, None,
     "YAML syntax error: while parsing a quoted scalar; found invalid Unicode character escape "
     "code"),
    ("empty_prompt", HEAD + "requests:\n  - prompt: ''\n", 4, "requests[0].prompt",
     "must not be empty"),
    ("empty_prompt_token_ids", HEAD + "requests:\n  - prompt_token_ids: []\n", 4,
     "requests[0].prompt_token_ids", "must not be empty"),
    ("no_prompt", HEAD + "requests:\n  - prompt: a\n  - max_tokens: 3\n", 5, "requests[1]",
     "give one of prompt or prompt_token_ids"),
    ("both_prompts", ONE + "    prompt_token_ids: [1]\n", 5, "requests[0].prompt_token_ids",
     "give only one of prompt or prompt_token_ids, not both"),
    ("duplicate_id", HEAD + "requests:\n  - prompt: a\n  - prompt: b\n    id: req-0\n", 6,
     "requests[1].id", "duplicate request id 'req-0' (already used by requests[0])"),
    ("duplicate_default_id", HEAD + "requests:\n  - {id: req-1, prompt: a}\n  - prompt: b\n",
     5, "requests[1].id", "duplicate request id 'req-1' (already used by requests[0])"),
    ("no_requests", HEAD, 1, "requests",
     "the scenario has no requests: give a requests list or a generate block"),
    ("empty_requests", HEAD + "requests: []\n", 3, "requests",
     "the scenario has no requests: give a requests list or a generate block"),
    ("event_unknown_request", ONE + "events:\n  - step: 2\n    abort: req-9\n", 7,
     "events[0].abort", "unknown request 'req-9'; did you mean 'req-0'?"),
    ("event_negative_step", ONE + "events:\n  - {step: -1, abort: req-0}\n", 6,
     "events[0].step", "must be >= 0, got -1 (an integer)"),
    ("event_missing_abort", ONE + "events:\n  - {step: 1}\n", 6, "events[0]",
     "give exactly one of abort or reset_prefix_cache"),
    ("budget_below_seats",
     HEAD + "engine:\n  max_num_seqs: 8\n  max_num_batched_tokens: 4\nrequests: [{prompt: a}]\n",
     5, "engine.max_num_batched_tokens", "(4) must be >= max_num_seqs (8)"),
    ("budget_below_seats_default", HEAD + "engine:\n  max_num_batched_tokens: 64\n"
     "requests: [{prompt: a}]\n", 4, "engine.max_num_batched_tokens",
     "(64) must be >= max_num_seqs (128)"),
    ("unchunked_budget_below_max_model_len",
     HEAD + "engine:\n  enable_chunked_prefill: false\n  max_num_batched_tokens: 512\n"
     "requests: [{prompt: a}]\n", 5, "engine.max_num_batched_tokens",
     "(512) is smaller than max_model_len (8192) with enable_chunked_prefill off: long prompts "
     "could never be scheduled"),
    ("model_unknown_rule", HEAD + "model:\n  rule: random\nrequests: [{prompt: a}]\n", 4,
     "model.rule", "rule must be one of 'toy', 'last_plus_pos', 'constant', got 'random' "
     "(a string)"),
    ("model_key_typo", HEAD + "model: {rule: constant, valu: 3}\nrequests: [{prompt: a}]\n", 3,
     "model.valu", "unknown key 'valu'; did you mean 'value'?"),
    ("model_toy_seed_typo", HEAD + "model:\n  sed: 3\nrequests: [{prompt: a}]\n", 4,
     "model.sed", "unknown key 'sed'; did you mean 'seed'?"),
    ("model_constant_out_of_vocab", HEAD + "model:\n  rule: constant\n  value: 300\n"
     "requests: [{prompt: a}]\n", 5, "model.value", "must be <= 256, got 300 (an integer)"),
    ("model_not_mapping", HEAD + "model: toy\nrequests: [{prompt: a}]\n", 3, "model",
     "expected a mapping, got 'toy' (a string)"),
    ("expect_bad_status", ONE + "expect:\n  statuses:\n    req-0: DONE\n", 7,
     "expect.statuses.req-0", f"must be {STATUS_CHOICES}, got 'DONE' (a string)"),
    ("expect_running_status", ONE + "expect:\n  statuses: {req-0: RUNNING}\n", 6,
     "expect.statuses.req-0", f"must be {STATUS_CHOICES}, got 'RUNNING' (a string)"),
    ("expect_unknown_request", ONE + "expect:\n  statuses:\n    req-1: FINISHED_LENGTH\n", 7,
     "expect.statuses.req-1", "unknown request 'req-1'; did you mean 'req-0'?"),
    ("expect_negative_steps", ONE + "expect:\n  total_steps: -3\n", 6, "expect.total_steps",
     "must be >= 0, got -3 (an integer)"),
    ("generate_bad_range", HEAD + "generate:\n  count: 3\n  prompt_len: [9, 2]\n", 5,
     "generate.prompt_len", "min (9) must be <= max (2)"),
    ("generate_range_length", HEAD + "generate:\n  count: 3\n  max_tokens: [4]\n", 5,
     "generate.max_tokens", "expected a list of 2 items ([min, max]), got 1"),
    ("generate_zero_count", HEAD + "generate:\n  count: 0\n", 4, "generate.count",
     "must be >= 1, got 0 (an integer)"),
    ("generate_fraction", HEAD + "generate:\n  count: 3\n  shared_prefix_fraction: 1.5\n", 5,
     "generate.shared_prefix_fraction", "must be <= 1.0, got 1.5 (a number)"),
    ("generate_prefix_too_long", HEAD + "generate:\n  count: 3\n  prompt_len: [8, 16]\n"
     "  shared_prefix_fraction: 0.5\n  shared_prefix_len: 8\n", 7, "generate.shared_prefix_len",
     "(8) must be smaller than the shortest prompt (prompt_len min 8)"),
    ("generate_prefix_missing", HEAD + "generate:\n  count: 3\n  shared_prefix_fraction: 0.5\n",
     3, "generate.shared_prefix_len", "must be >= 1 when shared_prefix_fraction > 0"),
    ("generate_id_collision", HEAD + "requests: [{id: gen-1, prompt: a}]\ngenerate:\n  count: 3\n",
     4, "generate.id_prefix", "generated id 'gen-1' collides with requests[0]"),
    ("generate_rate_zero", HEAD + "generate:\n  count: 3\n  arrival_rate: 0\n", 5,
     "generate.arrival_rate", "must be > 0.0, got 0 (an integer)"),
]


@pytest.mark.parametrize("text,line,field,message", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_gives_one_exact_error(tmp_path, text, line, field, message):
    path = write(tmp_path, text)
    err = error_of(path)
    assert (err.path, err.line, err.field, err.message) == (str(path), line, field, message)
    where = f"{path}:{line}" if line is not None else str(path)
    assert str(err) == (f"{where}: {field}: {message}" if field else f"{where}: {message}")
    assert "\n" not in str(err)


# Where PyYAML's pure-Python parser words an error differently from libyaml: (field, message).
PURE_PYTHON_WORDING = {
    "yaml_syntax": (None, "YAML syntax error: while parsing a flow node; expected the node "
                          "content, but found '-'"),
    "yaml_bad_indent": (None, "YAML syntax error: while parsing a block collection; expected "
                              "<block end>, but found '<block mapping start>'"),
    "yaml_colon_in_value": (None, "YAML syntax error: mapping values are not allowed here"),
    "surrogate_prompt": ("requests[0].prompt", "not valid Unicode text (a lone surrogate escape?)"),
}


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_pure_python_parser_gives_the_same_lines(monkeypatch, case):
    # Without libyaml the same file gets the same line and field (and message but for wording).
    case_id, text, line, field, message = case
    monkeypatch.setattr(yaml_reader, "parser_class", lambda: yaml.SafeLoader)
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "s.yaml")
    field, message = PURE_PYTHON_WORDING.get(case_id, (field, message))
    assert (info.value.line, info.value.field, info.value.message) == (line, field, message)


def test_first_error_in_file_order(tmp_path):
    # Two errors: the one on the earlier line wins, every time.
    text = HEAD + "requests:\n  - prompt: a\n    max_tokens: x\n  - prompt: b\n    priority: y\n"
    for _ in range(3):
        err = error_of(write(tmp_path, text))
        assert (err.line, err.field) == (5, "requests[0].max_tokens")
    text = "description: 5\nname: t\nrequests: [{prompt: a}]\n"
    assert error_of(write(tmp_path, text)).field == "description"


@pytest.mark.parametrize("content,line,message", [
    (b"", None, "the file is empty: expected a mapping with name, description and requests "
                "(or generate)"),
    (b"# only a comment\n\n", None, "the file is empty: expected a mapping with name, "
                                    "description and requests (or generate)"),
    (b"name: t\n\x00\x01\x02binary", 2, "binary data (NUL byte), not a YAML text file"),
    (b"name: t\ndescription: d\n\xff\xfe junk\n", 3,
     "not UTF-8 text (invalid byte 0xff at offset 23)"),
], ids=["empty", "comment_only", "nul_bytes", "not_utf8"])
def test_file_level_errors(tmp_path, content, line, message):
    path = write(tmp_path, content)
    err = error_of(path)
    assert (err.path, err.line, err.field, err.message) == (str(path), line, None, message)


def test_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope.yaml"
    err = error_of(missing)
    assert (err.path, err.line, err.field, err.message) == (str(missing), None, None,
                                                            "no such file")
    assert str(err) == f"{missing}: no such file"
    err = error_of(tmp_path)
    assert str(err) == (f"{tmp_path}: is a directory, not a regular file; a scenario must be a "
                        f"regular file")


def test_load_scenario_text_source_name():
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(ONE + "    max_tokens: -1\n")
    assert str(info.value) == "<string>:5: requests[0].max_tokens: must be >= 1, got -1 (an integer)"
    with pytest.raises(ScenarioError) as info:
        load_scenario_text("", source="inline")
    assert str(info.value).startswith("inline: the file is empty")


def test_full_scenario_loads_with_defaults():
    text = textwrap.dedent("""\
        name: full
        description: every field
        engine:
          max_num_batched_tokens: 64
          max_num_seqs: 4
          long_prefill_token_threshold: 8
          block_size: 4
          num_gpu_blocks: 33
          enable_prefix_caching: false
          policy: priority
        model: {rule: last_plus_pos, modulus: 100}
        requests:
          - prompt: hello
          - id: custom
            prompt_token_ids: [1, 2, 256]
            max_tokens: 5
            min_tokens: 2
            ignore_eos: true
            eos_token_id: 7
            stop_token_ids: [9, 10]
            temperature: 0.7
            seed: 3
            priority: -1
            arrival_step: 4
        events:
          - {step: 2, abort: req-0}
        expect:
          statuses: {req-0: FINISHED_ABORTED, custom: FINISHED_LENGTH}
          total_steps: 9
          num_preemptions: 0
        """)
    sc = load_scenario_text(text, source="full.yaml")
    assert isinstance(sc, Scenario) and sc.source == "full.yaml" and sc.generate is None
    assert sc.engine == EngineConfig(max_num_batched_tokens=64, max_num_seqs=4,
                                     long_prefill_token_threshold=8, block_size=4,
                                     num_gpu_blocks=33, enable_prefix_caching=False,
                                     policy="priority")
    assert (sc.model.kind, sc.model.modulus) == ("last_plus_pos", 100)
    r0, r1 = sc.requests
    assert (r0.request_id, r0.prompt, r0.prompt_token_ids, r0.priority, r0.arrival_step) == (
        "req-0", "hello", None, 0, 0)
    sp = r0.sampling_params
    # Scenario defaults: SamplingParams' except temperature 0.0 (greedy).
    assert (sp.max_tokens, sp.min_tokens, sp.temperature, sp.seed, sp.ignore_eos,
            sp.eos_token_id, sp.stop_token_ids) == (16, 0, 0.0, None, False, None, [])
    assert (r1.request_id, r1.prompt, r1.prompt_token_ids, r1.priority, r1.arrival_step) == (
        "custom", None, (1, 2, 256), -1, 4)
    sp = r1.sampling_params
    assert (sp.max_tokens, sp.min_tokens, sp.temperature, sp.seed, sp.ignore_eos,
            sp.eos_token_id, sp.stop_token_ids) == (5, 2, 0.7, 3, True, 7, [9, 10])
    assert [(e.step, e.action, e.request_id) for e in sc.events] == [(2, "abort", "req-0")]
    assert sc.expect.statuses == {"req-0": "FINISHED_ABORTED", "custom": "FINISHED_LENGTH"}
    assert (sc.expect.total_steps, sc.expect.num_preemptions) == (9, 0)


def test_defaults_for_engine_and_model():
    sc = load_scenario_text(ONE)
    assert sc.engine == EngineConfig()
    assert (sc.model.kind, sc.model.seed) == ("toy", 0)
    assert sc.events == () and sc.expect is None
    assert load_scenario_text(HEAD + "model: {seed: 5}\nrequests: [{prompt: a}]\n").model.seed == 5
    m = load_scenario_text(HEAD + "model: {rule: constant, value: 256}\nrequests: [{prompt: a}]\n")
    assert (m.model.kind, m.model.value) == ("constant", 256)


def test_temperature_accepts_integer_and_ids_default_by_index():
    sc = load_scenario_text(HEAD + "requests:\n  - {id: x, prompt: a}\n  - {prompt: b, temperature: 1}\n")
    assert [r.request_id for r in sc.requests] == ["x", "req-1"]
    assert sc.requests[1].sampling_params.temperature == 1.0


def test_never_fitting_request_is_not_a_load_error():
    sc = load_scenario_text(HEAD + "engine: {num_gpu_blocks: 2, block_size: 4}\n"
                                   "requests: [{prompt: 'far too long for one block'}]\n")
    assert len(sc.requests) == 1


# ---------------------------------------------------------------------- JSON Schema

def test_json_schema_shape_and_keys():
    schema = scenario_json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"name", "description", "engine", "model", "requests",
                                         "events", "generate", "expect"}
    assert set(schema["required"]) == {"name", "description"}
    defs = schema["$defs"]
    assert set(defs["EngineSection"]["properties"]) == {f.name for f in dataclasses.fields(EngineConfig)}
    request = defs["RequestSection"]
    assert set(request["properties"]) == {
        "id", "prompt", "prompt_token_ids", "max_tokens", "min_tokens", "ignore_eos",
        "eos_token_id", "stop_token_ids", "temperature", "seed", "priority", "arrival_step",
        "cache_salt", "prompt_logprobs"}
    assert request["additionalProperties"] is False
    assert request["properties"]["max_tokens"] == {"default": 16, "minimum": 1,
                                                   "maximum": 2**31 - 1,
                                                   "title": "Max Tokens", "type": "integer"}
    assert request["properties"]["arrival_step"]["maximum"] == 1_000_000
    assert set(defs["GenerateSection"]["properties"]) == {
        "count", "seed", "prompt_len", "max_tokens", "arrival_rate", "shared_prefix_fraction",
        "shared_prefix_len", "ignore_eos", "id_prefix"}
    assert set(defs["EventSection"]["required"]) == {"step"}
    assert defs["EventSection"]["oneOf"] == [{"required": ["abort"]},
                                             {"required": ["reset_prefix_cache"]}]
    assert len(schema["properties"]["model"]["oneOf"]) == 3
    statuses = defs["ExpectSection"]["properties"]["statuses"]["additionalProperties"]
    assert set(statuses["enum"]) == set(FINISHED) >= {
        "FINISHED_STOPPED", "FINISHED_LENGTH", "FINISHED_ABORTED", "FINISHED_IGNORED"}

    def walk(node):  # every $ref resolves inside the document
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/$defs/") and ref.split("/")[-1] in defs
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)


# ---------------------------------------------------------------------- generate

GEN = HEAD + textwrap.dedent("""\
    requests:
      - {id: first, prompt: hello}
    generate:
      count: 500
      seed: 11
      prompt_len: [20, 40]
      max_tokens: [3, 9]
      arrival_rate: 0.5
      shared_prefix_fraction: 0.3
      shared_prefix_len: 12
    """)


def test_generate_is_deterministic_and_honours_ranges():
    a, b = load_scenario_text(GEN), load_scenario_text(GEN)
    assert a.requests == b.requests
    first, gen = a.requests[0], a.requests[1:]
    assert first.request_id == "first" and len(gen) == 500
    assert [r.request_id for r in gen] == [f"gen-{k}" for k in range(500)]
    assert all(20 <= len(r.prompt_token_ids) <= 40 for r in gen)
    assert {len(r.prompt_token_ids) for r in gen} >= {20, 40}  # inclusive ends
    assert {r.sampling_params.max_tokens for r in gen} == set(range(3, 10))
    assert all(r.sampling_params.ignore_eos and r.sampling_params.temperature == 0.0 for r in gen)
    assert all(32 <= t <= 126 for r in gen for t in r.prompt_token_ids)
    arrivals = [r.arrival_step for r in gen]
    assert arrivals == sorted(arrivals) and arrivals[0] >= 0
    assert 800 <= arrivals[-1] <= 1200  # 500 requests at 0.5 per step
    prefixes = [r.prompt_token_ids[:12] for r in gen]
    shared = max(set(prefixes), key=prefixes.count)
    assert 0.2 <= prefixes.count(shared) / 500 <= 0.4
    assert a.generate.count == 500 and a.generate.prompt_len == (20, 40)
    other = load_scenario_text(GEN.replace("seed: 11", "seed: 12"))
    assert other.requests != a.requests


def test_generate_defaults_all_at_step_zero():
    sc = load_scenario_text(HEAD + "generate: {count: 5, id_prefix: w, ignore_eos: false}\n")
    assert [r.request_id for r in sc.requests] == ["w0", "w1", "w2", "w3", "w4"]
    assert all(r.arrival_step == 0 and not r.sampling_params.ignore_eos for r in sc.requests)
    sc = load_scenario_text(HEAD + "generate: {count: 2}\nevents: [{step: 1, abort: gen-1}]\n")
    assert sc.events[0].request_id == "gen-1"


# ---------------------------------------------------------------------- bundled scenarios

REQUIRED = {"hello", "chunked_prefill", "continuous_batching", "starved_budget", "max_num_seqs",
            "kv_preemption", "preemption_thrash", "prefix_caching", "eos_vs_length", "abort",
            "priority", "never_fits", "large_workload"}


def test_bundled_set_and_every_one_loads():
    paths = bundled_scenarios()
    assert REQUIRED <= {p.stem for p in paths}
    for path in paths:
        sc = load_scenario(path)
        assert sc.name == path.stem
        assert len(sc.description.split()) >= 30, f"{path.name}: describe what to look at"
        assert sc.expect is not None and sc.expect.total_steps is not None


def test_repo_root_scenarios_is_the_bundled_directory():
    root = REPO / "scenarios"
    assert root.is_symlink()
    assert {p.name for p in root.glob("*.yaml")} == {p.name for p in bundled_scenarios()}


def test_resolve_scenario():
    hello = resolve_scenario("hello")
    assert hello.name == "hello.yaml" and hello.is_file()
    assert resolve_scenario("hello.yaml") == hello
    assert resolve_scenario(str(hello)) == Path(str(hello))
    with pytest.raises(ScenarioError) as info:
        resolve_scenario("no_such_scenario")
    assert str(info.value).startswith("no_such_scenario: no such file or bundled scenario")
    assert "hello" in info.value.message


def test_hello_is_the_lab():
    sc = load_scenario(resolve_scenario("hello"))
    (req,) = sc.requests
    assert (req.prompt, req.sampling_params.max_tokens, req.sampling_params.ignore_eos) == (
        "hello", 4, True)
    assert sc.engine == EngineConfig()


def test_bundled_scenarios_load_from_an_installed_copy(tmp_path):
    """Only the package directory (as pip installs it), no repository around it."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "mini_engine", site / "mini_engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = textwrap.dedent("""\
        import mini_engine
        from mini_engine.scenarios.catalog import bundled_scenarios, resolve_scenario
        from mini_engine.scenarios.loader import load_scenario
        assert mini_engine.__file__.startswith(%r), mini_engine.__file__
        paths = bundled_scenarios()
        assert all(str(p).startswith(%r) for p in paths)
        print(len(paths), load_scenario(resolve_scenario("hello")).name)
        """) % (str(site), str(site))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(bundled_scenarios())), "hello"]


def _run(sc: Scenario):
    """The scenario step convention (scenario.py), for checking the bundled expect blocks."""
    eng = LLMEngine(model=sc.model.build(), config=sc.engine)
    pending = sorted(sc.requests, key=lambda r: r.arrival_step)
    events = sorted(sc.events, key=lambda e: e.step)
    steps = preemptions = 0
    while True:
        while pending and pending[0].arrival_step <= steps:
            r = pending.pop(0)
            eng.add_request(r.request_id, r.prompt, r.sampling_params,
                            list(r.prompt_token_ids) if r.prompt_token_ids else None, r.priority)
        while events and events[0].step <= steps:
            eng.abort_request(events.pop(0).request_id)
        if not eng.has_unfinished_requests() and not pending:
            break
        eng.step()
        steps += 1
        preemptions += len(eng.last_scheduler_output.preempted_req_ids)
    statuses = {r.request_id: eng.get_request(r.request_id).status.name for r in sc.requests}
    return statuses, steps, preemptions


@pytest.mark.parametrize("name", sorted(REQUIRED - {"large_workload"}))
def test_small_bundled_scenarios_meet_their_expect_blocks(name):
    sc = load_scenario(resolve_scenario(name))
    statuses, steps, preemptions = _run(sc)
    assert statuses == sc.expect.statuses
    assert (steps, preemptions) == (sc.expect.total_steps, sc.expect.num_preemptions)


def test_engine_vllm_compat_key_runs_in_vllm_mode():
    text = textwrap.dedent("""\
        name: compat
        description: the lab's hello in vLLM-compatible mode
        engine: {vllm_compat: true}
        requests:
          - {id: req-0, prompt: hello, max_tokens: 4}
        """)
    scenario = load_scenario_text(text, "compat.yaml")
    assert scenario.engine.vllm_compat is True
    lab = load_scenario_text(text.replace("{vllm_compat: true}", "{}"), "lab.yaml")
    assert lab.engine.vllm_compat is False
    with pytest.raises(ScenarioError, match="engine.vllm_compat"):
        load_scenario_text(text.replace("true}", "3}"), "bad.yaml")
    from mini_engine import record
    assert record(scenario).num_steps == 5  # vLLM's trailing step
    assert record(lab).num_steps == 4
