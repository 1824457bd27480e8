"""Scenario files can reset the prefix cache between steps, salt requests, ask prompt logprobs."""

from __future__ import annotations

from mini_engine.engine.request import RequestStatus
from mini_engine.scenarios.loader import load_scenario_text
from mini_engine.scenarios.runner import ScenarioRunner

PROMPT = "The quick brown fox jumps over a lazy do"  # 40 tokens: two full blocks of 16


def _scenario(events: str, extra: str = "") -> str:
    return f"""
name: resets
description: prefix-cache resets from scenario events
engine: {{enable_prefix_caching: true, max_num_seqs: 2}}
model: {{rule: last_plus_pos}}
requests:
  - {{id: a, prompt: "{PROMPT}", max_tokens: 6, ignore_eos: true{extra}}}
  - {{id: b, prompt: "{PROMPT}", max_tokens: 6, ignore_eos: true, arrival_step: 1{extra}}}
events:
{events}
"""


def _run(text: str) -> list[tuple]:
    """Per step: (preempted ids, stats' preemption count, kinds of the step's engine events)."""
    runner = ScenarioRunner(load_scenario_text(text))
    steps = []
    while not runner.is_done():
        runner.step()
        eng = runner.engine
        steps.append((sorted(eng.last_scheduler_output.preempted_req_ids),
                      eng.last_stats.num_preemptions,
                      {e.kind for e in eng.last_step.events}))
    return steps


def test_reset_with_running_requests_preempts_them_and_the_next_step_resumes_them() -> None:
    steps = _run(_scenario("  - {step: 2, reset_prefix_cache: {reset_running_requests: true}}"))
    preempted, count, kinds = steps[2]  # step 3, the first after the reset
    assert (preempted, count) == (["a", "b"], 2)
    assert {"preempted", "cache_cleared", "admitted"} <= kinds
    assert [s[:2] for s in steps[3:]] == [([], 0)] * (len(steps) - 3)


def test_reset_without_the_flag_is_refused_while_blocks_are_held() -> None:
    steps = _run(_scenario("  - {step: 2, reset_prefix_cache: true}"))
    assert all(s[:2] == ([], 0) for s in steps)
    assert not any("cache_cleared" in s[2] for s in steps)


def test_cache_salt_and_prompt_logprobs_reach_the_engine() -> None:
    text = _scenario("  - {step: 9, reset_prefix_cache: true}", ", cache_salt: t1")
    runner = ScenarioRunner(load_scenario_text(text))
    runner.run()
    b = runner.engine.get_request("b")
    assert (b.cache_salt, b.num_cached_tokens, b.status) == ("t1", 32, RequestStatus.FINISHED_LENGTH)
    text = _scenario("  - {step: 9, reset_prefix_cache: true}", ", prompt_logprobs: 2")
    runner = ScenarioRunner(load_scenario_text(text))
    runner.run()
    assert runner.engine.get_request("b").num_cached_tokens == 0
