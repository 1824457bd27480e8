"""Run a vLLM-oracle scenario through mini_engine and record it in the oracle's trace shape.

The oracle (``tests/engine/golden/oracle_driver.py``, real vLLM 0.33 scheduler) writes one
JSON line per step; ``run_scenario`` produces the same records from mini_engine so the
two can be compared step by step (see ``tests/engine/test_golden_vllm.py``). Both read
scenarios with ``tests/engine/golden/oracle_scenario.py`` and apply a scenario's ``ops``
(prefix-cache resets, ``finish_requests``) at the same point: after the step's arrivals,
before its ``schedule()``.

The recorded traces in ``tests/engine/golden/*.jsonl`` are stored *compacted* (``compact``):
values are verbatim, but a step-level field equal to the previous step's is left out,
and per request only the fields that changed since the previous step (state fields) or
are non-default this step (``scheduled``, ``preempted``, ``new_token_ids``) are kept.
``expand`` restores the oracle's full per-step records exactly (checked when compacting).

Command line (used to re-record, see tests/engine/golden/README.md):

    python tests/engine/golden_harness.py compact RAW.jsonl OUT.jsonl
    python tests/engine/golden_harness.py run SCENARIO.json   # mini_engine trace to stdout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterable

if __package__ in (None, ""):  # allow `python tests/engine/golden_harness.py ...`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mini_engine import LLMEngine, RequestStatus, SamplingParams  # noqa: E402

# The scenario format, shared with the oracle driver (stdlib only, no package).
sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import oracle_scenario  # noqa: E402

# vLLM status names -> mini_engine's (the lab names the length stop FINISHED_LENGTH);
# a scenario with `vllm_compat` runs mini_engine in vLLM-compatible mode: names verbatim.
STATUS_NAMES = {"FINISHED_LENGTH_CAPPED": "FINISHED_LENGTH"}

# Keys that mini_engine takes as LLMEngine(**kwargs).
MINI_ENGINE_KEYS = (
    "max_num_batched_tokens", "max_num_seqs", "long_prefill_token_threshold",
    "enable_chunked_prefill", "block_size", "num_gpu_blocks", "enable_prefix_caching",
    "max_model_len", "policy", "vllm_compat",
)
# Keys mini_engine has no knob for: only vLLM's defaults can be compared.
FIXED_KEYS = {"async_scheduling": False, "scheduler_reserve_full_isl": True, "watermark": 0.0}

# Per-request fields of an oracle trace line.
STATE_FIELDS = ("status", "num_computed_tokens", "num_tokens", "num_prompt_tokens",
                "num_output_tokens", "num_preemptions", "num_blocks")
VOLATILE_DEFAULTS = {"scheduled": 0, "preempted": False, "new_token_ids": []}
REQUEST_FIELDS = ("id",) + STATE_FIELDS[:5] + ("scheduled", "preempted", "num_preemptions",
                                                "new_token_ids", "num_blocks")


# ----------------------------------------------------------------------------- scenario

def load_scenario(path: str | Path) -> dict:
    """Read an oracle scenario exactly as the driver does; refuse settings we don't model."""
    sc = oracle_scenario.load_scenario(path)
    for key, value in FIXED_KEYS.items():
        if sc["engine"][key] != value:
            raise ValueError(f"mini_engine only implements {key}={value!r}")
    return sc


def apply_op(eng: LLMEngine, op: dict, arrival_order: list[str]) -> dict:
    """Run one op on mini_engine; return it with its result, as the oracle records it."""
    rec = {k: v for k, v in op.items() if k != "before_step"}
    if op["op"] == "reset_prefix_cache":
        rec["result"] = eng.reset_prefix_cache(op["reset_running_requests"])
    else:
        name = op["status"] if eng.config.vllm_compat else STATUS_NAMES.get(op["status"],
                                                                            op["status"])
        status = RequestStatus[name]
        done = {r.request_id for r in eng.scheduler.finish_requests(op["request_ids"], status)}
        rec["result"] = [rid for rid in arrival_order if rid in done]
    return rec


def _prefix_cache_stats_record(stats) -> dict:
    p = stats.prefix_cache_stats
    return {"reset": p.reset, "requests": p.requests, "queries": p.queries, "hits": p.hits,
            "preempted_requests": p.preempted_requests, "preempted_queries": p.preempted_queries,
            "preempted_hits": p.preempted_hits}


class OracleTokenModel:
    """The oracle's fake model (vllm_trace.next_token): one token per request, in order.

    The k-th sampled token of a request is its ``output_token_ids[k]`` while that list
    lasts, then the scenario's token rule: ``last_plus_pos`` -> (last token + num_tokens)
    % modulus, ``constant`` -> value, ``fixed`` -> error when the list runs out.
    """

    def __init__(self, requests: Iterable[dict], rule: dict) -> None:
        self.fixed = {r["id"]: r["output_token_ids"] for r in requests}
        self.kind = rule["kind"]
        self.modulus = int(rule.get("modulus", 256))
        self.value = int(rule.get("value", 0))

    def sample(self, requests) -> list[int]:
        out = []
        for r in requests:
            fixed = self.fixed.get(r.request_id)
            k = r.num_output_tokens
            if fixed is not None and k < len(fixed):
                out.append(int(fixed[k]))
            elif self.kind == "fixed":
                raise RuntimeError(f"request {r.request_id}: output_token_ids exhausted")
            elif self.kind == "constant":
                out.append(self.value)
            else:
                out.append((r.all_token_ids[-1] + r.num_tokens) % self.modulus)
        return out


# ----------------------------------------------------------------------------- running

def _request_record(eng: LLMEngine, req, scheduled: int, preempted: bool,
                    new_tokens: list[int]) -> dict:
    kvm = eng.scheduler.kv_cache_manager
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
        "num_blocks": len(kvm.get_block_ids(req.request_id)),
    }


def run_scenario(path_or_scenario: str | Path | dict, **overrides) -> list[dict]:
    """Drive mini_engine through an oracle scenario; return per-step records (oracle shape).

    `overrides` replace engine keys of the scenario (``vllm_compat=True`` runs a lab
    scenario in vLLM-compatible mode). The loop is the lab's,
    ``while scheduler.has_unfinished_requests()``, stepping through idle steps until the
    last arrival; in vLLM-compatible mode it takes vLLM's trailing step by itself.
    """
    sc = (path_or_scenario if isinstance(path_or_scenario, dict)
          else load_scenario(path_or_scenario))
    engine_cfg = {**sc["engine"], **overrides}
    model = OracleTokenModel(sc["requests"], sc["token_rule"])
    eng = LLMEngine(model=model, **{k: engine_cfg[k] for k in MINI_ENGINE_KEYS})
    sched = eng.scheduler
    kvm = sched.kv_cache_manager

    # kv_cache_usage_after_schedule: usage between schedule() and update_from_output().
    # Wrap this engine instance's bound method (mini_engine itself is not modified).
    usage_after_schedule: list[float] = []
    inner_update = sched.update_from_output

    def update_from_output(scheduler_output, model_runner_output):
        usage_after_schedule.append(kvm.usage)
        return inner_update(scheduler_output, model_runner_output)

    sched.update_from_output = update_from_output

    # Same order as the oracle: stable sort by arrival_step (then file order).
    pending = sorted(sc["requests"], key=lambda r: r["arrival_step"])
    pending_idx = 0
    ops, op_idx = sc["ops"], 0
    arrival_order: list[str] = []
    records: list[dict] = []
    step = sc["first_step"]
    last_step = step + sc["max_steps"]
    while step < last_step:
        arrived = []
        while pending_idx < len(pending) and pending[pending_idx]["arrival_step"] <= step:
            spec = pending[pending_idx]
            pending_idx += 1
            sp = SamplingParams(max_tokens=spec["max_tokens"], ignore_eos=spec["ignore_eos"],
                                eos_token_id=spec["eos_token_id"],
                                stop_token_ids=list(spec["stop_token_ids"] or []),
                                temperature=0.0, prompt_logprobs=spec["prompt_logprobs"])
            eng.add_request(spec["id"], prompt_token_ids=spec["prompt_token_ids"],
                            sampling_params=sp, priority=spec["priority"],
                            cache_salt=spec["cache_salt"])
            arrival_order.append(spec["id"])
            arrived.append(spec["id"])
        if pending_idx >= len(pending) and not sched.has_unfinished_requests():
            break

        all_reqs = [eng.get_request(rid) for rid in arrival_order]
        status_before = {r.request_id: r.status for r in all_reqs}
        ntok_before = {r.request_id: r.num_tokens for r in all_reqs}
        ops_done = []
        while op_idx < len(ops) and ops[op_idx]["before_step"] <= step:
            ops_done.append(apply_op(eng, ops[op_idx], arrival_order))
            op_idx += 1
        eng.step()
        out = eng.last_scheduler_output
        nst = dict(out.num_scheduled_tokens)
        preempted_ids = set(out.preempted_req_ids)
        recs, finished_now = [], []
        for req in all_reqs:
            rid = req.request_id
            if req.is_finished() and not RequestStatus.is_finished(status_before[rid]):
                finished_now.append(rid)
            recs.append(_request_record(eng, req, nst.get(rid, 0), rid in preempted_ids,
                                        list(req.all_token_ids[ntok_before[rid]:])))
        records.append({
            "step": step,
            "arrived": arrived,
            "total_scheduled_tokens": out.total_num_scheduled_tokens,
            "num_scheduled_reqs": len(nst),
            "scheduled": nst,
            "scheduled_new": list(out.scheduled_new_req_ids),
            "scheduled_resumed": list(out.scheduled_resumed_req_ids),
            "preempted": [rid for rid in arrival_order if rid in preempted_ids],
            "finished": finished_now,
            "num_running": len(sched.running),
            "num_waiting": len(sched.waiting),
            "running_order": [r.request_id for r in sched.running],
            "waiting_order": [r.request_id for r in sched.waiting],
            "kv_cache_usage": round(kvm.usage, 6),
            "kv_cache_usage_after_schedule": round(usage_after_schedule[-1], 6),
            "num_free_blocks": kvm.block_pool.get_num_free_blocks(),
            "requests": recs,
            "ops": ops_done,
            "prefix_cache_stats": _prefix_cache_stats_record(eng.last_stats),
            # mini_engine only (vLLM's SchedulerStats has no such count): the preemptions
            # this step reports, which must be exactly the ids in `preempted`.
            "stats_num_preemptions": eng.last_stats.num_preemptions,
        })
        step += 1
    else:
        raise RuntimeError(f"mini_engine did not finish within max_steps={sc['max_steps']}")
    return records


# ----------------------------------------------------------------------------- storage

def compact(lines: Iterable[dict]) -> list[dict]:
    """Oracle lines -> stored lines: unchanged per-request state is left out (lossless)."""
    prev: dict[str, dict] = {}
    prev_line: dict[str, Any] = {}
    out = []
    for line in lines:
        line = dict(line)
        line.pop("wall_us", None)
        full_line = dict(line)
        for key in list(line):
            if key not in ("step", "requests") and key in prev_line and prev_line[key] == line[key]:
                del line[key]
        prev_line = full_line
        deltas = []
        for rec in line["requests"]:
            rid = rec["id"]
            before = prev.get(rid, {})
            d = {"id": rid}
            for key in STATE_FIELDS:
                if before.get(key, None) != rec[key] or rid not in prev:
                    d[key] = rec[key]
            for key, default in VOLATILE_DEFAULTS.items():
                if rec[key] != default:
                    d[key] = rec[key]
            prev[rid] = rec
            if len(d) > 1:
                deltas.append(d)
        line["requests"] = deltas
        out.append(line)
    return out


def expand(lines: Iterable[dict]) -> list[dict]:
    """Stored lines -> the oracle's full lines (every arrived request in every step)."""
    state: dict[str, dict] = {}  # insertion order = arrival order
    prev_line: dict[str, Any] = {}
    out = []
    for line in lines:
        line = {**{k: v for k, v in prev_line.items() if k not in line}, **line}
        prev_line = {k: v for k, v in line.items() if k != "requests"}
        volatile: dict[str, dict] = {}
        for d in line["requests"]:
            rid = d["id"]
            st = state.setdefault(rid, {})
            st.update({k: d[k] for k in STATE_FIELDS if k in d})
            volatile[rid] = {k: d.get(k, v) for k, v in VOLATILE_DEFAULTS.items()}
        recs = []
        for rid, st in state.items():
            full = {"id": rid, **st, **volatile.get(rid, VOLATILE_DEFAULTS)}
            recs.append({k: full[k] for k in REQUEST_FIELDS})
        line["requests"] = recs
        out.append(line)
    return out


def read_jsonl(path: str | Path) -> list[dict]:
    with open(path) as f:
        return [json.loads(s) for s in f if s.strip()]


def write_jsonl(path: str | Path, lines: Iterable[dict]) -> None:
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "compact":
        raw = read_jsonl(argv[1])
        packed = compact(raw)
        assert expand(packed) == [{k: v for k, v in line.items() if k != "wall_us"}
                                  for line in raw], "compaction is not lossless"
        write_jsonl(argv[2], packed)
        return 0
    if len(argv) == 2 and argv[0] == "run":
        for rec in run_scenario(argv[1]):
            print(json.dumps(rec, separators=(",", ":")))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
