"""Issue 8, classes 1 and 8: hostile YAML gets the usual one-line ScenarioError (file, line,
field), never a traceback: deep nesting (RecursionError before), tags a scalar can't be
read as (KeyError, AttributeError from a regex returning None, a ValueError with no line
before), integers beyond 64 bits (OverflowError in the recording before), huge echoed
keys, non-string keys on their own line."""

from __future__ import annotations

import pytest
import yaml

from mini_engine.errors import MiniEngineError
from mini_engine.scenarios import yaml_reader
from mini_engine.scenarios.loader import ScenarioError, load_scenario, load_scenario_text

HEAD = "name: t\ndescription: d\n"
REQ = "requests: [{prompt: a}]\n"
TOP_KEYS = "name, description, engine, model, requests, events, generate, expect"
DEEP = "nested more than 64 levels deep (the limit, MAX_NESTING_DEPTH)"


def error_of(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "x.yaml")
    error = info.value
    assert "\n" not in str(error) and len(str(error)) < 1000
    return error


def where(error: ScenarioError) -> tuple:
    return error.line, error.field, error.message


@pytest.mark.parametrize("text,line,field_start", [
    (HEAD + "x: " + "[" * 500 + "]" * 500 + "\n" + REQ, 3, "x[0][0]"),
    (HEAD + "x: " + "{a: " * 500 + "1" + "}" * 500 + "\n" + REQ, 3, "x.a.a"),
    (HEAD + "".join("  " * i + "k:\n" for i in range(300)) + REQ, 67, "k.k.k"),
    ("- " * 2000 + "x\n", 1, "[0][0]"),
], ids=["flow_lists", "flow_mappings", "block_mappings", "block_lists"])
def test_deep_nesting_is_one_error(text, line, field_start):
    error = error_of(text)
    assert (error.line, error.message) == (line, DEEP)
    assert error.field.startswith(field_start)


def test_deep_nesting_through_aliases():
    # Each line adds one level without any syntactic nesting.
    chain = "a0: &a0 [1]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 5000))
    assert where(error_of(HEAD + chain + REQ)) == (67, "a64", DEEP)
    inner = "a: &a " + "[" * 40 + "]" * 40 + "\n"
    assert where(error_of(HEAD + inner + "b: " + "[" * 30 + "*a" + "]" * 30 + "\n" + REQ)) == \
        (4, "b" + "[0]" * 5, DEEP)  # the list whose content is 65 deep


def test_64_levels_are_fine():
    text = HEAD + REQ + "x: " + "[" * 63 + "]" * 63 + "\n"  # 64 with the top-level mapping
    assert where(error_of(text)) == (4, "x", f"unknown key 'x' (allowed: {TOP_KEYS})")


def test_alias_bomb_is_refused_before_it_expands():
    lol = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefghi", "bcdefghij"))
    assert where(error_of(lol)) == (6, "f[0]",
                                    "aliases expand to more than 100000 nodes (an alias bomb?)")


@pytest.mark.parametrize("value,message", [
    ("!!bool maybe", "YAML error: 'maybe' is not a valid !!bool (true or false)"),
    ("!!int foo", "YAML error: 'foo' is not a valid !!int (an integer)"),
    ("!!float 1e", "YAML error: '1e' is not a valid !!float (a number)"),
    ("!!timestamp foo", "YAML error: 'foo' is not a valid !!timestamp (a date like 2024-01-31)"),
    ("2024-13-45", "YAML error: '2024-13-45' is not a valid !!timestamp (a date like 2024-01-31)"),
    ("!!int 0x", "YAML error: '0x' is not a valid !!int (an integer)"),
    ("!!map x", "YAML error: expected a mapping node, but found scalar"),
    ("!!set {a, b}", "YAML error: the tag 'tag:yaml.org,2002:set' is not supported here (a "
                     "scenario holds mappings, lists and scalars)"),
    ("!foo x", "YAML error: could not determine a constructor for the tag '!foo'"),
    ("!!python/object/apply:os.system [ls]", "YAML error: could not determine a constructor "
     "for the tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
], ids=["bool", "int", "float", "timestamp", "bad_date", "hex", "map_on_scalar", "set",
        "local_tag", "python"])
def test_a_tag_that_cannot_be_read_is_one_error_on_its_line(value, message):
    text = HEAD + "requests:\n  - prompt: a\n    max_tokens: " + value + "\n"
    assert where(error_of(text)) == (5, "requests[0].max_tokens", message)


def test_tag_error_names_the_file_so_the_next_file_still_loads(tmp_path):
    bad, good = tmp_path / "a.yaml", tmp_path / "b.yaml"
    bad.write_text(HEAD + REQ + "expect: {total_steps: !!int foo}\n", encoding="utf-8")
    good.write_text(HEAD + REQ, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert str(info.value) == (f"{bad}:4: expect.total_steps: YAML error: 'foo' is not a "
                               f"valid !!int (an integer)")
    assert load_scenario(good).name == "t"


@pytest.mark.parametrize("field,value,message", [
    ("seed", str(2**64), f"must be <= {2**63 - 1}, got {2**64} (an integer)"),
    ("priority", str(-2**63 - 1), f"must be >= {-2**63}, got {-2**63 - 1} (an integer)"),
    ("max_tokens", str(2**31), f"must be <= {2**31 - 1}, got {2**31} (an integer)"),
    ("seed", "0x" + "f" * 90, f"must be <= {2**63 - 1}, got an integer of 109 digits"),
    ("seed", "9" * 5000, "YAML error: '999999999999999999999999999999'...'99999999' (5,000 "
                         "characters) is not a valid !!int (an integer): 5,000 characters is "
                         "longer than 100 (MAX_SCALAR_CHARS)"),
], ids=["seed_2_64", "priority_below_int64", "max_tokens_2_31", "hex_seed", "5000_digits"])
def test_integers_beyond_the_engines_types(field, value, message):
    text = HEAD + f"requests:\n  - prompt: a\n    {field}: {value}\n"
    assert where(error_of(text)) == (5, f"requests[0].{field}", message)


def test_a_huge_unknown_key_is_echoed_short():
    key = "k" * 100_000
    error = error_of(HEAD + REQ + f"? {key}\n: 1\n")
    assert error.line == 4
    assert error.message == (f"unknown key {'k' * 30!r}...{'k' * 8!r} (100,000 characters) "
                             f"(allowed: {TOP_KEYS})")
    assert len(str(error)) < 500


@pytest.mark.parametrize("key,shown", [("null", "null"), ("~", "null"), ("true", "true"),
                                       ("1.5", "1.5"), ("2", "2")])
def test_a_non_string_key_is_reported_on_its_own_line(key, shown):
    error = error_of(HEAD + REQ + "\n\n" + f"{key}: 5\n")
    assert where(error) == (6, shown, f"unknown key {shown} (allowed: {TOP_KEYS})")


def test_control_characters_in_a_message_are_escaped():
    text = HEAD + "requests: [{prompt: a, id: \"a\\e]0;PWNED\\a\"}]\n" \
        "events: [{step: 1, abort: \"\\e]0;X\\a\"}]\n"
    error = error_of(text)
    assert error.message == "unknown request '\\x1b]0;X\\x07'"
    assert not any(ch < " " for ch in str(error))


def test_merge_keys_and_aliases_still_work():
    text = HEAD + "requests:\n  - &r {prompt: abc, max_tokens: 3}\n  - {<<: *r, id: b}\n" \
        "  - {<<: [{max_tokens: 5}, *r], id: c, prompt: z}\n"
    sc = load_scenario_text(text)
    assert [(r.request_id, r.prompt, r.sampling_params.max_tokens) for r in sc.requests] == \
        [("req-0", "abc", 3), ("b", "abc", 3), ("c", "z", 5)]
    error = error_of(HEAD + "requests:\n  - &r {prompt: abc}\n  - <<: *r\n    max_tokens: x\n")
    assert where(error) == (6, "requests[1].max_tokens", "expected an integer, got 'x' (a string)")


def test_libyaml_parses_when_present():
    expected = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    assert yaml_reader.parser_class() is expected


def test_every_error_is_a_mini_engine_error():
    assert issubclass(ScenarioError, MiniEngineError)
