"""vLLM-compatible mode (`EngineConfig.vllm_compat`, `LLMEngine(vllm_compat=True)`) through the
public API: the three lab differences switched off, the lab default untouched, and the
setting carried by snapshots. Step-by-step equality with vLLM 0.33 itself is pinned by
the oracle's traces (test_golden_vllm.py: the `v*_compat_*` scenarios, and every lab
scenario re-run in this mode).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mini_engine import Event, LLMEngine, RequestStatus, SamplingParams, trace_request
from mini_engine.engine.config import ConfigError, ConfigTypeError, EngineConfig
from mini_engine.engine.model import LastPlusPosModel, ToyModel
from snapshot_helpers import round_trip
from test_snapshot import Workload, configs, ops, resumed_workload, run

GREEDY = dict(temperature=0.0, ignore_eos=True)


def lab_loop(engine: LLMEngine) -> list:
    """The lab's loop, by hand: the SchedulerOutput of every step (bounded)."""
    outputs = []
    while engine.scheduler.has_unfinished_requests() and len(outputs) < 1000:
        engine.step()
        outputs.append(engine.last_scheduler_output)
    return outputs


# ------------------------------------------------------------------ the setting


def test_the_setting_defaults_off_and_is_a_checked_switch():
    assert EngineConfig().vllm_compat is False
    assert LLMEngine().config.vllm_compat is False
    assert LLMEngine(vllm_compat=True).config.vllm_compat is True
    with pytest.raises(ConfigTypeError) as info:
        EngineConfig(vllm_compat="yes")
    assert str(info.value) == "vllm_compat: must be True or False, got 'yes' (str)"
    assert info.value.field == "vllm_compat"
    with pytest.raises(ConfigTypeError):
        EngineConfig(vllm_compat=1)


def test_to_dict_lists_the_switch_only_when_on():
    """A lab config's dict (a recording's header) is what it was before the switch existed."""
    lab = EngineConfig().to_dict()
    assert "vllm_compat" not in lab
    assert list(lab) == ["max_num_batched_tokens", "max_num_seqs", "long_prefill_token_threshold",
                         "enable_chunked_prefill", "block_size", "num_gpu_blocks",
                         "enable_prefix_caching", "max_model_len", "policy"]
    compat = EngineConfig(vllm_compat=True).to_dict()
    assert compat == {**lab, "vllm_compat": True}
    assert EngineConfig(**compat) == EngineConfig(vllm_compat=True)
    assert EngineConfig(**lab) == EngineConfig()


def test_the_switch_cannot_change_on_a_running_or_resumed_engine():
    engine = LLMEngine(vllm_compat=True, num_gpu_blocks=16)
    with pytest.raises(ConfigError) as info:
        engine.update_settings(vllm_compat=False)
    assert info.value.field == "vllm_compat"
    assert str(info.value) == ("vllm_compat: cannot change on a running or resumed engine: a run "
                               "follows either the lab or vLLM 0.33 from its first step")
    assert engine.config.vllm_compat is True and engine.scheduler.vllm_compat is True
    with pytest.raises(ConfigError, match="^vllm_compat: cannot change"):
        LLMEngine.from_snapshot(LLMEngine(num_gpu_blocks=16).snapshot(), vllm_compat=True)


# ------------------------------------------------------------------ (2) the status name


def test_finished_length_capped_exists_and_means_length():
    capped = RequestStatus.FINISHED_LENGTH_CAPPED
    assert RequestStatus.is_finished(capped)
    assert RequestStatus.get_finished_reason(capped) == "length"
    assert str(capped) == "FINISHED_LENGTH_CAPPED"
    # The lab's statuses keep their values (a recording's status codes); the new one is last.
    assert [(s.name, s.value) for s in RequestStatus] == [
        ("WAITING", 1), ("RUNNING", 2), ("PREEMPTED", 3), ("FINISHED_STOPPED", 4),
        ("FINISHED_LENGTH", 5), ("FINISHED_ABORTED", 6), ("FINISHED_IGNORED", 7),
        ("FINISHED_LENGTH_CAPPED", 8)]


@pytest.mark.parametrize("fast_paths", [True, False])
def test_length_stops_are_capped_in_compat_mode_and_plain_in_the_lab(fast_paths):
    def finish(vllm_compat: bool):
        engine = LLMEngine(vllm_compat=vllm_compat, fast_paths=fast_paths, max_model_len=12,
                           long_prefill_token_threshold=3)
        outs = engine.generate(["abcd", "abcdefgh"], [SamplingParams(max_tokens=3, **GREEDY),
                                                      SamplingParams(max_tokens=50, **GREEDY)])
        return [(o.status, o.finish_reason, len(o.token_ids)) for o in outs]

    # "abcdefgh" stops at max_model_len (12 tokens: 4 outputs), "abcd" at max_tokens.
    assert finish(True) == [("FINISHED_LENGTH_CAPPED", "length", 3),
                            ("FINISHED_LENGTH_CAPPED", "length", 4)]
    assert finish(False) == [("FINISHED_LENGTH", "length", 3), ("FINISHED_LENGTH", "length", 4)]


def test_eos_and_abort_keep_their_statuses_in_compat_mode():
    engine = LLMEngine(LastPlusPosModel(), vllm_compat=True, num_gpu_blocks=16)
    # last_plus_pos: "a" (97) at position 1 samples 98; an EOS of 98 stops it at once.
    engine.add_request("eos", "a", SamplingParams(max_tokens=5, eos_token_id=98))
    engine.add_request("abort", "b", SamplingParams(max_tokens=5, **GREEDY))
    engine.step()
    engine.abort_request("abort")
    assert engine.get_request("eos").status.name == "FINISHED_STOPPED"
    assert engine.get_request("abort").status.name == "FINISHED_ABORTED"


# ------------------------------------------------------------------ (3) the trailing step


def test_the_lab_loop_takes_the_trailing_step_in_compat_mode():
    """vLLM's EngineCore steps while has_requests(): one more, empty, step ships the id."""
    lab = LLMEngine()
    lab.add_request("req-0", "hello", SamplingParams(max_tokens=4, **GREEDY))
    assert len(lab_loop(lab)) == 4  # lab deviation (3): exactly max_tokens steps

    engine = LLMEngine(vllm_compat=True)
    engine.add_request("req-0", "hello", SamplingParams(max_tokens=4, **GREEDY))
    outputs = lab_loop(engine)
    assert len(outputs) == 5
    assert [o.total_num_scheduled_tokens for o in outputs] == [5, 1, 1, 1, 0]
    assert [sorted(o.finished_req_ids) for o in outputs] == [[], [], [], [], ["req-0"]]
    assert outputs[-1].num_scheduled_tokens == {}
    assert engine.step_count == 5 and engine.last_step.finished == ()
    assert engine.get_request("req-0").status is RequestStatus.FINISHED_LENGTH_CAPPED
    assert not engine.has_unfinished_requests() and not engine.scheduler.has_requests()


def test_has_requests_and_has_finished_requests_are_vllms():
    for vllm_compat in (False, True):
        engine = LLMEngine(vllm_compat=vllm_compat, num_gpu_blocks=16)
        sched = engine.scheduler
        assert (sched.has_requests(), sched.has_finished_requests()) == (False, False)
        engine.add_request("a", "xy", SamplingParams(max_tokens=1, **GREEDY))
        assert (sched.has_requests(), sched.has_finished_requests()) == (True, False)
        assert engine.step() and sched.get_num_unfinished_requests() == 0
        # Finished, its id not yet shipped: only compat mode's run loop goes on.
        assert (sched.has_requests(), sched.has_finished_requests()) == (True, True)
        assert engine.has_unfinished_requests() is vllm_compat
        assert sched.has_unfinished_requests() is vllm_compat
        engine.step()
        assert (sched.has_requests(), sched.has_unfinished_requests()) == (False, False)


def test_trace_request_in_compat_mode():
    """The lab's recipe with --set vllm_compat=true: the same events (the trailing step runs
    nothing and finishes nothing), the length stop under vLLM's name."""
    events = trace_request("hello", max_tokens=4, vllm_compat=True)
    assert events == [
        Event("req-0", "RUNNING", 5, 6), Event("req-0", "RUNNING", 6, 7),
        Event("req-0", "RUNNING", 7, 8), Event("req-0", "FINISHED_LENGTH_CAPPED", 8, 9)]


def test_an_abort_of_the_last_request_is_shipped_by_one_more_step():
    engine = LLMEngine(vllm_compat=True, num_gpu_blocks=16)
    engine.add_request("a", "xyz", SamplingParams(max_tokens=9, **GREEDY))
    engine.step()
    engine.abort_request("a")
    assert engine.has_unfinished_requests()
    assert engine.step() == [] and engine.last_scheduler_output.finished_req_ids == {"a"}
    assert engine.last_scheduler_output.total_num_scheduled_tokens == 0
    assert not engine.has_unfinished_requests()


def test_an_ignored_request_is_shipped_by_one_step_in_compat_mode():
    """A prompt that can never run finishes at add (FINISHED_IGNORED): the lab's loop never
    steps for it; vLLM-compatible mode ships its id in one empty step, which returns it."""
    for vllm_compat, steps in ((False, 0), (True, 1)):
        engine = LLMEngine(vllm_compat=vllm_compat, max_model_len=4, max_num_batched_tokens=4,
                           max_num_seqs=4)
        request = engine.add_request("big", "abcdef")
        assert request.status is RequestStatus.FINISHED_IGNORED
        finished = []
        while engine.has_unfinished_requests():
            finished += engine.step()
        assert (engine.step_count, finished) == (steps, [request] * steps)


# ------------------------------------------------------------------ (1) the threshold


def threshold_run(vllm_compat: bool, companion_at: int | None, steps: int = 12) -> list:
    """r0: 20-token prompt, max_tokens 2, threshold 3, budget 8; r1 (2 tokens, max_tokens 1)
    arrives before step `companion_at` (0-based). Returns each step's scheduled tokens."""
    engine = LLMEngine(vllm_compat=vllm_compat, long_prefill_token_threshold=3,
                       max_num_batched_tokens=8, max_num_seqs=4, num_gpu_blocks=64)
    engine.add_request("r0", prompt_token_ids=list(range(1, 21)),
                       sampling_params=SamplingParams(max_tokens=2, **GREEDY))
    scheduled = []
    for step in range(steps):
        if step == companion_at:
            engine.add_request("r1", prompt_token_ids=[1, 2],
                               sampling_params=SamplingParams(max_tokens=1, **GREEDY))
        if not engine.has_unfinished_requests():
            break
        engine.step()
        scheduled.append(dict(engine.last_scheduler_output.num_scheduled_tokens))
    return scheduled


def test_a_lone_request_ignores_the_threshold_only_in_compat_mode():
    # Alone, r0 takes the whole budget (8, 8, then the last 4 and a sample), then decodes.
    assert threshold_run(True, None) == [{"r0": 8}, {"r0": 8}, {"r0": 4}, {"r0": 1}, {}]
    assert threshold_run(False, None) == [{"r0": 3}] * 6 + [{"r0": 2}, {"r0": 1}]


def test_a_companion_turns_the_threshold_on_and_its_finish_turns_it_off():
    # r1 arrives before step 1: two eligible -> r0 cut to 3; r1 (2 tokens, max_tokens 1)
    # finishes in step 1, so from step 2 r0 is alone again: the budget (8), the last
    # prompt token (and its first sample), one decode, the trailing step.
    assert threshold_run(True, 1) == [{"r0": 8}, {"r0": 3, "r1": 2}, {"r0": 8}, {"r0": 1},
                                      {"r0": 1}, {}]
    assert threshold_run(False, 1) == [{"r0": 3}, {"r0": 3, "r1": 2}] + [{"r0": 3}] * 4 + [
        {"r0": 2}, {"r0": 1}]


def test_a_waiting_request_counts_as_eligible():
    """Eligible = running + waiting when schedule() starts: a request kept waiting by
    max_num_seqs still turns the threshold on for the running one."""
    engine = LLMEngine(vllm_compat=True, long_prefill_token_threshold=3, max_num_seqs=1,
                       num_gpu_blocks=64)
    for rid in ("a", "b"):
        engine.add_request(rid, prompt_token_ids=list(range(1, 10)),
                           sampling_params=SamplingParams(max_tokens=1, **GREEDY))
    outputs = lab_loop(engine)
    assert [dict(o.num_scheduled_tokens) for o in outputs] == [
        {"a": 3}, {"a": 3}, {"a": 3}, {"b": 9}, {}]


# ------------------------------------------------------------------ snapshots


def test_a_snapshot_carries_the_switch_and_the_pending_trailing_step():
    engine = LLMEngine(vllm_compat=True, num_gpu_blocks=16, long_prefill_token_threshold=2)
    engine.add_request("a", "abcdef", SamplingParams(max_tokens=2, **GREEDY))
    engine.step()
    engine.step()  # "a" finishes: its id waits for the trailing step
    snap = round_trip(engine.snapshot())
    assert snap.config.vllm_compat is True
    resumed = LLMEngine.from_snapshot(snap)
    assert resumed.config.vllm_compat and resumed.scheduler.vllm_compat
    assert resumed.get_request("a").status is RequestStatus.FINISHED_LENGTH_CAPPED
    assert resumed.has_unfinished_requests()
    resumed.step()
    assert resumed.last_scheduler_output.finished_req_ids == {"a"}
    assert not resumed.has_unfinished_requests() and resumed.step_count == 3


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(config=configs().map(lambda c: replace(c, vllm_compat=True)),
       ops_list=st.lists(ops, min_size=1, max_size=8), model=st.sampled_from(["toy", "rule"]),
       fast=st.booleans(), data=st.data())
def test_resume_at_a_random_step_in_compat_mode(config, ops_list, model, fast, data):
    """test_snapshot's random workloads, in vLLM-compatible mode: every later step of a
    resumed engine equals the original run's (trailing steps included)."""
    engine = LLMEngine(ToyModel() if model == "toy" else LastPlusPosModel(), config,
                       fast_paths=fast)
    workload = Workload(ops_list)
    workload.apply_due(engine, 0)
    snapshots = [(round_trip(engine.snapshot()), workload.next, list(workload.ids))]
    traces = run(engine, workload, 0, snapshots)
    k = data.draw(st.integers(0, len(traces)), label="k")
    snap, cursor, ids = snapshots[k]
    resumed = LLMEngine.from_snapshot(round_trip(snap))
    assert resumed.config.vllm_compat
    assert run(resumed, resumed_workload(ops_list, cursor, ids), k) == traces[k:]
