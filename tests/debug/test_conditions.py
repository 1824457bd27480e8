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


# ----------------------------------------------------------------------------- checking names

from mini_engine.debug.conditions import (FieldInfo, Literal, Name, Vocabulary,  # noqa: E402
                                          check_condition)

VOCAB = Vocabulary(
    names={"kv_cache_usage": FieldInfo(low=0, high=1, fraction=True),
           "waiting": FieldInfo(low=0, high=8)},
    fields={"status": FieldInfo("text", values=("RUNNING", "WAITING"))},
    records=("req-3",), values=("RUNNING", "WAITING", "req-3"))


def test_a_percent_is_a_hundredth_and_keeps_its_digit_limit():
    assert parse_condition("kv_cache_usage > 90%").right == Literal(0.9, percent=True)
    assert parse_condition("kv_cache_usage > 12.5%").right == Literal(0.125, percent=True)
    assert parse_condition("x > " + "9" * 30 + "%").right.percent
    with pytest.raises(ConditionError, match="number too long"):
        parse_condition("x > " + "9" * 31 + "%")
    with pytest.raises(ConditionError, match="unexpected character"):
        parse_condition("x > 90%%")


def test_check_turns_value_words_into_literals_and_keeps_names():
    node, warnings = check_condition("req-3.status == RUNNING and waiting > 2", VOCAB)
    assert warnings == ()
    assert node.operands[0].right == Literal("RUNNING")
    assert node.operands[0].left == Name(("req-3", "status"))
    assert node.operands[1].left == Name(("waiting",))


@pytest.mark.parametrize("text, column, message", [
    ("waitng > 2", 1, "unknown name 'waitng'; did you mean waiting?"),
    ("req-3.status == RUNING", 17, "unknown name 'RUNING'; did you mean RUNNING?"),
    ("req-4.status == RUNNING", 1, "unknown request 'req-4'; did you mean req-3?"),
    ("req-3.stat == RUNNING", 1, "unknown field 'stat'; did you mean status? (fields: status)"),
    ("qqq > 1", 1, "unknown name 'qqq'"),
    ("waiting > 20%", 1, "waiting is not a fraction: a percent such as 20% only applies to "
                         "0..1 fields"),
])
def test_check_refuses_unknown_names_where_they_are(text, column, message):
    with pytest.raises(ConditionError) as err:
        check_condition(text, VOCAB)
    assert (err.value.position + 1, err.value.message) == (column, message)


@pytest.mark.parametrize("text, warnings", [
    ("kv_cache_usage > 90", ("kv_cache_usage is 0..1, so 90 is out of range; the screen "
                             "shows percent: write 90% or 0.9",)),
    ("1000 < kv_cache_usage", ("kv_cache_usage is 0..1, so 1000 is out of range",)),
    ("waiting > 9 or waiting < -1", ("waiting is 0..8, so 9 is out of range",
                                     "waiting is 0..8, so -1 is out of range")),
    ("req-3.status == 'DONE'", ("req-3.status is never 'DONE'",)),
    ("waiting == true", ()),
])
def test_check_warns_about_literals_a_field_never_reaches(text, warnings):
    assert check_condition(text, VOCAB)[1] == warnings
