"""A pluggable model that misbehaves: `step()` is all or nothing (issue 8, class 6).

A model the engine does not ship runs guarded (engine/model_guard.py): if it raises, or
returns anything but one in-vocabulary token id per request, `step()` raises
`ModelError` naming the requests and leaves the engine exactly as before the step
(every piece of state `snapshot_helpers.engine_trace` reads, dict and queue orders
included), so the next `step()` works; a run that hits such errors and goes on with a
working model is step for step the undisturbed run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.errors import ArgumentError, MiniEngineError, ModelError
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.model import ConstantModel, LastPlusPosModel, ToyModel
from mini_engine.engine.sampling_params import SamplingParams
from snapshot_helpers import engine_trace

MAX_STEPS = 2000

# What a broken model returns instead of `good` (the right tokens), by kind.
BAD_ANSWERS = {
    "too_few": lambda good: good[:-1],
    "too_many": lambda good: good + [1],
    "none": lambda good: None,
    "nested": lambda good: [[t] for t in good],
    "floats": lambda good: [float(t) for t in good],
    "float_array": lambda good: np.array(good, dtype=np.float64),
    "bools": lambda good: [True] * len(good),
    "strings": lambda good: [str(t) for t in good],
    "out_of_vocab": lambda good: [257] * len(good),
    "negative": lambda good: [-1] * len(good),
    "huge": lambda good: [10**30] * len(good),
    "a_string": lambda good: "abc",
}
KINDS = ["raise", *BAD_ANSWERS]


class Faulty:
    """`inner`'s tokens, except on the calls in `fail_on` (1-based): raise or answer badly."""

    def __init__(self, inner, kind: str, fail_on: set[int]) -> None:
        self.inner, self.kind, self.fail_on = inner, kind, fail_on
        self.calls = 0

    def sample(self, requests):
        self.calls += 1
        good = self.inner.sample(requests)
        if self.calls not in self.fail_on:
            return good
        if self.kind == "raise":
            raise RuntimeError("the GPU caught fire")
        return BAD_ANSWERS[self.kind](list(good))


# ------------------------------------------------------------------ the property

@st.composite
def workloads(draw):
    block_size = draw(st.sampled_from([1, 2, 4]))
    max_num_seqs = draw(st.integers(1, 5))
    config = EngineConfig(
        max_num_batched_tokens=draw(st.integers(max_num_seqs, 40)), max_num_seqs=max_num_seqs,
        long_prefill_token_threshold=draw(st.sampled_from([0, 0, 3])), block_size=block_size,
        num_gpu_blocks=draw(st.integers(4, 14)), enable_prefix_caching=draw(st.booleans()),
        max_model_len=draw(st.integers(8, 48)), policy=draw(st.sampled_from(["fcfs", "priority"])))
    stem = (5, 5, 5, 5, 6, 6)  # shared prefixes: prefix hits, cached blocks to evict
    requests = draw(st.lists(st.tuples(
        st.integers(0, 4),  # arrival step
        st.lists(st.integers(0, 3), min_size=1, max_size=14),  # prompt tail
        st.booleans(),  # starts with the stem
        st.integers(1, 10),  # max_tokens
        st.integers(0, 2)), min_size=1, max_size=7))  # priority
    return config, requests


def run(config, requests, model, *, fast_paths=True, on_error=None, note=lambda _: None,
        **engine_kwargs):
    """Every step's full engine trace (steps that raised ModelError excluded), how many
    raised, and how many requests were preempted."""
    engine = LLMEngine(model=model, config=config, fast_paths=fast_paths, **engine_kwargs)
    ids = [f"r{i}" for i in range(len(requests))]
    traces, step, errors, preemptions, added = [], 0, 0, 0, set()
    last_arrival = max(r[0] for r in requests)
    while step <= last_arrival or engine.has_unfinished_requests():
        assert step + errors < MAX_STEPS
        for i, (arrival, tail, stem, max_tokens, priority) in enumerate(requests):
            if arrival == step and ids[i] not in added:
                added.add(ids[i])
                engine.add_request(ids[i], prompt_token_ids=[5, 5, 5, 5, 6, 6] * stem + tail,
                                   sampling_params=SamplingParams(max_tokens=max_tokens,
                                                                  ignore_eos=True),
                                   priority=priority)
        if engine.has_unfinished_requests():
            before = engine_trace(engine, ids)
            snapshot = engine.snapshot()
            try:
                engine.step()
            except ModelError as error:
                errors += 1
                assert engine_trace(engine, ids) == before
                assert engine.snapshot() == snapshot
                if on_error is not None:
                    on_error(error)
                continue  # the same step again, nothing added or aborted in between
            traces.append(engine_trace(engine, ids))
            preemptions += engine.last_stats.num_preemptions
            if engine.last_stats.num_preemptions:
                note("preempted")
            if any(e.kind == "blocks_evicted" for e in engine.last_step.events):
                note("blocks evicted")
            if any(e.kind == "blocks_hit" for e in engine.last_step.events):
                note("prefix hit")
        step += 1
    return traces, errors, preemptions


EVERY_STEP_ONCE = frozenset(range(1, 2 * MAX_STEPS, 2))  # each step fails, then is run again


@settings(deadline=None, max_examples=60, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(workloads(), st.sampled_from(KINDS),
       st.one_of(st.just(EVERY_STEP_ONCE), st.sets(st.integers(1, 12), min_size=1, max_size=4)),
       st.sampled_from(["last_plus_pos", "toy"]), st.booleans())
def test_a_failed_step_changes_nothing_and_the_run_goes_on_as_if_undisturbed(
        workload, kind, fail_on, model_kind, fast_paths):
    config, requests = workload
    inner = LastPlusPosModel() if model_kind == "last_plus_pos" else ToyModel()
    expected, _, _ = run(config, requests, inner, fast_paths=fast_paths)
    seen = []
    traces, errors, _ = run(config, requests, Faulty(inner, kind, fail_on), fast_paths=fast_paths,
                            on_error=seen.append, note=event)
    assert traces == expected
    assert errors == len(seen) and all(isinstance(e, MiniEngineError) for e in seen)
    event(f"errors: {min(errors, 2)}")


def test_a_guarded_run_of_a_working_model_is_the_unguarded_run():
    """The guard (a journaled block pool, saved state) changes no decision."""
    config = EngineConfig(max_num_batched_tokens=24, max_num_seqs=4, block_size=2,
                          num_gpu_blocks=14, max_model_len=40, policy="priority")
    requests = [(i % 3, [i % 4, 1, 2] * (1 + i % 4), i % 2 == 0, 3 + i, i % 3) for i in range(9)]
    unguarded, _, preemptions = run(config, requests, LastPlusPosModel())
    guarded, errors, _ = run(config, requests, LastPlusPosModel(), guard_model=True)
    assert guarded == unguarded and errors == 0
    assert preemptions > 0


# ------------------------------------------------------------------ the messages

def engine_with(model, n: int = 3) -> LLMEngine:
    engine = LLMEngine(model=model, max_num_batched_tokens=64, max_num_seqs=4)
    for i in range(n):
        engine.add_request(f"req-{i}", prompt_token_ids=[1, 2, 3],
                           sampling_params=SamplingParams(max_tokens=4))
    return engine


class Answer:
    """A model that always answers `answer` (or raises it, if it is an exception)."""

    def __init__(self, answer) -> None:
        self.answer = answer

    def sample(self, requests):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("answer,request_id,message", [
    (ValueError("bad\nshape"), None, "model Answer failed at step 1 on requests 'req-0', "
     "'req-1', 'req-2': ValueError: bad shape"),
    ([1, 2], None, "model Answer returned 2 tokens for 3 requests (requests 'req-0', 'req-1', "
     "'req-2')"),
    ([1, 2, 3, 4], None, "model Answer returned 4 tokens for 3 requests (requests 'req-0', "
     "'req-1', 'req-2')"),
    (None, None, "model Answer returned None for requests 'req-0', 'req-1', 'req-2': expected "
     "a list of 3 token ids"),
    ([1, [2], 3], "req-1", "model Answer returned [2] for request 'req-1': expected a token "
     "id (an integer)"),
    ([1, 2, 2.0], "req-2", "model Answer returned 2.0 for request 'req-2': expected a token "
     "id (an integer)"),
    ([True, 2, 3], "req-0", "model Answer returned True for request 'req-0': expected a token "
     "id (an integer)"),
    ([1, 257, 3], "req-1", "model Answer returned token 257 for request 'req-1': outside the "
     "vocabulary (0..256)"),
    ([1, 2, -5], "req-2", "model Answer returned token -5 for request 'req-2': outside the "
     "vocabulary (0..256)"),
    ([10**5000, 2, 3], "req-0", "model Answer returned token an integer of about 5001 digits "
     "for request 'req-0': outside the vocabulary (0..256)"),
])
def test_model_error_names_the_requests_and_what_was_wrong(answer, request_id, message):
    engine = engine_with(Answer(answer))
    before = engine_trace(engine, ["req-0", "req-1", "req-2"])
    with pytest.raises(ModelError) as info:
        engine.step()
    assert str(info.value) == message
    assert info.value.request_ids == ("req-0", "req-1", "req-2")
    assert info.value.request_id == request_id
    assert isinstance(info.value, MiniEngineError)
    assert engine_trace(engine, ["req-0", "req-1", "req-2"]) == before
    assert engine.step_count == 0


def test_numpy_integer_tokens_are_accepted_as_ints():
    engine = engine_with(Answer(np.array([7, 8, 9], dtype=np.int32)))
    engine.step()
    assert [engine.get_request(f"req-{i}").output_token_ids[-1] for i in range(3)] == [7, 8, 9]
    assert all(type(t) is int for t in engine.last_step.sampled)


def test_a_model_that_always_fails_stalls_nothing_and_can_be_replaced():
    """The engine stays put; resuming its snapshot with a working model finishes the run
    exactly as that model would have from the start."""
    broken = engine_with(Answer(RuntimeError("no")))
    for _ in range(3):
        with pytest.raises(ModelError):
            broken.step()
    resumed = LLMEngine.from_snapshot(broken.snapshot(), model=LastPlusPosModel())
    reference = engine_with(LastPlusPosModel())
    while reference.has_unfinished_requests():
        reference.step()
        resumed.step()
        assert resumed.last_step == reference.last_step
    assert not resumed.has_unfinished_requests()


def test_ctrl_c_inside_the_model_undoes_the_step_and_is_not_wrapped():
    engine = engine_with(Answer(KeyboardInterrupt()))
    before = engine_trace(engine, ["req-0", "req-1", "req-2"])
    with pytest.raises(KeyboardInterrupt):
        engine.step()
    assert engine_trace(engine, ["req-0", "req-1", "req-2"]) == before


class BadLogits:
    """A logits model whose rows are the wrong width."""

    vocab_size = 257

    def logits(self, last_tokens, positions):
        return np.zeros(3, np.float32)  # one row, not one per request


def test_a_logits_model_that_fails_in_the_sampler_is_a_model_error():
    engine = engine_with(BadLogits(), n=1)
    with pytest.raises(ModelError, match=r"^model BadLogits failed at step 1 on request "
                                         r"'req-0': "):
        engine.step()
    assert engine.get_request("req-0").num_computed_tokens == 0


def test_a_model_without_sample_or_logits_is_refused_when_the_engine_is_made():
    with pytest.raises(ModelError) as info:
        LLMEngine(model=object())
    assert str(info.value) == ("model object cannot be run: it has no sample(requests) "
                               "method, and no logits(last_tokens, positions) and vocab_size "
                               "to be sampled from")


@pytest.mark.parametrize("make,message", [
    (lambda: ConstantModel(300), "value must be between 0 and 256, got 300"),
    (lambda: ConstantModel(1.5), "value must be a token id (an integer), got 1.5 (float)"),
    (lambda: LastPlusPosModel(1000), "modulus must be between 1 and 257, got 1000"),
    (lambda: ToyModel(seed=-1), "seed must be between 0 and 9223372036854775807, got -1"),
    (lambda: ToyModel(eos_rate=2.0), "eos_rate must be between 0 and 1, got 2.0"),
])
def test_the_engines_own_models_check_their_settings(make, message):
    """They run unguarded, so whatever they return must be a valid token by construction."""
    with pytest.raises(ArgumentError) as info:
        make()
    assert str(info.value) == message
