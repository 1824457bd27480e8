"""The oracle's scenario format (stdlib only): read by the vLLM driver and by mini_engine's harness.

`oracle_driver.py` (run inside the vLLM oracle venv) and `tests/engine/golden_harness.py`
(run with mini_engine) both load scenarios here, so the two sides can never read a file
differently. Format: /work/shared/oracle/README.md "Scenario file", plus what this
project added (tests/engine/golden/README.md): per request `cache_salt` and
`prompt_logprobs`, and scenario-level `ops` run between steps.
"""

from __future__ import annotations

import json

ENGINE_DEFAULTS = {
    "max_num_batched_tokens": 2048,
    "max_num_seqs": 16,
    "long_prefill_token_threshold": 0,
    "enable_chunked_prefill": True,
    "block_size": 16,
    "num_gpu_blocks": 10000,
    "enable_prefix_caching": False,
    # None -> max_num_batched_tokens (same default as vLLM's create_scheduler)
    "max_model_len": None,
    # Extra knobs (real vLLM defaults unless noted).
    "async_scheduling": False,  # tests' default; the engine default is True
    "policy": "fcfs",
    "scheduler_reserve_full_isl": True,
    "watermark": 0.0,
    # Not a vLLM setting: mini_engine's EngineConfig.vllm_compat. For the oracle it only
    # selects the run loop: true -> EngineCore's (step while scheduler.has_requests(), so
    # the trailing step after the last finish is recorded), false -> the lab's (stop once
    # no request is unfinished), as every trace recorded before this key existed.
    "vllm_compat": False,
}

TOKEN_RULE_DEFAULT = {"kind": "last_plus_pos", "modulus": 256}

# Scenario-level operations applied between steps (see load_ops).
OP_KEYS = {
    "reset_prefix_cache": {"before_step", "op", "reset_running_requests"},
    "finish_requests": {"before_step", "op", "request_ids", "status"},
}
FINISH_STATUSES = (
    "FINISHED_STOPPED",
    "FINISHED_LENGTH_CAPPED",
    "FINISHED_ABORTED",
    "FINISHED_IGNORED",
)


class ScenarioError(ValueError):
    """A scenario file the oracle cannot run (the message names the field)."""


def _error(msg: str) -> None:
    raise ScenarioError(msg)


def load_scenario(path) -> dict:
    """Read a scenario file and fill in the defaults (raises ScenarioError)."""
    with open(path) as f:
        sc = json.load(f)
    engine = dict(ENGINE_DEFAULTS)
    unknown = set(sc.get("engine", {})) - set(ENGINE_DEFAULTS)
    if unknown:
        _error(f"unknown engine keys: {sorted(unknown)}")
    engine.update(sc.get("engine", {}))
    if engine["max_model_len"] is None:
        engine["max_model_len"] = engine["max_num_batched_tokens"]
    reqs = []
    seen = set()
    for i, r in enumerate(sc.get("requests", [])):
        rid = str(r.get("id", i))
        if rid in seen:
            _error(f"duplicate request id {rid!r}")
        seen.add(rid)
        if "prompt_token_ids" in r:
            toks = [int(t) for t in r["prompt_token_ids"]]
        elif "prompt" in r:
            toks = list(r["prompt"].encode("utf-8"))  # one token per UTF-8 byte
        else:
            _error(f"request {rid}: needs prompt_token_ids or prompt")
        if not toks:
            _error(f"request {rid}: empty prompt")
        if len(toks) >= engine["max_model_len"]:
            # vLLM's InputProcessor._validate_prompt_len rejects these before
            # they ever reach the scheduler.
            _error(
                f"request {rid}: prompt length {len(toks)} must be < max_model_len "
                f"{engine['max_model_len']} (vLLM rejects it at input processing)"
            )
        reqs.append(
            {
                "id": rid,
                "prompt_token_ids": toks,
                "max_tokens": int(r.get("max_tokens", 16)),
                "ignore_eos": bool(r.get("ignore_eos", False)),
                "eos_token_id": r.get("eos_token_id"),
                "stop_token_ids": r.get("stop_token_ids"),
                "arrival_step": int(r.get("arrival_step", 0)),
                "priority": int(r.get("priority", 0)),
                "output_token_ids": r.get("output_token_ids"),
                "cache_salt": _cache_salt(rid, r.get("cache_salt")),
                "prompt_logprobs": _prompt_logprobs(rid, r.get("prompt_logprobs")),
            }
        )
    rule = dict(TOKEN_RULE_DEFAULT)
    tr = sc.get("token_rule", {})
    if isinstance(tr, str):
        tr = {"kind": tr}
    rule.update(tr)
    if rule["kind"] not in ("last_plus_pos", "constant", "fixed"):
        _error(f"unknown token_rule kind {rule['kind']!r}")
    return {
        "engine": engine,
        "requests": reqs,
        "ops": load_ops(sc.get("ops", [])),
        "token_rule": rule,
        "max_steps": int(sc.get("max_steps", 100000)),
        "first_step": int(sc.get("first_step", 0)),
    }


def _cache_salt(rid: str, salt):
    if salt is not None and not isinstance(salt, str):
        _error(f"request {rid}: cache_salt must be a string or null, got {salt!r}")
    return salt


def _prompt_logprobs(rid: str, n):
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < -1):
        _error(f"request {rid}: prompt_logprobs must be null, -1 or an int >= 0, got {n!r}")
    return n


def load_ops(ops) -> list[dict]:
    """Operations between steps, applied after the step's arrivals, before schedule().

    {"before_step": N, "op": "reset_prefix_cache", "reset_running_requests": bool}
    {"before_step": N, "op": "finish_requests", "request_ids": [ids] | "id" | null,
     "status": "FINISHED_ABORTED"}   (null: every request, as vLLM's None)
    Several ops at the same step run in file order.
    """
    if not isinstance(ops, list):
        _error("ops must be a list")
    out = []
    for i, op in enumerate(ops):
        kind = op.get("op") if isinstance(op, dict) else None
        if kind not in OP_KEYS:
            _error(f"ops[{i}]: op must be one of {sorted(OP_KEYS)}, got {kind!r}")
        unknown = set(op) - OP_KEYS[kind]
        if unknown:
            _error(f"ops[{i}]: unknown keys {sorted(unknown)} for op {kind!r}")
        if not isinstance(op.get("before_step"), int):
            _error(f"ops[{i}]: before_step must be an int")
        clean = {"before_step": op["before_step"], "op": kind}
        if kind == "reset_prefix_cache":
            clean["reset_running_requests"] = bool(op.get("reset_running_requests", False))
        else:
            ids = op.get("request_ids")
            if not (ids is None or isinstance(ids, str) or isinstance(ids, list)):
                _error(f"ops[{i}]: request_ids must be a list, a string or null")
            status = op.get("status", "FINISHED_ABORTED")
            if status not in FINISH_STATUSES:
                _error(f"ops[{i}]: status must be one of {FINISH_STATUSES}")
            clean["request_ids"] = ids
            clean["status"] = status
        out.append(clean)
    # Stable: ops of one step keep file order.
    return sorted(out, key=lambda o: o["before_step"])
