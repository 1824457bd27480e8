"""Helpers for the runner/recording/JSONL tests: hand-built scenarios and the engine's own state."""

from __future__ import annotations

from mini_engine.engine.config import EngineConfig
from mini_engine.recording.codes import STATUS_NAMES
from mini_engine.scenarios.runner import ScenarioRunner
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.scenarios.spec import ModelSpec, RequestSpec, Scenario, ScenarioEvent


def req(rid, prompt, max_tokens=4, arrival=0, priority=0, ignore_eos=True, **sp):
    """A request spec; `prompt` is text or a token count (letters, distinct per first id char)."""
    if isinstance(prompt, int):
        ids, text = tuple(65 + ((ord(rid[0]) * 7 + i) % 26) for i in range(prompt)), None
    else:
        ids, text = None, prompt
    return RequestSpec(rid, SamplingParams(max_tokens=max_tokens, temperature=0.0,
                                           ignore_eos=ignore_eos, **sp),
                       prompt=text, prompt_token_ids=ids, priority=priority, arrival_step=arrival)


def scenario(requests, events=(), model=None, **engine) -> Scenario:
    return Scenario("test", "", EngineConfig(**engine), model or ModelSpec(),
                    tuple(requests), tuple(ScenarioEvent(s, "abort", r) for s, r in events))


def engine_state(runner: ScenarioRunner) -> tuple:
    """Everything a frame shows, read straight from the engine."""
    eng = runner.engine
    sch = eng.scheduler
    kvm = sch.kv_cache_manager
    pool = kvm.block_pool
    reqs = {}
    for spec in runner.scenario.requests:
        try:
            r = eng.get_request(spec.request_id)
        except KeyError:
            reqs[spec.request_id] = ("PENDING",)
            continue
        reqs[spec.request_id] = (r.status.name, r.num_computed_tokens, r.num_tokens,
                                 r.num_cached_tokens, r.num_preemptions)
    codes = [4]
    for b in range(1, pool.num_gpu_blocks):
        rc = pool.ref_cnt[b]
        codes.append(3 if rc > 1 else 1 if rc == 1 else (2 if pool.block_hash[b] is not None else 0))
    return (reqs, [r.request_id for r in sch.running], [r.request_id for r in sch.waiting],
            {k: tuple(v) for k, v in kvm.req_to_blocks.items()}, codes,
            pool.get_num_free_blocks(), pool.get_usage(), len(sch.running), len(sch.waiting))


def recorded_state(st) -> tuple:
    reqs = {}
    for i, rid in enumerate(st.request_ids):
        name = STATUS_NAMES[st.status[i]]
        reqs[rid] = ("PENDING",) if name == "PENDING" else (
            name, int(st.num_computed_tokens[i]), int(st.num_tokens[i]),
            int(st.num_cached_tokens[i]), int(st.num_preemptions[i]))
    m = st.metrics
    return (reqs, list(st.running), list(st.waiting), dict(st.block_tables),
            st.block_states.tolist(), m.num_free_blocks, m.kv_cache_usage_perc,
            m.num_requests_running, m.num_requests_waiting)


def assert_seek_matches_engine(rec, sc) -> None:
    """seek(s) == the state of a fresh engine run stopped after s steps, for every s."""
    runner = ScenarioRunner(sc)
    s = 0
    while True:
        assert recorded_state(rec.seek(s)) == engine_state(runner), f"step {s}"
        if runner.is_done():
            break
        runner.step()
        s += 1
    assert s == rec.num_steps


# The lab scenario's vLLM-style log lines (`mini-engine run hello --format log`).
HELLO_LOG = [
    "Iteration(1): 1 context requests, 5 context tokens, 0 generation requests, "
    "0 generation tokens",
    "Iteration(2): 0 context requests, 0 context tokens, 1 generation requests, "
    "1 generation tokens",
    "Iteration(3): 0 context requests, 0 context tokens, 1 generation requests, "
    "1 generation tokens",
    "Iteration(4): 0 context requests, 0 context tokens, 1 generation requests, "
    "1 generation tokens",
    "Engine 000: Avg prompt throughput: 1.2 tokens/step, Avg generation throughput: "
    "1.0 tokens/step, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, "
    "Prefix cache hit rate: 0.0%",
]
