"""`Recorder`: runs a scenario step by step and grows its `Recording` (see recording.py).

It reads the engine from outside after each step, doing O(scheduled + changes)
work: what was scheduled, the rows of requests whose counters changed otherwise,
block-table operations, KV block-state changes, happenings and metrics, packed
into one `StepDelta`. Kept apart from recording.py, which only stores and answers.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Callable

import numpy as np

from mini_engine.recording.store import (BLOCK_CACHED_FREE, BLOCK_FREE, BLOCK_IN_USE, BLOCK_SHARED, DECODE,
                        OP_APPEND, OP_CLEAR, OP_SET, PREFILL_CHUNK, PREFILL_LAST, STATUS_NAMES,
                        _ABORTED, _FINISHED_MIN, _IGNORED, _NO_CHANGES, _NO_ROWS, _PREEMPTED,
                        _RUNNING, Happening, Recording, StepDelta, StepMetrics, _ro)
from mini_engine.engine.request import RequestStatus
from mini_engine.scenarios.runner import ScenarioRunner, StepResult
from mini_engine.scenarios.spec import Scenario

class Recorder:
    """Runs a scenario and grows `self.recording` step by step (for a background thread)."""

    def __init__(self, scenario: Scenario) -> None:
        self.runner = ScenarioRunner(scenario)
        engine = self.runner.engine
        self.recording = rec = Recording(scenario)
        rec._live_requests = engine.get_request
        self._index_of = dict(rec.request_index)
        self._fcfs = scenario.engine.policy != "priority"
        self._front = 0  # FCFS prepend keys go down, append keys go up
        self._back = 0
        self._admit_seq = 0
        self._n_cached_free = 0
        self._prev_all_sampled = False
        self._prev_ids: list[str] = []
        self._prev_idx = np.zeros(0, np.int64)
        self._prev_idx32 = np.zeros(0, np.int32)
        self._ones = self._decodes = np.zeros(0)
        self._capture(StepResult(0, [], self.runner.initial_arrived, self.runner.initial_aborted),
                      initial=True)
        if self.runner.is_done():
            self._finalize()

    @property
    def done(self) -> bool:
        return self.recording.complete

    def advance(self, n: int = 1) -> bool:
        """Run up to n more steps; True while there is more to run."""
        runner = self.runner
        for _ in range(n):
            if runner.is_done():
                break
            self._capture(runner.step())
        if runner.is_done() and not self.recording.complete:
            self._finalize()
        return not self.recording.complete

    def _finalize(self) -> None:
        eng, rec = self.runner.engine, self.recording
        outputs = {}
        for ri, rid in enumerate(rec.request_ids):
            try:
                outputs[ri] = tuple(eng.get_request(rid).output_token_ids)
            except KeyError:
                outputs[ri] = ()
        rec._finish(outputs)

    def _capture(self, result: StepResult, initial: bool = False) -> None:
        eng = self.runner.engine
        sch = eng.scheduler
        pool = sch.kv_cache_manager.block_pool
        rec = self.recording
        cols, tables, codes = rec._cols, rec._tables, rec._codes
        index_of = self._index_of
        get_request = eng.get_request
        touched: dict[int, None] = {}
        happen: list[Happening] = []
        table_ops: list[tuple] = []
        btouched: list[int] = []
        status, computed = cols["status"], cols["computed"]
        npre, cached, qkey = cols["npreempt"], cols["cached"], cols["qkey"]
        # Local copies of the rows being rewritten (applied through the delta's rows).
        new_vals: dict[int, dict] = {}

        def setv(ri: int, **kw) -> None:
            touched[ri] = None
            new_vals.setdefault(ri, {}).update(kw)

        def cur(ri: int, name: str) -> int:
            v = new_vals.get(ri, {}).get(name)
            return int(cols[name][ri]) if v is None else v

        set_in_step: set[int] = set()

        def free_table(ri: int) -> None:
            if ri in tables or ri in set_in_step:
                btouched.extend(tables.get(ri, ()))
                table_ops.append((ri, OP_CLEAR, ()))

        admitted: set[int] = set()
        so = None if initial else eng.last_scheduler_output
        stats = None if initial else eng.last_stats
        sched_req = np.zeros(0, np.int32)
        sched_tok = np.zeros(0, np.int32)
        sched_kind = np.zeros(0, np.int8)
        prefill_tokens = decode_tokens = gen_tokens = prompt_tokens = 0
        if so is not None:
            for p in so.preemptions:
                ri = index_of[p.request_id]
                req = get_request(p.request_id)
                if self._fcfs:
                    self._front -= 1
                    key = self._front
                else:
                    key = int(req.arrival_time)
                setv(ri, status=_PREEMPTED, computed=0, npreempt=req.num_preemptions, qkey=key)
                free_table(ri)
                happen.append(Happening("preemption", p.request_id, p.num_computed_tokens_lost,
                                        p.kv_cache_usage_before, p.kv_cache_usage_after))
            nst = so.num_scheduled_tokens
            m = len(nst)
            if m:
                ids = list(nst)
                n_run = len(so.scheduled_running_req_ids)
                steady = False
                if ids == self._prev_ids:  # same batch as last step
                    idx, idx32 = self._prev_idx, self._prev_idx32
                    # Everyone sampled last step and gets exactly one token now, nobody
                    # was admitted: every entry is a decode that samples.
                    steady = (self._prev_all_sampled and n_run == m
                              and so.total_num_scheduled_tokens == m)
                else:
                    idx = np.array(list(map(index_of.__getitem__, ids)), np.int64)
                    idx32 = _ro(idx.astype(np.int32))
                    self._prev_ids, self._prev_idx, self._prev_idx32 = ids, idx, idx32
                sched_req = idx32
                if steady:
                    if len(self._ones) != m:
                        self._ones = _ro(np.ones(m, np.int32))
                        self._decodes = _ro(np.zeros(m, np.int8))
                    sched_tok, sched_kind = self._ones, self._decodes
                    decode_tokens = gen_tokens = m
                    comp_a = None  # computed lazily if a scheduled request needs a row
                else:
                    n = np.array(list(nst.values()), np.int64)
                    comp_b = computed[idx]
                    tok_b = cols["tokens"][idx]
                    resumed = set(so.scheduled_resumed_req_ids)
                    kvm_tables = sch.kv_cache_manager.req_to_blocks
                    for k in range(n_run, m):
                        rid = ids[k]
                        ri = int(idx[k])
                        req = get_request(rid)
                        hits = req.num_computed_tokens - nst[rid]
                        comp_b[k] = hits
                        self._admit_seq += 1
                        setv(ri, status=_RUNNING, qkey=self._admit_seq,
                             cached=req.num_cached_tokens)
                        admitted.add(ri)
                        table = tuple(kvm_tables.get(rid, ()))
                        table_ops.append((ri, OP_SET, table))
                        set_in_step.add(ri)
                        btouched.extend(table)
                        happen.append(Happening("resume" if rid in resumed else "admission",
                                                rid, hits))
                    comp_a = comp_b + n
                    samp = comp_a >= tok_b
                    plen = rec._prompt_len[idx]
                    decode = (comp_b == tok_b - 1) & (comp_b >= plen)
                    kind = np.where(decode, DECODE, np.where(samp, PREFILL_LAST, PREFILL_CHUNK))
                    sched_tok = n.astype(np.int32)
                    sched_kind = kind.astype(np.int8)
                    for k in range(n_run, m):  # admitted rows: computed after the step
                        setv(int(idx[k]), computed=int(comp_a[k]))
                    decode_tokens = int(n[decode].sum())
                    prefill_tokens = int(n.sum()) - decode_tokens
                    gen_tokens = int(samp.sum())
                    first = samp & (tok_b == plen)
                    if first.any():
                        prompt_tokens = int(plen[first].sum())
                        for ri in idx[first].tolist():
                            happen.append(Happening("first_token", rec.request_ids[ri]))
                self._prev_all_sampled = steady or gen_tokens == m
                for rid, new in so.req_to_new_block_ids.items():
                    ri = index_of[rid]
                    btouched.extend(new)
                    if ri not in admitted:
                        table_ops.append((ri, OP_APPEND, tuple(new)))
        reported = []
        for req in result.finished:
            ri = index_of[req.request_id]
            reported.append(ri)
            if cur(ri, "status") >= _FINISHED_MIN:
                continue  # ignored at add: already recorded at its arrival
            st = int(req.status)
            setv(ri, status=st)
            free_table(ri)
            happen.append(Happening("ignore" if st == _IGNORED else "finish", req.request_id,
                                    status=req.status.name, reason=req.get_finished_reason(),
                                    stop_reason=req.stop_reason))
        for req in result.arrived:
            ri = index_of[req.request_id]
            if self._fcfs:
                self._back += 1
                key = self._back
            else:
                key = int(req.arrival_time)
            setv(ri, status=int(req.status), computed=0, tokens=req.num_tokens, cached=-1,
                 npreempt=0, qkey=key)
            happen.append(Happening("arrival", req.request_id))
            if req.status == RequestStatus.FINISHED_IGNORED:
                happen.append(Happening("ignore", req.request_id, status=req.status.name,
                                        reason=req.get_finished_reason(),
                                        stop_reason=req.stop_reason))
        for req in result.aborted:
            ri = index_of[req.request_id]
            prev = STATUS_NAMES[cur(ri, "status")]
            setv(ri, status=_ABORTED)
            free_table(ri)
            happen.append(Happening("abort", req.request_id, status=req.status.name,
                                    reason=req.get_finished_reason(), prev_status=prev))
        # KV block states of the blocks this step could have changed.
        ref, bhash = pool.ref_cnt, pool.block_hash
        if so is not None and so.preemptions and not self._fcfs:
            btouched = range(1, pool.num_gpu_blocks)  # priority rollbacks hide blocks: rescan
        n_cached_free = self._n_cached_free
        if btouched:
            bl = sorted(set(btouched))
            refs = np.array(itemgetter(*bl)(ref) if len(bl) > 1 else (ref[bl[0]],), np.int64)
            new = np.where(refs > 1, BLOCK_SHARED, np.where(refs == 1, BLOCK_IN_USE, BLOCK_FREE))
            zero = np.flatnonzero(refs == 0)
            if len(zero):
                blz = np.array(bl, np.int64)[zero].tolist()
                new[zero] = [BLOCK_CACHED_FREE if bhash[b] is not None else BLOCK_FREE
                             for b in blz]
            bla = np.array(bl, np.int64)
            old = codes[bla]
            diff = old != new
            changes = np.stack([bla[diff], new[diff]], axis=1).astype(np.int32)
            n_cached_free += int(np.count_nonzero(new[diff] == BLOCK_CACHED_FREE)) - int(
                np.count_nonzero(old[diff] == BLOCK_CACHED_FREE))
            self._n_cached_free = n_cached_free
        else:
            changes = _NO_CHANGES
        # Rows: full counters of touched requests, after the sched adds.
        if touched:
            pos = {}
            if len(sched_req):
                pos = dict(zip(sched_req.tolist(), range(len(sched_req))))
                if comp_a is None:  # steady decode: one token computed, one sampled
                    tok_b = cols["tokens"][idx]
                    comp_a = tok_b
                    samp = 1
                comp_a_l = comp_a.tolist()
                tok_a_l = (tok_b + samp).tolist()
            t = np.fromiter(touched, np.int64, len(touched))
            g_st, g_c, g_t, g_ca, g_np, g_q = (
                col[t].tolist() for col in (status, computed, cols["tokens"], cached, npre, qkey))
            rows_l = []
            for j, ri in enumerate(touched):
                v = new_vals[ri]
                k = pos.get(ri)
                if k is not None:
                    c, tk = comp_a_l[k], tok_a_l[k]
                else:
                    c, tk = g_c[j], g_t[j]
                rows_l.append((ri, v.get("status", g_st[j]), v.get("computed", c),
                               v.get("tokens", tk), v.get("cached", g_ca[j]),
                               v.get("npreempt", g_np[j]), v.get("qkey", g_q[j])))
            rows = np.array(rows_l, np.int64)
        else:
            rows = _NO_ROWS
        cfg = rec.config
        pc = stats.prefix_cache_stats if stats is not None else None
        stop_req = so.waiting_stop_req_id if so is not None else None
        metrics = StepMetrics(
            num_scheduled_tokens=so.total_num_scheduled_tokens if so is not None else 0,
            token_budget=cfg.max_num_batched_tokens,
            prefill_tokens=prefill_tokens, decode_tokens=decode_tokens,
            num_requests_running=len(sch.running), num_requests_waiting=len(sch.waiting),
            kv_cache_usage_perc=pool.get_usage(), num_free_blocks=pool.get_num_free_blocks(),
            num_cached_free_blocks=n_cached_free,
            prefix_cache_queries=pc.queries if pc else 0, prefix_cache_hits=pc.hits if pc else 0,
            num_preemptions=len(so.preemptions) if so is not None else 0,
            prompt_tokens=prompt_tokens, generation_tokens=gen_tokens,
            waiting_stop_reason=so.waiting_stop_reason if so is not None else None,
            waiting_stop_req_id=stop_req)
        delta = StepDelta(
            step=result.step, sched_req=_ro(sched_req), sched_tokens=_ro(sched_tok),
            sched_kind=_ro(sched_kind), rows=_ro(rows), table_ops=tuple(table_ops),
            block_changes=_ro(changes),
            happenings=tuple(happen), reported_finished=tuple(reported), metrics=metrics)
        rec._apply(delta)


def record(scenario: Scenario, progress: Callable[[int], None] | None = None,
           batch: int = 256) -> Recording:
    """Record a whole run; `progress(steps_done)` is called every `batch` steps and at the end."""
    recorder = Recorder(scenario)
    while recorder.advance(batch):
        if progress is not None:
            progress(recorder.recording.num_steps)
    if progress is not None:
        progress(recorder.recording.num_steps)
    return recorder.recording
