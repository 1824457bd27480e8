"""Issue 8, class 9 on the scenario side: request-level numbers are bounded so that no
accepted scenario describes a run past the recorder's step limit by construction, and
every number fits the engine's types (seeds and priorities int64, counts int32)."""

from __future__ import annotations

import warnings

import pytest

from mini_engine.recording.limits import MAX_RECORDED_STEPS
from mini_engine.scenarios.loader import ScenarioError, load_scenario_text
from mini_engine.scenarios.schema import MAX_SCENARIO_STEP

HEAD = "name: t\ndescription: d\n"
REQ = "requests: [{prompt: a}]\n"


def error_of(text: str) -> tuple:
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(HEAD + text, "x.yaml")
    return info.value.line, info.value.field, info.value.message


def test_the_step_bound_is_the_recorders():
    assert MAX_SCENARIO_STEP == MAX_RECORDED_STEPS == 1_000_000


@pytest.mark.parametrize("text,field,message", [
    ("requests: [{prompt: a, arrival_step: 1000000000}]\n", "requests[0].arrival_step",
     "must be <= 1000000, got 1000000000 (an integer)"),
    (REQ + "events: [{step: 1000001, abort: req-0}]\n", "events[0].step",
     "must be <= 1000000, got 1000001 (an integer)"),
    (REQ + "expect: {total_steps: 10000000}\n", "expect.total_steps",
     "must be <= 1000000, got 10000000 (an integer)"),
    ("requests: [{prompt: a, max_tokens: 1000000000000}]\n", "requests[0].max_tokens",
     "must be <= 2147483647, got 1000000000000 (an integer)"),
    ("requests: [{prompt: a, prompt_logprobs: 4294967296}]\n", "requests[0].prompt_logprobs",
     "must be <= 2147483647, got 4294967296 (an integer)"),
    ("generate: {count: 3, seed: 18446744073709551616}\n", "generate.seed",
     "must be <= 9223372036854775807, got 18446744073709551616 (an integer)"),
    ("model: {seed: 18446744073709551616}\n" + REQ, "model.seed",
     "must be <= 9223372036854775807, got 18446744073709551616 (an integer)"),
    ("generate: {count: 3, max_tokens: [1, 1099511627776]}\n", "generate.max_tokens[1]",
     "must be <= 2147483647, got 1099511627776 (an integer)"),
], ids=["arrival_step", "event_step", "total_steps", "max_tokens", "prompt_logprobs",
        "generate_seed", "model_seed", "generate_max_tokens"])
def test_numbers_out_of_bounds(text, field, message):
    line = 3 + text.startswith("requests: [{prompt: a}]\n")
    assert error_of(text) == (line, field, message)


@pytest.mark.parametrize("rate,shown,span", [("1.0e-9", "1e-09", "3e+09"),
                                             ("1.0e-300", "1e-300", "3e+300"),
                                             ("5.0e-324", "4.94066e-324", "inf")])
def test_an_arrival_rate_too_low_for_the_step_limit(rate, shown, span):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 1e-300 used to wrap to -2**63 with a RuntimeWarning
        assert error_of(f"generate: {{count: 3, arrival_rate: {rate}}}\n") == (
            3, "generate.arrival_rate",
            f"({shown}) is too low: 3 requests would arrive over about {span} steps, past the "
            f"limit of 1,000,000 (MAX_SCENARIO_STEP); use at least 3e-06")


def test_the_lowest_arrival_rate_is_accepted():
    sc = load_scenario_text(HEAD + "generate: {count: 100000, arrival_rate: 0.1, "
                                   "prompt_len: [1, 2], max_tokens: [1, 2]}\n")
    arrivals = [r.arrival_step for r in sc.requests]
    assert min(arrivals) >= 0 and max(arrivals) == 997_235  # the seed-0 draw
