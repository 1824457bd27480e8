"""`ScenarioRunner.snapshot()` / `resume()` on every bundled scenario: the resumed run is the run.

For each scenario the uninterrupted run is traced once (every step: SchedulerOutput,
stats, step record, every request, queues, block tables, free-queue order, prefix-cache
map) with a snapshot taken after every step. A snapshot at a random step k, pickled
and resumed, must then reproduce steps k+1.. exactly, arrivals and aborts included;
since the snapshots were taken from a run that went on, this also shows that later
steps don't leak into an earlier snapshot. With changed scheduler settings, the
resumed run must equal the original run to step k followed by `update_settings`.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mini_engine.engine.config import ConfigError
from mini_engine.scenarios.catalog import bundled_scenarios
from mini_engine.scenarios.loader import load_scenario
from mini_engine.scenarios.runner import ScenarioRunner
from snapshot_helpers import engine_trace, plain, round_trip

SMALL = [p.stem for p in bundled_scenarios() if p.stem != "large_workload"]
PATHS = {p.stem: p for p in bundled_scenarios()}


def runner_trace(runner: ScenarioRunner, result=None) -> tuple:
    ids = [spec.request_id for spec in runner.scenario.requests]
    applied = None if result is None else (
        result.step, tuple(r.request_id for r in result.finished),
        tuple(r.request_id for r in result.arrived), tuple(r.request_id for r in result.aborted))
    return (runner.steps_done, applied, runner.is_done(), engine_trace(runner.engine, ids))


def run_traced(runner: ScenarioRunner, snapshots: list | None = None) -> list[tuple]:
    traces = []
    while not runner.is_done():
        result = runner.step()
        traces.append(runner_trace(runner, result))
        if snapshots is not None:
            snapshots.append(runner.snapshot())
    return traces


@functools.lru_cache(maxsize=None)
def uninterrupted(name: str) -> tuple[list, list]:
    """The full run's traces and a snapshot after every step (index k: after k steps)."""
    runner = ScenarioRunner(load_scenario(PATHS[name]))
    snapshots = [runner.snapshot()]
    traces = run_traced(runner, snapshots)
    return traces, snapshots


def test_every_small_bundled_scenario_is_covered():
    assert len(SMALL) >= 12 and "hello" in SMALL and "priority" in SMALL


@pytest.mark.parametrize("name", SMALL)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_resume_at_a_random_step_replays_the_rest_exactly(name, data):
    traces, snapshots = uninterrupted(name)
    k = data.draw(st.integers(0, len(traces)), label="k")
    snap = round_trip(snapshots[k])
    assert snap == snapshots[k]
    resumed = ScenarioRunner.resume(snap)
    assert resumed.steps_done == k
    assert runner_trace(resumed)[3] == (traces[k - 1][3] if k else
                                        runner_trace(ScenarioRunner(load_scenario(PATHS[name])))[3])
    later: list = []
    assert run_traced(resumed, later) == traces[k:]
    assert later == snapshots[k + 1:]  # snapshots of the resumed run equal the original's


def test_resume_at_the_last_step_is_done():
    traces, snapshots = uninterrupted("hello")
    resumed = ScenarioRunner.resume(round_trip(snapshots[-1]))
    assert resumed.is_done() and resumed.steps_done == len(traces)
    assert resumed.run() == len(traces)


def test_initial_arrivals_survive_the_resume():
    _, snapshots = uninterrupted("abort")
    original = ScenarioRunner(load_scenario(PATHS["abort"]))
    resumed = ScenarioRunner.resume(round_trip(snapshots[3]))
    assert ([r.request_id for r in resumed.initial_arrived]
            == [r.request_id for r in original.initial_arrived])
    assert resumed.initial_arrived[0] is resumed.engine.get_request(
        original.initial_arrived[0].request_id)


def test_a_snapshot_is_unaffected_by_later_steps():
    runner = ScenarioRunner(load_scenario(PATHS["kv_preemption"]))
    runner.run(until=5)
    snap = runner.snapshot()
    frozen = round_trip(snap)
    output = plain(snap.engine.last_scheduler_output)
    runner.run()
    assert runner.steps_done > 5
    assert snap == frozen
    assert plain(snap.engine.last_scheduler_output) == output


# ------------------------------------------------------------------ changed settings


@st.composite
def scheduler_settings(draw, config) -> dict:
    """A random subset of scheduler settings that EngineConfig accepts with this config."""
    chunked = draw(st.booleans())
    max_num_seqs = draw(st.integers(1, 8))
    low = max(max_num_seqs, 1 if chunked else config.max_model_len)
    changes = {
        "max_num_batched_tokens": draw(st.integers(low, max(low, 96))),
        "max_num_seqs": max_num_seqs,
        "long_prefill_token_threshold": draw(st.sampled_from([0, 1, 3, 8])),
        "enable_chunked_prefill": chunked,
        "policy": draw(st.sampled_from(["fcfs", "priority"])),
    }
    keep = draw(st.sets(st.sampled_from(sorted(changes)), min_size=1))
    linked = {"max_num_batched_tokens", "max_num_seqs", "enable_chunked_prefill"}
    if keep & linked:
        keep |= linked  # validated together (budget >= seats; budget >= max_model_len unchunked)
    return {name: changes[name] for name in sorted(keep)}


@pytest.mark.parametrize("name", SMALL)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_resume_with_changed_settings_equals_switching_settings_at_step_k(name, data):
    traces, snapshots = uninterrupted(name)
    k = data.draw(st.integers(0, len(traces)), label="k")
    changes = data.draw(scheduler_settings(snapshots[k].engine.config), label="settings")
    reference = ScenarioRunner(load_scenario(PATHS[name]))
    reference.run(until=k)
    reference.engine.update_settings(**changes)
    resumed = ScenarioRunner.resume(round_trip(snapshots[k]), **changes)
    assert resumed.engine.config == reference.engine.config
    assert run_traced(resumed) == run_traced(reference)


def test_resume_refuses_cache_settings_naming_them():
    _, snapshots = uninterrupted("prefix_caching")
    for name, value in (("block_size", 32), ("num_gpu_blocks", 99),
                        ("enable_prefix_caching", False), ("max_model_len", 64)):
        with pytest.raises(ConfigError, match=f"^{name}: cannot change") as info:
            ScenarioRunner.resume(snapshots[2], **{name: value})
        assert info.value.field == name


# ------------------------------------------------------------------ the large workload


def test_large_workload_resumed_mid_run_replays_the_rest_exactly():
    """One fixed k in the overloaded middle of the run (preemptions, a long waiting queue)."""
    k = 9000
    scenario = load_scenario(PATHS["large_workload"])
    original = ScenarioRunner(scenario)
    original.run(until=k)
    resumed = ScenarioRunner.resume(round_trip(original.snapshot()))
    assert len(resumed.engine.scheduler.waiting) > 100  # the interesting part of the run
    steps = 0
    while not original.is_done():
        a, b = original.step(), resumed.step()
        steps += 1
        assert light_trace(original, a) == light_trace(resumed, b), f"step {original.steps_done}"
    assert resumed.is_done() and steps > 10000
    assert resumed.engine.snapshot() == original.engine.snapshot()
    assert resumed.steps_done == scenario.expect.total_steps


def light_trace(runner: ScenarioRunner, result) -> tuple:
    eng = runner.engine
    sch = eng.scheduler
    return (result.step, tuple(r.request_id for r in result.finished),
            tuple(r.request_id for r in result.arrived), plain(eng.last_scheduler_output),
            plain(eng.last_stats), eng.last_step, tuple(r.request_id for r in sch.running),
            tuple(sch.kv_cache_manager.block_pool.free_block_queue))
