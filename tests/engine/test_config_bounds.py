"""Engine settings and sampling parameters are checked at the boundary (issue 8, class 5).

`EngineConfig` and `SamplingParams` refuse wrong types and values outside the documented
limits (engine/config.py) with an error naming the argument, at once, instead of failing
deep inside a step or a recording. The limits keep every value within the engine's and
the recording's integer types: a run at the largest accepted values records and
round-trips through JSONL.
"""

from __future__ import annotations

import numpy as np
import pytest

from mini_engine.engine.config import (INT32_MAX, INT64_MAX, INT64_MIN, MAX_NUM_GPU_BLOCKS,
                                       MAX_TOKEN_ID, ConfigError, ConfigTypeError, EngineConfig)
from mini_engine.engine.errors import ArgumentError, ArgumentTypeError, MiniEngineError
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.sampling_params import SamplingParams


@pytest.mark.parametrize("settings,error,text", [
    ({"num_gpu_blocks": 10**7}, ConfigError,
     "num_gpu_blocks: must be at most 1000000, got 10000000"),
    ({"num_gpu_blocks": 1}, ConfigError,
     "num_gpu_blocks: must be at least 2 (block 0 is the reserved null block), got 1"),
    ({"num_gpu_blocks": 64.0}, ConfigTypeError, "num_gpu_blocks: must be an integer, got 64.0 "
     "(float)"),
    ({"long_prefill_token_threshold": 0.5}, ConfigTypeError,
     "long_prefill_token_threshold: must be an integer >= 0, got 0.5 (float)"),
    ({"long_prefill_token_threshold": -1}, ConfigError,
     "long_prefill_token_threshold: must be >= 0, got -1"),
    ({"max_model_len": 2**31}, ConfigError,
     "max_model_len: must be at most 2147483647, got 2147483648"),
    ({"max_model_len": 10**5000}, ConfigError,
     "max_model_len: must be at most 2147483647, got an integer of about 5001 digits"),
    ({"max_num_batched_tokens": 2**63}, ConfigError,
     "max_num_batched_tokens: must be at most 2147483647, got 9223372036854775808"),
    ({"max_num_seqs": 0}, ConfigError, "max_num_seqs: must be a positive integer, got 0"),
    ({"block_size": True}, ConfigTypeError, "block_size: must be a positive integer, got True "
     "(bool)"),
    ({"block_size": "16"}, ConfigTypeError, "block_size: must be a positive integer, got '16' "
     "(str)"),
    ({"enable_prefix_caching": "no"}, ConfigTypeError,
     "enable_prefix_caching: must be True or False, got 'no' (str)"),
    ({"enable_chunked_prefill": 1}, ConfigTypeError,
     "enable_chunked_prefill: must be True or False, got 1 (int)"),
    ({"policy": ["fcfs"]}, ConfigTypeError, "policy: must be 'fcfs' or 'priority', got ['fcfs']"),
    ({"policy": "lifo"}, ConfigError, "policy: must be 'fcfs' or 'priority', got 'lifo'"),
])
def test_engine_config_refuses_with_the_setting_named(settings, error, text):
    with pytest.raises(error) as info:
        EngineConfig(**settings)
    assert str(info.value) == text
    assert info.value.field == next(iter(settings))
    assert isinstance(info.value, (MiniEngineError, ValueError))
    if error is ConfigTypeError:
        assert isinstance(info.value, TypeError)


def test_the_largest_accepted_settings_and_numpy_integers():
    config = EngineConfig(num_gpu_blocks=MAX_NUM_GPU_BLOCKS, max_model_len=INT32_MAX,
                          max_num_batched_tokens=INT32_MAX, max_num_seqs=INT32_MAX,
                          long_prefill_token_threshold=INT32_MAX, block_size=INT32_MAX)
    assert config.num_gpu_blocks == 1_000_000
    config = EngineConfig(num_gpu_blocks=np.int64(64), max_num_seqs=np.int32(4))
    assert type(config.num_gpu_blocks) is int and type(config.max_num_seqs) is int
    assert config == EngineConfig(num_gpu_blocks=64, max_num_seqs=4)


def test_a_scheduler_setting_changed_on_a_running_engine_is_checked_too():
    engine = LLMEngine(num_gpu_blocks=16)
    with pytest.raises(ConfigTypeError, match="^long_prefill_token_threshold: must be an "):
        engine.update_settings(long_prefill_token_threshold=2.5)
    assert engine.config.long_prefill_token_threshold == 0


def test_the_scenario_schema_and_trace_set_go_through_the_same_checks():
    """One validation path: both build an EngineConfig, so its bounds hold for them."""
    from mini_engine.cli.common import UsageError
    from mini_engine.cli.trace import parse_settings
    from mini_engine.scenarios.loader import ScenarioError, load_scenario_text

    with pytest.raises(UsageError) as info:
        parse_settings(["num_gpu_blocks=100000000"])
    assert "num_gpu_blocks: must be at most 1000000, got 100000000" in str(info.value)
    with pytest.raises(UsageError) as info:
        parse_settings(["max_model_len=2147483648"])
    assert "max_model_len: must be at most 2147483647, got 2147483648" in str(info.value)
    text = ("name: t\ndescription: d\nengine:\n  max_model_len: 2147483648\n"
            "requests: [{prompt: a}]\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text)
    assert info.value.field == "engine.max_model_len"
    assert "must be at most 2147483647, got 2147483648" in info.value.message


# ------------------------------------------------------------------ SamplingParams

@pytest.mark.parametrize("params,error,text", [
    ({"seed": 1.5}, ArgumentTypeError, "seed must be an integer or None, got 1.5 (float)"),
    ({"seed": "7"}, ArgumentTypeError, "seed must be an integer or None, got '7' (str)"),
    ({"seed": 2**63}, ArgumentError, "seed must be between -9223372036854775808 and "
     "9223372036854775807, got 9223372036854775808"),
    ({"eos_token_id": 10**30}, ArgumentError, "eos_token_id must be between 0 and 2147483647, "
     "got an integer of about 31 digits"),
    ({"eos_token_id": -1}, ArgumentError, "eos_token_id must be between 0 and 2147483647, "
     "got -1"),
    ({"eos_token_id": 3.0}, ArgumentTypeError, "eos_token_id must be a token id (an integer) "
     "or None, got 3.0 (float)"),
    ({"stop_token_ids": 5}, ArgumentTypeError, "stop_token_ids must be a list of token ids, "
     "got 5"),
    ({"stop_token_ids": [1, None]}, ArgumentTypeError, "stop_token_ids[1] must be a token id "
     "(an integer), got None (NoneType)"),
    ({"stop_token_ids": [2**31]}, ArgumentError, "stop_token_ids[0] must be between 0 and "
     "2147483647, got 2147483648"),
    ({"max_tokens": 0}, ArgumentError, "max_tokens must be at least 1, got 0"),
    ({"max_tokens": 2**31}, ArgumentError, "max_tokens must be between 1 and 2147483647, "
     "got 2147483648"),
    ({"max_tokens": 2.5}, ArgumentTypeError, "max_tokens must be an integer, got 2.5 (float)"),
    ({"min_tokens": -1}, ArgumentError, "min_tokens must be >= 0, got -1"),
    ({"min_tokens": 5, "max_tokens": 4}, ArgumentError, "min_tokens (5) must be <= max_tokens "
     "(4)"),
    ({"temperature": float("nan")}, ArgumentError, "temperature must be a finite number, "
     "got nan"),
    ({"temperature": float("inf")}, ArgumentError, "temperature must be a finite number, "
     "got inf"),
    ({"temperature": -0.5}, ArgumentError, "temperature must be >= 0, got -0.5"),
    ({"temperature": 1e-9}, ArgumentError, "temperature must be 0 (greedy) or between 1e-06 "
     "and 1e+06, got 1e-09"),
    ({"temperature": "hot"}, ArgumentTypeError, "temperature must be a number, got 'hot' "
     "(str)"),
    ({"ignore_eos": "yes"}, ArgumentTypeError, "ignore_eos must be True or False, got 'yes' "
     "(str)"),
    ({"prompt_logprobs": 2**31}, ArgumentError, "prompt_logprobs must be at most 2147483647, "
     "got 2147483648"),
    ({"prompt_logprobs": 0.5}, ArgumentTypeError, "prompt_logprobs must be None, -1 (all) or "
     "an integer >= 0, got 0.5"),
])
def test_sampling_params_refuse_with_the_argument_named(params, error, text):
    with pytest.raises(error) as info:
        SamplingParams(**params)
    assert str(info.value) == text
    assert info.value.argument == text.split(" ")[0].split("[")[0]
    assert isinstance(info.value, ValueError) and isinstance(info.value, MiniEngineError)
    if error is ArgumentTypeError:
        assert isinstance(info.value, TypeError)


def test_sampling_params_take_numpy_integers_as_ints():
    sp = SamplingParams(max_tokens=np.int64(5), seed=np.uint32(3), temperature=1,
                        stop_token_ids=np.array([1, 2]), eos_token_id=np.int16(4))
    assert (sp.max_tokens, sp.seed, sp.temperature, sp.stop_token_ids, sp.eos_token_id) == (
        5, 3, 1.0, [1, 2], 4)
    assert all(type(v) is int for v in (sp.max_tokens, sp.seed, sp.eos_token_id,
                                        *sp.stop_token_ids))


def test_an_eos_outside_the_vocabulary_never_stops_and_never_crashes_min_tokens():
    """An id the model never samples is allowed (as in vLLM); min_tokens masking skips it."""
    engine = LLMEngine(num_gpu_blocks=16)
    engine.add_request("a", "hi", SamplingParams(max_tokens=5, min_tokens=3, eos_token_id=5000,
                                                 temperature=0.0))
    while engine.has_unfinished_requests():
        engine.step()
    assert engine.get_request("a").get_finished_reason() == "length"


def test_a_run_at_the_largest_accepted_values_records_and_round_trips(tmp_path):
    """Every value stored as int32 or int64 by a recording fits, at the limits."""
    from helpers import req, scenario
    from mini_engine.recording.jsonl import load_jsonl, save_jsonl
    from mini_engine.recording.recorder import record

    requests = [
        req("hi", 6, max_tokens=INT32_MAX, priority=INT64_MAX, seed=INT64_MAX,
            eos_token_id=MAX_TOKEN_ID, stop_token_ids=[MAX_TOKEN_ID]),
        req("lo", 6, max_tokens=3, priority=INT64_MIN, seed=INT64_MIN),
    ]
    sc = scenario(requests, policy="priority", max_model_len=24, max_num_seqs=INT32_MAX,
                  max_num_batched_tokens=INT32_MAX, long_prefill_token_threshold=INT32_MAX,
                  num_gpu_blocks=64, block_size=4)
    rec = record(sc)
    assert rec.complete and rec.num_steps > 0
    assert rec.seek(rec.num_steps).num_tokens.tolist() == [24, 9]
    path = tmp_path / "extreme.jsonl"
    save_jsonl(rec, path)
    loaded = load_jsonl(path)
    assert loaded.num_steps == rec.num_steps
    assert loaded.priorities.tolist() == [INT64_MAX, INT64_MIN]
