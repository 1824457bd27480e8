"""`LLMEngine.snapshot()` / `from_snapshot()`: save between steps, resume, and the rest is identical.

Random workloads (hypothesis) drive an engine with arrivals, aborts and prefix-cache
resets between steps; a snapshot at a random step, pickled and resumed, must give the
same trace as the uninterrupted run (snapshot_helpers.engine_trace: outputs, stats,
step records, every request, queues, block tables, free-queue order, prefix-cache map).
Changed settings are checked against their definition (original run to step k, then
`update_settings`) and, for each setting, with exact expected values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.engine.core.block_pool import BlockPool
from mini_engine.engine.core.kv_cache_manager import KVCacheManager
from mini_engine.engine.core.sched.scheduler import Scheduler
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.model import LastPlusPosModel, ToyModel
from mini_engine.engine.request import Request
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.snapshot import EngineSnapshot
from snapshot_helpers import engine_trace, round_trip

# ------------------------------------------------------------------ every field is accounted for

# Each persistent field must be saved by engine/snapshot.py (SAVED), rebuilt from the
# config or the constructor (REBUILT), or be per-step scratch that the next step rewrites
# before reading it (SCRATCH). A field added later fails here until it is classified.
FIELDS = {
    LLMEngine: dict(
        SAVED={"step_count", "last_scheduler_output", "last_stats", "last_step", "_arrivals",
               "_all_requests", "_prompts", "config", "model"},
        REBUILT={"tokenizer", "scheduler", "sampler", "sample_tokens", "_request_states",
                 "_guard"}),
    Scheduler: dict(
        SAVED={"requests", "waiting", "running", "finished_req_ids", "finished_outside_update",
               "step_counter", "events", "preemptions_in_step", "use_fast_paths",
               "max_num_scheduled_tokens", "max_num_running_reqs", "long_prefill_token_threshold",
               "enable_chunked_prefill", "policy", "config"},
        REBUILT={"max_model_len", "block_size", "kv_cache_manager", "block_hasher",
                 "vllm_compat", "length_status"},
        SCRATCH={"num_prefill_chunks", "last_schedule_view"}),
    KVCacheManager: dict(
        SAVED={"req_to_blocks", "num_cached_block", "room", "prefix_cache_stats", "use_fast_paths"},
        REBUILT={"block_size", "enable_caching", "max_model_len", "events", "block_pool",
                 "kv_events"}),
    BlockPool: dict(
        SAVED={"ref_cnt", "block_hash", "free_block_queue", "cached_block_hash_to_block"},
        REBUILT={"num_gpu_blocks", "enable_caching", "events", "kv_events"}),
    Request: dict(
        SAVED={"request_id", "sampling_params", "priority", "arrival_time", "status",
               "num_computed_tokens", "num_tokens", "num_preemptions", "stop_reason",
               "block_hashes", "is_prefill_chunk", "num_cached_tokens", "length_limit",
               "_prompt_token_ids", "_all_token_ids", "cache_salt"},
        # From the sampling params, the tokenizer's EOS and the engine's block hasher.
        REBUILT={"num_prompt_tokens", "max_tokens", "min_tokens", "temperature", "eos_token_id",
                 "stop_token_ids", "_stopping_token_ids", "_block_hasher", "_hash_block_size",
                 "skip_reading_prefix_cache"}),
}


def instance_fields(cls) -> set[str]:
    """The fields of a plain engine's objects and of a guarded one's (guard_model=True adds
    the step guard and a journaled block pool)."""
    if cls is Request:
        return set(Request.__slots__)
    fields: set[str] = set()
    for guard_model in (False, True):
        engine = LLMEngine(max_num_batched_tokens=8, max_num_seqs=2, num_gpu_blocks=8,
                           guard_model=guard_model)
        engine.add_request("a", prompt_token_ids=[1, 2, 3])
        objects = {LLMEngine: engine, Scheduler: engine.scheduler,
                   KVCacheManager: engine.scheduler.kv_cache_manager,
                   BlockPool: engine.scheduler.kv_cache_manager.block_pool}
        fields |= set(vars(objects[cls]))
    return fields


@pytest.mark.parametrize("cls", list(FIELDS), ids=lambda c: c.__name__)
def test_every_persistent_field_is_saved_rebuilt_or_scratch(cls):
    known = set().union(*FIELDS[cls].values())
    actual = instance_fields(cls)
    assert actual - known == set(), (
        f"{cls.__name__} has fields engine/snapshot.py does not know: save them there "
        f"(and list them as SAVED here), or classify them as REBUILT / SCRATCH")
    assert known - actual == set(), f"{cls.__name__}: fields gone, update this list"


# ------------------------------------------------------------------ random workloads


@dataclass(frozen=True)
class Op:
    """Something done between steps: add a request, abort one, or reset the prefix cache."""

    step: int
    kind: str  # "add" | "abort" | "reset" | "reset_running"
    prompt: tuple[int, ...] = ()
    max_tokens: int = 4
    priority: int = 0
    temperature: float = 0.0
    salt: str | None = None
    logprobs: bool = False  # prompt_logprobs: skips reading the prefix cache
    target: int = 0


@st.composite
def configs(draw) -> EngineConfig:
    max_model_len = draw(st.integers(8, 48))
    chunked = draw(st.booleans())
    max_num_seqs = draw(st.integers(1, 6))
    low = max(max_num_seqs, 1 if chunked else max_model_len)
    return EngineConfig(
        max_num_batched_tokens=draw(st.integers(low, max(low, 64))), max_num_seqs=max_num_seqs,
        long_prefill_token_threshold=draw(st.sampled_from([0, 0, 2, 5])),
        enable_chunked_prefill=chunked, block_size=draw(st.sampled_from([1, 2, 4, 8])),
        num_gpu_blocks=draw(st.integers(4, 24)), enable_prefix_caching=draw(st.booleans()),
        max_model_len=max_model_len, policy=draw(st.sampled_from(["fcfs", "priority"])))


ops = st.builds(
    Op, step=st.integers(0, 12), kind=st.sampled_from(["add"] * 6 + ["abort", "reset", "reset_running"]),
    prompt=st.tuples(st.just(7), st.just(7)).flatmap(
        lambda stem: st.lists(st.integers(0, 3), min_size=1, max_size=20).map(
            lambda tail: stem + tuple(tail))),
    max_tokens=st.integers(1, 10), priority=st.integers(0, 2),
    temperature=st.sampled_from([0.0, 0.8]), salt=st.sampled_from([None, None, "t1"]),
    logprobs=st.sampled_from([False, False, True]), target=st.integers(0, 9))


class Workload:
    """Replays the ops due after each step; `done` when nothing is left to do."""

    def __init__(self, ops_list: list[Op]) -> None:
        self.ops = sorted(ops_list, key=lambda o: o.step)
        self.ids: list[str] = []
        self.next = 0

    def apply_due(self, engine: LLMEngine, step: int) -> None:
        while self.next < len(self.ops) and self.ops[self.next].step <= step:
            op = self.ops[self.next]
            self.next += 1
            if op.kind == "add":
                rid = f"r{self.next}"
                self.ids.append(rid)
                engine.add_request(rid, prompt_token_ids=list(op.prompt), priority=op.priority,
                                   cache_salt=op.salt, sampling_params=SamplingParams(
                                       max_tokens=op.max_tokens, temperature=op.temperature,
                                       seed=op.target, prompt_logprobs=1 if op.logprobs else None))
            elif op.kind == "abort" and self.ids:
                engine.abort_request(self.ids[op.target % len(self.ids)])
            elif op.kind in ("reset", "reset_running"):
                engine.reset_prefix_cache(reset_running_requests=op.kind == "reset_running")

    def done(self, engine: LLMEngine) -> bool:
        return self.next >= len(self.ops) and not engine.has_unfinished_requests()


def run(engine: LLMEngine, workload: Workload, start: int, snapshots=None) -> list:
    """Steps from `start` until done (bounded), tracing each; optionally snapshot after each."""
    traces = []
    step = start
    while not workload.done(engine) and step < 400:
        engine.step()
        step += 1
        workload.apply_due(engine, step)
        traces.append(engine_trace(engine, workload.ids))
        if snapshots is not None:
            snapshots.append((round_trip(engine.snapshot()), workload.next, list(workload.ids)))
    return traces


def resumed_workload(ops_list, cursor: int, ids: list[str]) -> Workload:
    workload = Workload(ops_list)
    workload.next, workload.ids = cursor, list(ids)
    return workload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), ops_list=st.lists(ops, min_size=1, max_size=10),
       model=st.sampled_from(["toy", "rule"]), fast=st.booleans(), data=st.data())
def test_resume_at_a_random_step_of_a_random_workload(config, ops_list, model, fast, data):
    def new_engine():
        return LLMEngine(ToyModel() if model == "toy" else LastPlusPosModel(), config,
                         fast_paths=fast)

    engine = new_engine()
    workload = Workload(ops_list)
    workload.apply_due(engine, 0)
    snapshots = [(round_trip(engine.snapshot()), workload.next, list(workload.ids))]
    traces = run(engine, workload, 0, snapshots)
    k = data.draw(st.integers(0, len(traces)), label="k")
    snap, cursor, ids = snapshots[k]
    resumed = LLMEngine.from_snapshot(round_trip(snap))
    assert resumed.fast_paths == fast
    later = resumed_workload(ops_list, cursor, ids)
    assert run(resumed, later, k) == traces[k:]


def test_snapshot_is_frozen_and_shares_unchanged_requests():
    engine = LLMEngine(max_num_batched_tokens=8, max_num_seqs=1, num_gpu_blocks=16, block_size=2)
    engine.add_request("a", prompt_token_ids=[1, 2, 3], sampling_params=SamplingParams(max_tokens=9))
    engine.add_request("b", prompt_token_ids=[4, 5], sampling_params=SamplingParams(max_tokens=2))
    engine.step()
    first = engine.snapshot()
    engine.step()
    second = engine.snapshot()
    a1, b1 = first.requests
    a2, b2 = second.requests
    assert b2 is b1  # waiting behind max_num_seqs=1: unchanged, shared
    assert a2 is not a1 and a2.prompt_token_ids is a1.prompt_token_ids
    assert a1.output_token_ids == tuple(engine.get_request("a").output_token_ids)[:1]
    assert len(a2.output_token_ids) == 2
    with pytest.raises(AttributeError):
        first.step_count = 5  # frozen


def test_finished_requests_are_rebuilt_on_first_read_only():
    engine = LLMEngine(max_num_batched_tokens=16, max_num_seqs=2, num_gpu_blocks=16)
    engine.add_request("done", prompt_token_ids=[1, 2], sampling_params=SamplingParams(
        max_tokens=1, ignore_eos=True))
    engine.add_request("live", prompt_token_ids=[3, 4], sampling_params=SamplingParams(
        max_tokens=5, ignore_eos=True))
    engine.step()
    snap = engine.snapshot()
    resumed = LLMEngine.from_snapshot(snap)
    again = resumed.snapshot()
    assert again == snap and again.requests[0] is snap.requests[0]  # not rebuilt, shared
    done = resumed.get_request("done")
    assert done is resumed.get_request("done")
    assert (done.status.name, list(done.output_token_ids)) == (
        "FINISHED_LENGTH", list(engine.get_request("done").output_token_ids))
    assert resumed.snapshot() == snap


def test_resume_keeps_events_emitted_between_steps():
    """An arrival after step k is in the next step's record, `before` the schedule events."""
    engine = LLMEngine(max_num_batched_tokens=16, max_num_seqs=2, num_gpu_blocks=16)
    engine.add_request("a", prompt_token_ids=[1, 2, 3])
    engine.step()
    engine.add_request("b", prompt_token_ids=[4, 5])
    resumed = LLMEngine.from_snapshot(round_trip(engine.snapshot()))
    engine.step()
    resumed.step()
    assert resumed.last_step == engine.last_step
    assert resumed.last_step.num_before == 1
    assert resumed.last_step.events[0].kind == "queued"


def test_resume_after_a_reset_reports_its_preemptions_in_the_next_step():
    """reset_prefix_cache(reset_running_requests=True) between steps: the next output lists them."""
    engine = LLMEngine(max_num_batched_tokens=16, max_num_seqs=2, num_gpu_blocks=16, block_size=2)
    for rid in ("a", "b"):
        engine.add_request(rid, prompt_token_ids=[1, 2, 3], cache_salt="t",
                           sampling_params=SamplingParams(max_tokens=5, ignore_eos=True))
    engine.step()
    assert engine.reset_prefix_cache(reset_running_requests=True)
    resumed = LLMEngine.from_snapshot(round_trip(engine.snapshot()))
    assert resumed.get_request("a").cache_salt == "t"
    engine.step()
    resumed.step()
    assert resumed.last_scheduler_output.preempted_req_ids == ["b", "a"]
    assert engine_trace(resumed, "ab") == engine_trace(engine, "ab")


def test_model_defaults_to_the_snapshots_and_can_be_replaced():
    engine = LLMEngine(LastPlusPosModel(modulus=7), max_num_batched_tokens=16, num_gpu_blocks=16,
                       max_num_seqs=2)
    engine.add_request("a", prompt_token_ids=[1, 2, 3], sampling_params=SamplingParams(
        max_tokens=3, ignore_eos=True))
    engine.step()
    snap = engine.snapshot()
    assert LLMEngine.from_snapshot(snap).model is engine.model
    replaced = LLMEngine.from_snapshot(snap, model=LastPlusPosModel(modulus=5))
    while replaced.has_unfinished_requests():
        replaced.step()
    # next = (last + num_tokens) % modulus: 6 = (3 + 3) % 7 from the original model,
    # then (6 + 4) % 5 = 0 and (0 + 5) % 5 = 0 from the new one.
    assert list(replaced.get_request("a").output_token_ids) == [6, 0, 0]


# ------------------------------------------------------------------ changed settings


def waiting_engine(policy: str) -> LLMEngine:
    """One running request holding the only seat, three waiting with mixed priorities."""
    engine = LLMEngine(max_num_batched_tokens=16, max_num_seqs=1, num_gpu_blocks=32,
                       policy=policy)
    for rid, prio in (("run", 0), ("w2", 2), ("w0", 0), ("w1", 1)):
        engine.add_request(rid, prompt_token_ids=[1, 2, 3, 4], priority=prio,
                           sampling_params=SamplingParams(max_tokens=8, ignore_eos=True))
    engine.step()
    return engine


def waiting_ids(engine: LLMEngine) -> list[str]:
    return [r.request_id for r in engine.scheduler.waiting]


def test_fcfs_to_priority_requeues_waiting_by_priority_key():
    engine = waiting_engine("fcfs")
    assert waiting_ids(engine) == ["w2", "w0", "w1"]
    resumed = LLMEngine.from_snapshot(engine.snapshot(), policy="priority")
    assert waiting_ids(resumed) == ["w0", "w1", "w2"]
    assert resumed.config.policy == "priority" and resumed.scheduler.policy == "priority"


def test_priority_to_fcfs_keeps_the_priority_service_order():
    engine = waiting_engine("priority")
    engine.add_request("late", prompt_token_ids=[9, 9], priority=0)
    assert waiting_ids(engine) == ["w0", "late", "w1", "w2"]
    resumed = LLMEngine.from_snapshot(engine.snapshot(), policy="fcfs")
    assert waiting_ids(resumed) == ["w0", "late", "w1", "w2"]
    resumed.add_request("later", prompt_token_ids=[8], priority=0)
    assert waiting_ids(resumed) == ["w0", "late", "w1", "w2", "later"]  # FCFS from now on


def test_more_seats_and_budget_take_effect_at_the_next_step():
    engine = waiting_engine("fcfs")
    assert engine.last_scheduler_output.total_num_scheduled_tokens == 4
    resumed = LLMEngine.from_snapshot(engine.snapshot(), max_num_seqs=3,
                                      max_num_batched_tokens=6)
    resumed.step()
    out = resumed.last_scheduler_output
    # The running request decodes 1 token, then w2 gets 4 and w0 the last 1 of the budget.
    assert dict(out.num_scheduled_tokens) == {"run": 1, "w2": 4, "w0": 1}
    assert out.scheduled_new_req_ids == ["w2", "w0"]


def test_fewer_seats_than_running_keeps_them_running_and_admits_nobody():
    engine = LLMEngine(max_num_batched_tokens=32, max_num_seqs=3, num_gpu_blocks=32)
    for rid in ("a", "b", "c", "d"):
        engine.add_request(rid, prompt_token_ids=[1, 2], sampling_params=SamplingParams(
            max_tokens=8, ignore_eos=True))
    engine.step()
    resumed = LLMEngine.from_snapshot(engine.snapshot(), max_num_seqs=1)
    resumed.step()
    out = resumed.last_scheduler_output
    assert out.scheduled_running_req_ids == ["a", "b", "c"] and out.scheduled_new_req_ids == []
    assert out.waiting_stop_reason == "max_num_seqs"


def test_threshold_and_unchunked_prefill_apply_to_the_next_admission():
    engine = LLMEngine(max_num_batched_tokens=64, max_num_seqs=4, num_gpu_blocks=32,
                       max_model_len=64)
    engine.add_request("a", prompt_token_ids=[1] * 10)
    resumed = LLMEngine.from_snapshot(engine.snapshot(), long_prefill_token_threshold=4)
    resumed.step()
    assert resumed.last_scheduler_output.num_scheduled_tokens == {"a": 4}
    unchunked = LLMEngine.from_snapshot(engine.snapshot(), enable_chunked_prefill=False,
                                        max_num_batched_tokens=64)
    assert unchunked.scheduler.enable_chunked_prefill is False


@pytest.mark.parametrize("name,value", [("block_size", 8), ("num_gpu_blocks", 64),
                                        ("enable_prefix_caching", False), ("max_model_len", 99)])
def test_cache_settings_are_refused_with_the_settings_name(name, value):
    engine = waiting_engine("fcfs")
    with pytest.raises(ValueError, match=f"^{name}: cannot change on a running or resumed engine"):
        LLMEngine.from_snapshot(engine.snapshot(), **{name: value})
    with pytest.raises(ConfigError, match=f"^{name}: "):
        engine.update_settings(**{name: value})


def test_unknown_and_invalid_settings_are_refused():
    snap = waiting_engine("fcfs").snapshot()
    with pytest.raises(ConfigError, match="^max_batch: unknown setting"):
        LLMEngine.from_snapshot(snap, max_batch=3)
    with pytest.raises(ConfigError,
                       match=r"^max_num_batched_tokens: \(16\) must be >= max_num_seqs \(20\)"):
        LLMEngine.from_snapshot(snap, max_num_seqs=20)
    with pytest.raises(ConfigError, match="^policy: must be 'fcfs' or 'priority'"):
        LLMEngine.from_snapshot(snap, policy="lifo")


def test_update_settings_in_place_equals_resume_with_changed_settings():
    """The definition, on one hand-made case (the runner tests cover every scenario)."""
    def fresh():
        engine = waiting_engine("fcfs")
        engine.add_request("x", prompt_token_ids=list(range(30)), priority=1)
        return engine

    reference = fresh()
    snap = round_trip(reference.snapshot())
    reference.update_settings(policy="priority", max_num_seqs=2, max_num_batched_tokens=5)
    resumed = LLMEngine.from_snapshot(snap, policy="priority", max_num_seqs=2,
                                      max_num_batched_tokens=5)
    ids = ["run", "w2", "w0", "w1", "x"]
    while reference.has_unfinished_requests():
        reference.step()
        resumed.step()
        assert engine_trace(resumed, ids) == engine_trace(reference, ids)
    assert not resumed.has_unfinished_requests()
    assert isinstance(snap, EngineSnapshot)
