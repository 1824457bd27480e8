#!/usr/bin/env python3
"""Drive the real vLLM 0.33 V1 scheduler step by step, without a model, and write a
per-step JSON-lines trace of its decisions: how tests/engine/golden/*.jsonl are recorded.

This project's copy of /work/shared/oracle/vllm_trace.py, extended (see
tests/engine/golden/README.md): scenario-level `ops` between steps
(`reset_prefix_cache`, `finish_requests`), per-request `cache_salt` and
`prompt_logprobs`, and two more fields per trace line, `ops` (what ran before this
step's schedule(), with its result) and `prefix_cache_stats` (this step's
SchedulerStats). The benchmark options (--timing, --no-trace, --no-log-stats) are left
out. It imports vllm only when run, inside the oracle venv; nothing in mini_engine or
the test suite imports it.

Usage:

    $HOME/.cache/vllm-oracle/bin/python tests/engine/golden/oracle_driver.py \
        SCENARIO.json [-o TRACE.jsonl] [--meta META.json] [--finished always|once]

The scheduler object is vllm.v1.core.sched.scheduler.Scheduler, built the way
vLLM's own unit tests build it (tests/v1/core/utils.py::create_scheduler): a
VllmConfig from a tiny model config (no weights, no tokenizer, no network), and a
KVCacheConfig with a single full-attention group of `num_gpu_blocks` blocks.
Each step mirrors EngineCore.step():

    add arrived requests -> ops due -> schedule() -> fake ModelRunnerOutput ->
    update_from_output()

The run ends once every request has arrived and none is unfinished (the lab's loop),
or, with the scenario's engine key `vllm_compat` (mini_engine's vLLM-compatible mode),
once `scheduler.has_requests()` is false (EngineCore's loop: the finished ids of the
last step are shipped by one more, empty, step, which is recorded).

Scenario format and token rule: oracle_scenario.py and /work/shared/oracle/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_scenario import ScenarioError, load_scenario  # noqa: E402

# Keep stdout clean for the JSONL trace, and never touch the network.
os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

# A 1-layer Llama config with no weights: lets ModelConfig build offline with
# skip_tokenizer_init. Written once to a cache folder (vLLM caches the architecture
# inspection per model path).
TINY_MODEL_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "num_hidden_layers": 1,
    "vocab_size": 256,
    "max_position_embeddings": 1048576,
    "rms_norm_eps": 1e-06,
    "rope_theta": 10000.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "tie_word_embeddings": False,
    "torch_dtype": "float32",
}
TINY_MODEL_DIR = os.environ.get("ORACLE_TINY_MODEL") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
    "mini-engine-oracle",
    "tiny_model",
)


def ensure_tiny_model() -> str:
    path = os.path.join(TINY_MODEL_DIR, "config.json")
    if not os.path.exists(path):
        os.makedirs(TINY_MODEL_DIR, exist_ok=True)
        with open(path, "w") as f:
            json.dump(TINY_MODEL_CONFIG, f, indent=2)
    return TINY_MODEL_DIR

ARRIVAL_BASE_TIME = 1_000_000.0


def apply_op(sched, op: dict, arrival_order: list) -> dict:
    """Run one op on the scheduler; return it with its result, for the trace.

    finish_requests' result (the requests it finished) is listed in arrival order:
    vLLM iterates a list of ids as a set (hash order varies between processes),
    and None as its request dict (arrival order).
    """
    from vllm.v1.request import RequestStatus

    rec = {k: v for k, v in op.items() if k != "before_step"}
    if op["op"] == "reset_prefix_cache":
        rec["result"] = sched.reset_prefix_cache(
            reset_running_requests=op["reset_running_requests"]
        )
    else:
        ids = op["request_ids"]
        done = sched.finish_requests(ids, RequestStatus[op["status"]])
        done_ids = {r.request_id for r in done}
        rec["result"] = [rid for rid in arrival_order if rid in done_ids]
    return rec


# ----------------------------------------------------------------------------
# Scheduler construction (mirrors tests/v1/core/utils.py::create_scheduler)
# ----------------------------------------------------------------------------


def build_scheduler(engine: dict):
    import torch
    from vllm.config import (
        CacheConfig,
        DeviceConfig,
        ModelConfig,
        ParallelConfig,
        SchedulerConfig,
        VllmConfig,
    )
    from vllm.v1.core.sched.async_scheduler import AsyncScheduler
    from vllm.v1.core.sched.scheduler import Scheduler
    from vllm.v1.kv_cache_interface import (
        FullAttentionSpec,
        KVCacheConfig,
        KVCacheGroupSpec,
    )
    from vllm.v1.structured_output import StructuredOutputManager

    bs = int(engine["block_size"])
    nb = int(engine["num_gpu_blocks"])
    mml = int(engine["max_model_len"])
    model_config = ModelConfig(
        model=ensure_tiny_model(),
        dtype="float32",
        seed=0,
        skip_tokenizer_init=True,
        max_model_len=mml,
    )
    scheduler_config = SchedulerConfig(
        max_num_seqs=int(engine["max_num_seqs"]),
        max_num_batched_tokens=int(engine["max_num_batched_tokens"]),
        max_model_len=mml,
        long_prefill_token_threshold=int(engine["long_prefill_token_threshold"]),
        enable_chunked_prefill=bool(engine["enable_chunked_prefill"]),
        async_scheduling=bool(engine["async_scheduling"]),
        is_encoder_decoder=model_config.is_encoder_decoder,
        policy=engine["policy"],
        scheduler_reserve_full_isl=bool(engine["scheduler_reserve_full_isl"]),
        watermark=float(engine["watermark"]),
    )
    cache_config = CacheConfig(
        block_size=bs,
        gpu_memory_utilization=0.9,
        cache_dtype="auto",
        enable_prefix_caching=bool(engine["enable_prefix_caching"]),
    )
    vllm_config = VllmConfig(
        scheduler_config=scheduler_config,
        model_config=model_config,
        cache_config=cache_config,
        parallel_config=ParallelConfig(),
        # No accelerator here; name the device so VllmConfig does not try to
        # detect one. The scheduler itself never touches a device.
        device_config=DeviceConfig(device="cpu"),
    )
    kv_cache_config = KVCacheConfig(
        num_blocks=nb,
        kv_cache_tensors=[],
        kv_cache_groups=[
            KVCacheGroupSpec(
                ["layer"],
                FullAttentionSpec(
                    block_size=bs, num_kv_heads=1, head_size=1, dtype=torch.float32
                ),
            )
        ],
    )
    cache_config.num_gpu_blocks = nb
    cls = AsyncScheduler if engine["async_scheduling"] else Scheduler
    sched = cls(
        vllm_config=vllm_config,
        kv_cache_config=kv_cache_config,
        block_size=bs,
        log_stats=True,  # as vLLM's scheduler tests; gives prefix_cache_stats
        structured_output_manager=StructuredOutputManager(vllm_config),
    )

    # Block hasher exactly as EngineCore sets it up (only with prefix caching).
    block_hasher = None
    if vllm_config.cache_config.enable_prefix_caching:
        from vllm.utils.hashing import get_hash_fn_by_name
        from vllm.v1.core.kv_cache_utils import (
            get_request_block_hasher,
            init_none_hash,
        )

        fn = get_hash_fn_by_name(vllm_config.cache_config.prefix_caching_hash_algo)
        init_none_hash(fn)
        block_hasher = get_request_block_hasher(
            bs, fn, vllm_config.num_hash_lookahead_tokens
        )
    return sched, vllm_config, block_hasher


def make_request(spec: dict, block_hasher, arrival_time: float):
    from vllm.sampling_params import SamplingParams
    from vllm.v1.request import Request

    sp = SamplingParams(
        ignore_eos=spec["ignore_eos"],
        max_tokens=spec["max_tokens"],
        stop_token_ids=spec["stop_token_ids"],
        temperature=0.0,
        prompt_logprobs=spec["prompt_logprobs"],
    )
    # What the input processor does with the tokenizer's EOS id.
    sp.update_from_generation_config({}, spec["eos_token_id"])
    return Request(
        request_id=spec["id"],
        prompt_token_ids=list(spec["prompt_token_ids"]),
        sampling_params=sp,
        pooling_params=None,
        arrival_time=arrival_time,
        priority=spec["priority"],
        block_hasher=block_hasher,
        cache_salt=spec["cache_salt"],
    )


# ----------------------------------------------------------------------------
# Fake model
# ----------------------------------------------------------------------------


def next_token(req, spec: dict, rule: dict) -> int:
    """Deterministic 'sampled' token for a request that has caught up.

    - per-request `output_token_ids` (if given): the k-th sampled token is
      output_token_ids[k], k = number of output tokens so far; when the list is
      exhausted the scenario's token_rule is used.
    - token_rule kind "last_plus_pos" (default): (last_token + pos) % modulus,
      last_token = last token of prompt+outputs so far, pos = 0-based position
      the new token will occupy in prompt+outputs (= current num_tokens).
    - token_rule kind "constant": always `value`.
    - token_rule kind "fixed": like last_plus_pos but errors if a request's
      output_token_ids list runs out.
    """
    fixed = spec["output_token_ids"]
    k = req.num_output_tokens
    if fixed is not None and k < len(fixed):
        return int(fixed[k])
    kind = rule["kind"]
    if kind == "fixed":
        raise RuntimeError(f"request {req.request_id}: output_token_ids exhausted")
    if kind == "constant":
        return int(rule.get("value", 0))
    return (req.all_token_ids[-1] + req.num_tokens) % int(rule.get("modulus", 256))


def build_model_output(sched, sched_out, specs: dict, rule: dict):
    from vllm.v1.outputs import ModelRunnerOutput

    req_ids = list(sched_out.num_scheduled_tokens.keys())
    sampled = []
    for rid in req_ids:
        req = sched.requests[rid]
        # After schedule(), num_computed_tokens already includes this step's
        # tokens. A request samples iff it has caught up with all its known
        # tokens (the GPU model runner discards samples of partial prefills).
        if req.num_computed_tokens >= req.num_tokens:
            sampled.append([next_token(req, specs[rid], rule)])
        else:
            sampled.append([])
    return ModelRunnerOutput(
        req_ids=req_ids,
        req_id_to_index={r: i for i, r in enumerate(req_ids)},
        sampled_token_ids=sampled,
        logprobs=None,
        prompt_logprobs_dict={},
        pooler_output=[],
    )


# ----------------------------------------------------------------------------
# Trace helpers
# ----------------------------------------------------------------------------


def num_blocks_held(sched, rid: str) -> int:
    total = 0
    for mgr in sched.kv_cache_manager.coordinator.single_type_managers:
        blocks = mgr.req_to_blocks.get(rid)  # .get: do not grow the defaultdict
        if blocks:
            total += sum(1 for b in blocks if not getattr(b, "is_null", False))
    return total


def req_record(sched, req, scheduled: int, preempted: bool, new_tokens) -> dict:
    return {
        "id": req.request_id,
        "status": req.status.name,
        "num_computed_tokens": req.num_computed_tokens,
        "num_tokens": req.num_tokens,
        "num_prompt_tokens": req.num_prompt_tokens,
        "num_output_tokens": req.num_output_tokens,
        "scheduled": scheduled,
        "preempted": preempted,
        "num_preemptions": req.num_preemptions,
        "new_token_ids": new_tokens,
        "num_blocks": num_blocks_held(sched, req.request_id),
    }


# ----------------------------------------------------------------------------
# Main loop
# ----------------------------------------------------------------------------


def add_arrivals(sched, pending: list, pending_idx: int, step: int, block_hasher, all_reqs):
    """Add the requests due at `step`; return the new pending index and their ids."""
    arrived = []
    while pending_idx < len(pending) and pending[pending_idx]["arrival_step"] <= step:
        spec = pending[pending_idx]
        pending_idx += 1
        # Deterministic arrival times: ordered by (arrival_step, file order).
        req = make_request(spec, block_hasher, ARRIVAL_BASE_TIME + pending_idx * 1e-3)
        sched.add_request(req)
        all_reqs[spec["id"]] = req
        arrived.append(spec["id"])
    return pending_idx, arrived


def step_line(sched, sched_out, engine_core_outputs, ctx: dict) -> dict:
    """The trace line of one step (see README.md "Trace line")."""
    all_reqs = ctx["all_reqs"]
    nst = sched_out.num_scheduled_tokens
    preempted_ids = set(sched_out.preempted_req_ids or ())
    recs, finished_now = [], []
    for rid, req in all_reqs.items():
        fin = req.is_finished()
        if fin and not ctx["status_before"][rid].startswith("FINISHED"):
            finished_now.append(rid)
        if fin and ctx["finished_mode"] == "once" and rid in ctx["reported_finished"]:
            continue
        if fin:
            ctx["reported_finished"].add(rid)
        new_toks = list(req.all_token_ids[ctx["ntok_before"][rid]:])
        recs.append(req_record(sched, req, nst.get(rid, 0), rid in preempted_ids, new_toks))
    # new / resumed are read after the ops (a reset may have preempted running ones).
    status = ctx["status_at_schedule"]
    num_running, num_waiting = sched.get_request_counts()
    return {
        "step": ctx["step"],
        "arrived": ctx["arrived"],
        "total_scheduled_tokens": sched_out.total_num_scheduled_tokens,
        "num_scheduled_reqs": len(nst),
        "scheduled": dict(nst),
        "scheduled_new": [rid for rid in nst if status.get(rid) == "WAITING"],
        "scheduled_resumed": [rid for rid in nst if status.get(rid) == "PREEMPTED"],
        "preempted": sorted(preempted_ids, key=list(all_reqs).index),
        "finished": finished_now,
        "num_running": num_running,
        "num_waiting": num_waiting,
        "running_order": [r.request_id for r in sched.running],
        "waiting_order": [r.request_id for r in sched.kv_holding_waiting]
        + [r.request_id for r in sched.waiting],
        "kv_cache_usage": round(sched.get_kv_cache_usage(), 6),
        "kv_cache_usage_after_schedule": round(ctx["usage_after_schedule"], 6),
        "num_free_blocks": sched.kv_cache_manager.block_pool.get_num_free_blocks(),
        "requests": recs,
        "ops": ctx["ops_done"],
        "prefix_cache_stats": prefix_cache_stats_record(engine_core_outputs),
    }


def run(scenario: dict, out, finished_mode: str = "always"):
    """Run the scenario, writing one JSON line per step to `out`; return the config."""
    rule = scenario["token_rule"]
    sched, vllm_config, block_hasher = build_scheduler(scenario["engine"])
    specs = {r["id"]: r for r in scenario["requests"]}
    pending = sorted(scenario["requests"], key=lambda r: r["arrival_step"])
    ops = scenario["ops"]
    pending_idx = op_idx = 0
    all_reqs: dict[str, object] = {}  # id -> Request, in arrival order
    reported_finished: set[str] = set()
    step = scenario["first_step"]
    last_step = step + scenario["max_steps"]
    engine_core_loop = bool(scenario["engine"]["vllm_compat"])
    while step < last_step:
        pending_idx, arrived = add_arrivals(
            sched, pending, pending_idx, step, block_hasher, all_reqs
        )
        if pending_idx >= len(pending) and not (
            sched.has_requests() if engine_core_loop
            else sched.get_num_unfinished_requests() > 0
        ):
            break
        status_before = {rid: r.status.name for rid, r in all_reqs.items()}
        ntok_before = {rid: r.num_tokens for rid, r in all_reqs.items()}
        ops_done = []
        while op_idx < len(ops) and ops[op_idx]["before_step"] <= step:
            ops_done.append(apply_op(sched, ops[op_idx], list(all_reqs)))
            op_idx += 1
        status_at_schedule = {rid: r.status.name for rid, r in all_reqs.items()}

        sched_out = sched.schedule()
        mro = build_model_output(sched, sched_out, specs, rule)
        usage_after_schedule = sched.get_kv_cache_usage()
        engine_core_outputs = sched.update_from_output(sched_out, mro)

        line = step_line(sched, sched_out, engine_core_outputs, {
            "step": step, "arrived": arrived, "all_reqs": all_reqs,
            "status_before": status_before, "status_at_schedule": status_at_schedule,
            "ntok_before": ntok_before, "ops_done": ops_done,
            "usage_after_schedule": usage_after_schedule,
            "finished_mode": finished_mode, "reported_finished": reported_finished,
        })
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
        step += 1
    else:
        print(
            f"oracle_driver: warning: stopped at max_steps={scenario['max_steps']} "
            f"with {sched.get_num_unfinished_requests()} unfinished requests",
            file=sys.stderr,
        )
    if op_idx < len(ops):
        print(
            f"oracle_driver: warning: {len(ops) - op_idx} ops were never applied "
            "(the run ended before their before_step)",
            file=sys.stderr,
        )
    return vllm_config


def prefix_cache_stats_record(engine_core_outputs) -> dict | None:
    """This step's SchedulerStats.prefix_cache_stats (a per-step delta), or None."""
    for eco in engine_core_outputs.values():
        stats = eco.scheduler_stats
        if stats is not None and stats.prefix_cache_stats is not None:
            p = stats.prefix_cache_stats
            return {
                "reset": p.reset,
                "requests": p.requests,
                "queries": p.queries,
                "hits": p.hits,
                "preempted_requests": p.preempted_requests,
                "preempted_queries": p.preempted_queries,
                "preempted_hits": p.preempted_hits,
            }
    return None


def meta(scenario: dict, vllm_config) -> dict:
    import torch
    import vllm

    sc = vllm_config.scheduler_config
    cc = vllm_config.cache_config
    return {
        "vllm_version": vllm.__version__,
        "torch_version": torch.__version__,
        "scheduler_class": "AsyncScheduler"
        if scenario["engine"]["async_scheduling"]
        else "Scheduler",
        "run_loop": "EngineCore (has_requests)"
        if scenario["engine"]["vllm_compat"]
        else "lab (unfinished requests)",
        "engine_requested": scenario["engine"],
        "effective": {
            "max_num_batched_tokens": sc.max_num_batched_tokens,
            "max_num_scheduled_tokens": sc.max_num_scheduled_tokens,
            "max_num_seqs": sc.max_num_seqs,
            "long_prefill_token_threshold": sc.long_prefill_token_threshold,
            "enable_chunked_prefill": sc.enable_chunked_prefill,
            "policy": sc.policy,
            "async_scheduling": sc.async_scheduling,
            "scheduler_reserve_full_isl": sc.scheduler_reserve_full_isl,
            "watermark": sc.watermark,
            "block_size": cc.block_size,
            "num_gpu_blocks": cc.num_gpu_blocks,
            "enable_prefix_caching": cc.enable_prefix_caching,
            "max_model_len": vllm_config.model_config.max_model_len,
        },
        "token_rule": scenario["token_rule"],
        "ops": scenario["ops"],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("-o", "--out", help="trace file (JSON lines); default stdout")
    ap.add_argument("--meta", help="write versions/effective config JSON here")
    ap.add_argument(
        "--finished",
        choices=["always", "once"],
        default="always",
        help="repeat finished requests in every later step (always) or only "
        "in the step they finished (once)",
    )
    args = ap.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as e:
        print(f"oracle_driver: error: {args.scenario}: {e}", file=sys.stderr)
        sys.exit(2)
    out = open(args.out, "w") if args.out else sys.stdout
    try:
        vllm_config = run(scenario, out, args.finished)
    finally:
        if args.out:
            out.close()
    if args.meta:
        with open(args.meta, "w") as f:
            json.dump(meta(scenario, vllm_config), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
