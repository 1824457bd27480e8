"""What a capture line holds, read from a vLLM V1 scheduler's state (duck-typed: no vllm import).

`CaptureState` is fed by the recording scheduler at each hook (add_request,
finish_requests, schedule, update_from_output) and hands back the capture's lines
(docs/recording-format.md, "Captures"). It reads only what the scheduler exposes and
never calls anything that changes it (no `make_stats`). Block tables come from the
SchedulerOutput (the new block ids vLLM sends its workers) and the frees the capture sees;
the queues are read only in a step where a request entered or left one.
"""

from __future__ import annotations

import os
import time

from mini_engine.recording.capture_format import CAPTURE_KIND
from mini_engine.recording.format import FORMAT, VERSION
from mini_engine.version import __version__

TOKENS_ENV = "MINI_ENGINE_CAPTURE_TOKENS"  # "1": write prompt and sampled token ids


def tokens_opted_in() -> bool:
    return os.environ.get(TOKENS_ENV, "") == "1"


def _get(obj, name: str, default=None):
    return getattr(obj, name, default) if obj is not None else default


def engine_settings(vllm_config, kv_cache_config) -> tuple[dict, dict]:
    """(settings mini_engine models, with vLLM's names; the ones it doesn't model)."""
    sc = vllm_config.scheduler_config
    cc = vllm_config.cache_config
    mc = vllm_config.model_config
    engine = {
        "max_num_batched_tokens": sc.max_num_batched_tokens,
        "max_num_seqs": sc.max_num_seqs,
        "long_prefill_token_threshold": sc.long_prefill_token_threshold,
        "enable_chunked_prefill": bool(sc.enable_chunked_prefill),
        "block_size": cc.block_size,
        "num_gpu_blocks": kv_cache_config.num_blocks,
        "enable_prefix_caching": bool(cc.enable_prefix_caching),
        "max_model_len": mc.max_model_len,
        "policy": str(sc.policy),
    }
    spec = vllm_config.speculative_config
    kvt = vllm_config.kv_transfer_config
    unmodelled = {
        "async_scheduling": bool(sc.async_scheduling),
        "scheduler_reserve_full_isl": _get(sc, "scheduler_reserve_full_isl"),
        "watermark": _get(sc, "watermark"),
        "max_num_scheduled_tokens": _get(sc, "max_num_scheduled_tokens"),
        "num_speculative_tokens": _get(spec, "num_speculative_tokens"),
        "kv_connector": _get(kvt, "kv_connector"),
        "num_kv_cache_groups": len(kv_cache_config.kv_cache_groups),
        "model": _get(mc, "model"),
    }
    return engine, unmodelled


def header_line(vllm_version: str, scheduler: str, parent: str, engine: dict,
                unmodelled: dict, log_stats: bool) -> dict:
    return {
        "format": FORMAT, "version": VERSION, "kind": CAPTURE_KIND,
        "producer": {"name": "mini-engine capture", "version": __version__},
        "source": {"name": "vLLM", "version": vllm_version, "scheduler": scheduler,
                   "parent": parent, "log_stats": bool(log_stats)},
        "engine": engine, "unmodelled": unmodelled, "token_ids": tokens_opted_in(),
    }


def arrival(req, with_tokens: bool) -> dict:
    """A request as it reached the scheduler: prompt length and sampling limits."""
    sp = req.sampling_params
    d = {
        "request_id": req.request_id,
        "num_prompt_tokens": req.num_prompt_tokens,
        "max_tokens": req.max_tokens,
        "min_tokens": _get(sp, "min_tokens"),
        "ignore_eos": _get(sp, "ignore_eos"),
        "eos_token_id": _get(sp, "eos_token_id"),
        "stop_token_ids": list(_get(sp, "stop_token_ids") or ()) if sp is not None else None,
        "priority": req.priority,
        "prompt_token_ids": None,
        "cache_salt": None,
    }
    if with_tokens:
        ids = req.prompt_token_ids
        d["prompt_token_ids"] = list(ids) if ids is not None else None
        d["cache_salt"] = req.cache_salt
    return d


class CaptureState:
    """The capture of one scheduler: pending arrivals and aborts, the step being built,
    and what the previous line said (block tables, queues)."""

    def __init__(self, with_tokens: bool) -> None:
        self.with_tokens = with_tokens
        self.step = 0
        self.arrived: list[dict] = []
        self.aborted: list[list] = []
        self.abort_frees: list[list] = []
        self.live: dict[str, object] = {}  # request id -> Request, until it finished
        self.order: dict[str, int] = {}  # live request id -> arrival number
        self.arrivals = 0
        self.preempted: set[str] = set()  # preempted, not scheduled since
        self.holding: set[str] = set()  # requests whose block table the capture shows non-empty
        self.running: list[str] | None = None
        self.waiting: list[str] | None = None
        self.pending: dict[int, dict] = {}  # id(SchedulerOutput) -> its line so far

    def add(self, req) -> None:
        self.arrived.append(arrival(req, self.with_tokens))
        self.live[req.request_id] = req
        self.order[req.request_id] = self.arrivals
        self.arrivals += 1

    def aborts(self, finished_reqs) -> None:
        for req in finished_reqs:
            self.aborted.append([req.request_id, req.status.name])
            self.live.pop(req.request_id, None)
            self.order.pop(req.request_id, None)
            self.preempted.discard(req.request_id)
            if req.request_id in self.holding:  # freed outside a step: shown on the next line
                self.holding.discard(req.request_id)
                self.abort_frees.append([req.request_id, True, []])

    def scheduled(self, sched, out, t_start: float, schedule_s: float) -> None:
        """After schedule(): what it decided, and the free blocks at that moment."""
        self.step += 1
        cached = out.scheduled_cached_reqs
        resumed = cached.resumed_req_ids
        blocks = []
        for r in out.scheduled_new_reqs:
            blocks.append([r.req_id, True, list(r.block_ids[0]) if r.block_ids else []])
        for rid, ids in zip(cached.req_ids, cached.new_block_ids):
            if ids is not None and (ids[0] or rid in resumed):
                blocks.append([rid, rid in resumed, list(ids[0])])
        for entry in blocks:
            self.holding.add(entry[0])
        blocks = self.abort_frees + blocks
        line = {
            "step": self.step, "wall_time": round(t_start, 6),
            "schedule_us": round(schedule_s * 1e6, 1), "update_us": None, "capture_us": None,
            "arrived": self.arrived, "aborted": self.aborted,
            "scheduled": dict(out.num_scheduled_tokens),
            # vLLM sends a request resumed after a preemption as new request data again.
            "new": [r.req_id for r in out.scheduled_new_reqs if r.req_id not in self.preempted],
            "resumed": [r.req_id for r in out.scheduled_new_reqs if r.req_id in self.preempted]
            + [rid for rid in cached.req_ids if rid in resumed],
            "preempted": sorted(out.preempted_req_ids or ()),
            "at_schedule": {
                "num_free_blocks": sched.kv_cache_manager.block_pool.get_num_free_blocks(),
                "kv_cache_usage": round(sched.get_kv_cache_usage(), 6)},
            "blocks": blocks,
        }
        self.preempted.difference_update(out.num_scheduled_tokens)
        self.preempted.update(line["preempted"])
        self.arrived, self.aborted, self.abort_frees = [], [], []
        self.pending[id(out)] = line

    def updated(self, sched, out, engine_core_outputs, update_s: float) -> dict | None:
        """After update_from_output(): the step's whole line (None: an output not seen)."""
        line = self.pending.pop(id(out), None)
        if line is None:
            return None
        line["update_us"] = round(update_s * 1e6, 1)
        line["finished"] = self.finishes(sched.finished_req_ids)
        if self.with_tokens:
            line["sampled"] = self.sampled(engine_core_outputs)
        for rid in line["preempted"] + [f[0] for f in line["finished"]]:
            if rid in self.holding:
                self.holding.discard(rid)
                line["blocks"].append([rid, True, []])
        changed = (line["arrived"] or line["aborted"] or line["new"] or line["resumed"]
                   or line["preempted"] or line["finished"] or self.running is None)
        line["running"] = line["waiting"] = None
        if changed:  # the queues change only when a request enters or leaves one
            running = [r.request_id for r in sched.running]
            waiting = ([r.request_id for r in sched.kv_holding_waiting]
                       + [r.request_id for r in sched.waiting])
            line["running"] = running if running != self.running else None
            line["waiting"] = waiting if waiting != self.waiting else None
            self.running, self.waiting = running, waiting
        line["num_free_blocks"] = sched.kv_cache_manager.block_pool.get_num_free_blocks()
        line["kv_cache_usage"] = round(sched.get_kv_cache_usage(), 6)
        line.update(prefix_stats(engine_core_outputs))
        return line

    def finishes(self, finished_ids) -> list[list]:
        """The requests update_from_output() finished (vLLM's finished_req_ids, in order of
        the live map: arrival order)."""
        done = []
        ids = sorted((r for r in finished_ids if r in self.live), key=self.order.__getitem__)
        for rid in ids:
            req = self.live.pop(rid)
            del self.order[rid]
            reason = req.get_finished_reason()
            done.append([rid, req.status.name, str(reason) if reason is not None else None,
                         req.stop_reason, req.num_output_tokens])
        return done

    def sampled(self, engine_core_outputs) -> dict:
        out = {}
        for eco in (engine_core_outputs or {}).values():
            for o in eco.outputs:
                if o.new_token_ids:
                    out[o.request_id] = list(o.new_token_ids)
        return out

    def final(self) -> dict:
        return {"final": {"num_steps": self.step, "complete": not self.live}}


def prefix_stats(engine_core_outputs) -> dict:
    """This step's prefix-cache queries and hits (tokens); null when stats are off."""
    for eco in (engine_core_outputs or {}).values():
        stats = eco.scheduler_stats
        if stats is not None and stats.prefix_cache_stats is not None:
            return {"prefix_cache_queries": stats.prefix_cache_stats.queries,
                    "prefix_cache_hits": stats.prefix_cache_stats.hits}
    return {"prefix_cache_queries": None, "prefix_cache_hits": None}


def now() -> float:
    """Wall-clock time (the capture records it; mini_engine's engine never reads it)."""
    return time.time()
