"""The breakpoint condition language: parses what users type, never evaluates Python."""

import pytest

from mini_engine.debug.conditions import ConditionError, evaluate, names_in, parse_condition

STATE = {("kv_cache_usage",): 0.95, ("waiting",): 6, ("running",): 2, ("step",): 4,
         ("req-3", "status"): "RUNNING", ("req-3", "num_computed_tokens"): 17}


def check(text: str):
    return evaluate(parse_condition(text), STATE.__getitem__)


@pytest.mark.parametrize("text, expected", [
    ("kv_cache_usage > 0.9", True),
    ("kv_cache_usage > 0.96", False),
    ("waiting > 5", True),
    ("waiting >= 7", False),
    ("req-3.status == RUNNING", True),
    ("req-3.status == 'RUNNING'", True),
    ("req-3.status != WAITING", True),
    ("req-3.num_computed_tokens <= 17 and step == 4", True),
    ("waiting > 5 and running > 2", False),
    ("waiting > 50 or running == 2", True),
    ("not (step < 10)", False),
    ("not step < 3 and (waiting == 6 or running == 0)", True),
    ("req-9.status == RUNNING", False),   # unknown request: never equal
    ("req-9.status != RUNNING", True),
    ("step < -1", False),
    ("waiting == true", False),
])
def test_conditions_evaluate(text, expected):
    assert check(text) is expected


@pytest.mark.parametrize("text, column, message", [
    ("", 1, "empty condition"),
    ("waiting >", 10, "expected a value"),
    ("a == == b", 6, "unexpected '=='"),
    ("(waiting > 1", 13, "expected ')'"),
    ("step + 1 > 2", 6, "unexpected character"),
    ("step < 3 )", 10, "unexpected ')'"),
    ("__import__('os').system('x')", 17, "unexpected character"),
    ("__import__('os')", 11, "unexpected '('"),
])
def test_bad_conditions_name_the_column(text, column, message):
    with pytest.raises(ConditionError) as err:
        parse_condition(text)
    assert err.value.position + 1 == column
    assert err.value.message == message


def test_names_in_lists_every_field_read():
    node = parse_condition("req-3.status == RUNNING and (waiting > 5 or step > 1)")
    assert names_in(node) == [("req-3", "status"), ("RUNNING",), ("waiting",), ("step",)]
