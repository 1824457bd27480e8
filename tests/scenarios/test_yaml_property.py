"""Property (issue 8): any YAML text, hostile or not, loads as a valid Scenario or raises
one MiniEngineError whose message is one short printable line: deep nesting, huge and
odd numbers, unicode, tags, anchors and aliases (undefined, recursive, bombs), in the
places a scenario's fields are and anywhere else. Inputs are small by construction
(a few KB at most), so each is quick; no wall-clock assertion."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mini_engine.errors import MiniEngineError
from mini_engine.scenarios.loader import load_scenario_text
from mini_engine.scenarios.spec import Scenario

SETTINGS = settings(deadline=None, max_examples=300, derandomize=True)
TAGS = ["", "", "", "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!timestamp ",
        "!!binary ", "!!set ", "!!map ", "!!seq ", "!foo ", "!!python/object:os.system "]
WORDS = ["a", "hello", "req-0", "null", "~", "true", "no", "1", "-1", "0x1f", "0o17", "1_000",
         "1:30", ".inf", ".nan", "1e3", "1.0e+3", "2024-01-31", "2024-13-45", "<<", "=",
         "FINISHED_STOPPED", "fcfs", "priority", "é", "日本", "🙂"]

numbers = st.one_of(st.integers(-2**70, 2**70), st.integers(-10, 300),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.integers(1, 400).map(lambda n: "9" * n))
texts = st.one_of(st.sampled_from(WORDS),
                  st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
                  .map(lambda s: json.dumps(s, ensure_ascii=False)))  # a double-quoted scalar
scalars = st.tuples(st.sampled_from(TAGS), st.one_of(numbers.map(str), texts)) \
    .map(lambda t: t[0] + t[1])


def _collections(children):
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.one_of(st.sampled_from(WORDS), scalars), children), max_size=4)
        .map(lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"))


values = st.recursive(scalars, _collections, max_leaves=12)


@st.composite
def anchored(draw, inner=values):
    """A value, maybe anchored, maybe an alias to an earlier anchor, maybe nested deep."""
    kind = draw(st.sampled_from(["plain", "plain", "anchor", "alias", "deep", "bomb"]))
    if kind == "anchor":
        return f"&a{draw(st.integers(0, 3))} {draw(inner)}"
    if kind == "alias":
        return f"*a{draw(st.integers(0, 3))}"
    if kind == "deep":
        depth = draw(st.integers(1, 300))
        bracket = draw(st.sampled_from(["[]", "{}"]))
        middle = draw(inner) if bracket == "[]" else f"k: {draw(inner)}"
        opener = "[" if bracket == "[]" else "{k: "
        return opener * depth + middle + "]" * depth if bracket == "[]" else \
            opener * (depth - 1) + "{" + middle + "}" * depth
    if kind == "bomb":
        width = draw(st.integers(2, 12))
        return f"&a{draw(st.integers(0, 3))} [" + ", ".join(["*a0"] * width) + "]"
    return draw(inner)


@st.composite
def scenario_like(draw) -> str:
    """A scenario's shape with any field replaced, or extra keys and anchors around it."""
    def field(default: str) -> str:  # mostly the valid value, so validation goes deep
        return default if draw(st.integers(0, 19)) else draw(anchored())

    lines = [f"name: {field('t')}", f"description: {field('d')}"]
    if draw(st.booleans()):
        lines.append(f"engine: {{num_gpu_blocks: {field('64')}, block_size: {field('4')}}}")
    requests = [f"{{prompt: {field('hello')}, max_tokens: {field('3')}, "
                f"arrival_step: {field('0')}, seed: {field('1')}}}"
                for _ in range(draw(st.integers(1, 3)))]
    lines.append(f"requests: [{', '.join(requests)}]")
    if draw(st.booleans()):
        lines.append(f"generate: {{count: {field('3')}, arrival_rate: {field('0.5')}, "
                     f"seed: {field('0')}}}")
    if draw(st.booleans()):
        lines.append(f"events: [{{step: {field('1')}, abort: {field('req-0')}}}]")
    for _ in range(draw(st.integers(0, 3)) // 3):
        lines.append(f"{draw(st.one_of(st.sampled_from(WORDS), scalars))}: {draw(anchored())}")
    draw(st.randoms()).shuffle(lines)
    return "\n".join(lines) + "\n"


def _check(text: str) -> None:
    try:
        result = load_scenario_text(text, "p.yaml")
    except MiniEngineError as e:
        line = str(e)
        assert line.startswith("p.yaml")
        assert "\n" not in line and line.isprintable() and len(line) < 1200, line
    else:
        assert isinstance(result, Scenario)


@SETTINGS
@given(scenario_like())
def test_scenario_shaped_yaml_loads_or_fails_on_one_line(text):
    _check(text)


@SETTINGS
@given(st.lists(anchored(), min_size=1, max_size=4))
def test_any_yaml_value_loads_or_fails_on_one_line(parts):
    _check("\n".join(f"k{i}: {p}" for i, p in enumerate(parts)) + "\n")
    _check(parts[0] + "\n")


def test_known_hostile_shapes():
    lol = "a0: &a0 [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    for text in (lol, "[" * 100_000, "{a: " * 5000, "- " * 50_000 + "x", "&a [*a]",
                 "a: !!binary ===\n", "? [a]\n: 1\n", "a: " + "9" * 5000, "\ufeffname: x\n"):
        _check(text)
