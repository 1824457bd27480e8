"""Build a `Recording` from what an engine emits, and nothing else.

`RecordingBuilder` takes a header (the scenario: requests and engine settings), then
per step the engine's `EngineStep` record plus the events emitted after it at the
same step number (arrivals, aborts, resets). From the request events it sets each
request's counters and queue position; from the KV events it keeps its own mirror
of block reference counts and cached hashes, which gives the KV map and the block
tables. Why a request waits comes from the scheduler's `AdmissionStopped` event.
The same builder serves a live run (`Recorder`), a JSONL file and, later, a
capture of a real vLLM server: the three can only differ in what they emitted.
"""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

from mini_engine.engine.events import EngineStep
from mini_engine.recording.codes import (ABORTED, BLOCK_CACHED_FREE, BLOCK_FREE, BLOCK_IN_USE,
                                         BLOCK_SHARED, DECODE, IGNORED, NO_CHANGES, NO_ROWS,
                                         OP_APPEND, OP_CLEAR, PENDING, PREEMPTED, PREFILL_CHUNK,
                                         PREFILL_LAST, RUNNING, STATUS_CODE, STATUS_NAMES, WAITING,
                                         read_only)
from mini_engine.recording.limits import MAX_RECORDED_STEPS, StepLimitError, estimate_min_steps
from mini_engine.recording.records import Happening, StepDelta, StepMetrics
from mini_engine.recording.snapshots import SNAPSHOT_STEPS, SnapshotKeeper, resume_at
from mini_engine.recording.store import Recording
from mini_engine.scenarios.runner import ScenarioRunner
from mini_engine.scenarios.spec import Scenario

__all__ = ["MAX_RECORDED_STEPS", "Recorder", "RecordingBuilder", "SNAPSHOT_STEPS", "StepLimitError",
           "emitted_frames", "record", "resume_at"]

_NO_SAMPLES = read_only(np.zeros(0, np.int32))  # shared by every idle step
_NO_KINDS = read_only(np.zeros(0, np.int8))


class _Frame:
    """What one step changes, collected while its events are read."""

    def __init__(self) -> None:
        self.values: dict[int, dict] = {}  # request index -> new column values
        self.table_ops: list[tuple] = []
        self.blocks: list[int] = []  # blocks whose state may have changed
        self.scheduling: list[Happening] = []  # preemptions, admissions (schedule order)
        self.updates: list[Happening] = []  # finishes and ignores of update_from_output
        self.after: list[Happening] = []  # arrivals, aborts, resets after the step
        self.stop = None  # the AdmissionStopped event, if any
        self.hits: dict[int, int] = {}  # admitted request index -> computed tokens at admission
        self.running_delta = 0  # after-step changes to the engine's running/waiting counts
        self.waiting_delta = 0

    def set(self, ri: int, **values) -> None:
        self.values.setdefault(ri, {}).update(values)


class RecordingBuilder:
    """Grows `self.recording` from a header, then one `add_step` per engine step."""

    def __init__(self, scenario: Scenario) -> None:
        self.recording = rec = Recording(scenario)
        self._index_of = dict(rec.request_index)
        self._sorted_queue = scenario.engine.policy == "priority"
        self._front = 0  # FCFS keys: prepends go down, appends go up
        self._back = 0
        self._admit_seq = 0
        self._arrivals = 0
        self._arrival_key: dict[int, int] = {}  # request index -> arrival order (priority queues)
        nb = scenario.engine.num_gpu_blocks
        self._ref = [0] * nb
        self._hashed = [False] * nb
        self._num_free = nb - 1
        self._n_cached_free = 0
        self._prev_ids: tuple[str, ...] = ()
        self._prev_idx = np.zeros(0, np.int64)
        self._prev_idx32 = np.zeros(0, np.int32)
        self._prev_all_sampled = False
        self._ones = self._decodes = np.zeros(0)

    # ------------------------------------------------------------------ input

    def begin(self, events: Iterable) -> None:
        """Frame 0: what was emitted before the first step (the step-0 arrivals)."""
        frame = _Frame()
        for ev in events:
            self._read(frame, ev, frame.after)
        self._emit(0, frame, None, (), frame.waiting_delta)

    def add_step(self, step: EngineStep, after: Iterable = ()) -> None:
        """Frame s: the engine's record of step s, then what was emitted after it."""
        frame = _Frame()
        for ev in step.events[:step.num_before]:
            self._read(frame, ev, frame.scheduling)
        for ev in step.events[step.num_before:]:
            self._read(frame, ev, frame.updates if ev.kind in ("finished", "ignored")
                       else frame.scheduling)
        for ev in after:
            self._read(frame, ev, frame.after)
        self._emit(step.step, frame, step, step.finished, 0)

    def finish(self) -> None:
        self.recording.finish()

    # ------------------------------------------------------------------ events

    def _read(self, frame: _Frame, ev, happened: list) -> None:
        """Apply one event to the mirror and to the frame being built."""
        kind = ev.kind
        if kind.startswith("blocks_") or kind == "cache_cleared":
            self._read_blocks(frame, ev)
        elif kind == "admission_stopped":
            frame.stop = ev
        else:
            self._read_request(frame, ev, happened)

    def _read_request(self, frame: _Frame, ev, happened: list) -> None:
        kind, rid = ev.kind, ev.request_id
        ri = self._index_of[rid]
        if kind == "queued":
            self._arrive(frame, ri, WAITING, ev.position)
            happened.append(Happening("arrival", rid))
            frame.waiting_delta += 1
        elif kind == "ignored":
            if self._status(frame, ri) == PENDING:
                self._arrive(frame, ri, IGNORED, "back")
                happened.append(Happening("arrival", rid))
            else:
                frame.set(ri, status=IGNORED)
            happened.append(Happening("ignore", rid, status="FINISHED_IGNORED", reason="length",
                                      stop_reason=ev.reason))
        elif kind == "admitted":
            self._admit_seq += 1
            frame.set(ri, status=RUNNING, qkey=self._admit_seq, cached=ev.num_cached_tokens)
            frame.hits[ri] = ev.num_computed_tokens
            happened.append(Happening("resume" if ev.resumed else "admission", rid,
                                      ev.num_computed_tokens))
        elif kind == "preempted":
            self._preempt(frame, ri, ev)
            happened.append(Happening("preemption", rid, ev.num_tokens_lost,
                                      ev.kv_cache_usage_before, ev.kv_cache_usage_after))
        elif kind == "finished":
            self._finish(frame, ri, ev, happened)
        else:
            raise ValueError(f"unknown event kind {kind!r}")

    def _arrive(self, frame: _Frame, ri: int, status: int, position: str) -> None:
        self._arrivals += 1
        self._arrival_key[ri] = self._arrivals
        if position == "sorted":
            key = self._arrivals
        else:
            self._back += 1
            key = self._back
        frame.set(ri, status=status, computed=0, tokens=int(self.recording.prompt_lengths[ri]),
                  cached=-1, npreempt=0, qkey=key)

    def _preempt(self, frame: _Frame, ri: int, ev) -> None:
        if ev.position == "sorted":
            key = self._arrival_key[ri]
        else:
            self._front -= 1
            key = self._front
        frame.set(ri, status=PREEMPTED, computed=0, qkey=key,
                  npreempt=self._value(frame, ri, "npreempt") + 1)
        if ev.cause != "schedule":  # between steps: the engine's counts are already taken
            frame.running_delta -= 1
            frame.waiting_delta += 1

    def _finish(self, frame: _Frame, ri: int, ev, happened: list) -> None:
        status = STATUS_CODE[ev.status]
        frame.set(ri, status=status)
        if status == ABORTED:
            happened.append(Happening("abort", ev.request_id, status=ev.status, reason=ev.reason,
                                      prev_status=ev.prev_status))
            if happened is frame.after:
                if ev.prev_status == "RUNNING":
                    frame.running_delta -= 1
                else:
                    frame.waiting_delta -= 1
        else:
            happened.append(Happening("finish", ev.request_id, status=ev.status,
                                      reason=ev.reason, stop_reason=ev.stop_reason))

    def _status(self, frame: _Frame, ri: int) -> int:
        return self._value(frame, ri, "status")

    def _value(self, frame: _Frame, ri: int, name: str) -> int:
        """A column's value for request `ri` as this frame has it so far."""
        v = frame.values.get(ri, {}).get(name)
        return int(self.recording.frame_column(name)[ri]) if v is None else v

    def _read_blocks(self, frame: _Frame, ev) -> None:
        kind, ref = ev.kind, self._ref
        if kind == "cache_cleared":
            hashed = self._hashed
            frame.blocks.extend(b for b, h in enumerate(hashed) if h)
            self._hashed = [False] * len(hashed)
            return
        blocks = ev.block_ids
        frame.blocks.extend(blocks)
        if kind == "blocks_allocated":
            for b in blocks:
                ref[b] = 1
            self._num_free -= len(blocks)
            self._table(frame, ev.request_id, OP_APPEND, blocks)
        elif kind == "blocks_hit":
            for b in blocks:
                if ref[b] == 0:
                    self._num_free -= 1
                ref[b] += 1
            self._table(frame, ev.request_id, OP_APPEND, blocks)
        elif kind == "blocks_freed":
            for b in blocks:
                ref[b] -= 1
                if ref[b] == 0:
                    self._num_free += 1
            self._table(frame, ev.request_id, OP_CLEAR, ())
        elif kind == "blocks_cached":
            for b in blocks:
                self._hashed[b] = True
        elif kind == "blocks_evicted":
            for b in blocks:
                self._hashed[b] = False
        else:
            raise ValueError(f"unknown event kind {kind!r}")

    def _table(self, frame: _Frame, rid: str, op: int, blocks: tuple) -> None:
        frame.table_ops.append((self._index_of[rid], op, tuple(blocks)))

    # ------------------------------------------------------------------ the frame

    def _emit(self, step_no: int, frame: _Frame, step: EngineStep | None,
              finished: tuple, waiting_at_start: int) -> None:
        """Pack the frame into a StepDelta and append it to the recording."""
        rec = self.recording
        sched = self._scheduled(frame, step)
        sched_req, sched_tok, sched_kind, sampled, comp_after, tok_after, counts = sched
        rows = self._rows(frame, sched_req, comp_after, tok_after)
        changes = self._block_changes(frame.blocks)
        if step is None:
            running, waiting = frame.running_delta, waiting_at_start
        else:
            running = step.stats.num_running + frame.running_delta
            waiting = step.stats.num_waiting + frame.waiting_delta
        metrics = self._metrics(frame, step, counts, running, waiting)
        index_of = self._index_of
        happenings = frame.scheduling + counts["first"] + frame.updates + frame.after
        rec.append(StepDelta(
            step=step_no, sched_req=read_only(sched_req), sched_tokens=read_only(sched_tok),
            sched_kind=read_only(sched_kind), rows=read_only(rows),
            table_ops=tuple(frame.table_ops), block_changes=read_only(changes),
            happenings=tuple(happenings),
            reported_finished=tuple(index_of[rid] for rid in finished), metrics=metrics,
            sampled=read_only(sampled)))

    def _scheduled(self, frame: _Frame, step: EngineStep | None):
        """Indices, tokens and kinds of the scheduled entries, and the counters after them."""
        counts = {"prefill": 0, "decode": 0, "generated": 0, "prompt": 0, "first": []}
        if step is None or not step.req_ids:
            self._prev_all_sampled = False
            return _NO_SAMPLES, _NO_SAMPLES, _NO_KINDS, _NO_SAMPLES, None, None, counts
        rec = self.recording
        ids = step.req_ids
        m = len(ids)
        same_batch = ids == self._prev_ids
        if same_batch:
            idx, idx32 = self._prev_idx, self._prev_idx32
        else:
            idx = np.array(list(map(self._index_of.__getitem__, ids)), np.int64)
            idx32 = read_only(idx.astype(np.int32))
            self._prev_ids, self._prev_idx, self._prev_idx32 = ids, idx, idx32
        comp_b = rec.frame_column("computed")[idx]
        tok_b = rec.frame_column("tokens")[idx]
        steady = (same_batch and self._prev_all_sampled and not frame.hits
                  and step.total_num_scheduled_tokens == m)
        if steady:  # everyone decodes one token, as last step: no per-entry work
            if len(self._ones) != m:
                self._ones = read_only(np.ones(m, np.int32))
                self._decodes = read_only(np.zeros(m, np.int8))
            counts["decode"] = counts["generated"] = m
            self._prev_all_sampled = True
            sampled = np.array(step.sampled, np.int32)
            return idx32, self._ones, self._decodes, sampled, comp_b + 1, tok_b + 1, counts
        n = np.array(step.num_scheduled_tokens, np.int64)
        for k, ri in enumerate(idx.tolist()):
            hit = frame.hits.get(ri)
            if hit is not None:
                comp_b[k] = hit
        samp = np.array([t is not None for t in step.sampled], bool)
        plen = rec.prompt_lengths[idx]
        decode = (comp_b == tok_b - 1) & (comp_b >= plen)
        kind = np.where(decode, DECODE, np.where(samp, PREFILL_LAST, PREFILL_CHUNK)).astype(np.int8)
        counts["decode"] = int(n[decode].sum())
        counts["prefill"] = int(n.sum()) - counts["decode"]
        counts["generated"] = int(samp.sum())
        first = samp & (tok_b == plen)
        if first.any():
            counts["prompt"] = int(plen[first].sum())
            counts["first"] = [Happening("first_token", rec.request_ids[ri])
                               for ri in idx[first].tolist()]
        self._prev_all_sampled = counts["generated"] == m
        sampled = np.array([t for t in step.sampled if t is not None], np.int32)
        return (idx32, n.astype(np.int32), kind, sampled, comp_b + n, tok_b + samp, counts)

    def _rows(self, frame: _Frame, sched_req: np.ndarray, comp_after, tok_after) -> np.ndarray:
        """Full counters of every request whose status, queue or counters changed otherwise."""
        if not frame.values:
            return NO_ROWS
        rec = self.recording
        pos = dict(zip(sched_req.tolist(), range(len(sched_req)))) if len(sched_req) else {}
        touched = list(frame.values)
        t = np.array(touched, np.int64)
        current = [rec.frame_column(name)[t].tolist()
                   for name in ("status", "computed", "tokens", "cached", "npreempt", "qkey")]
        rows = []
        for j, ri in enumerate(touched):
            v = frame.values[ri]
            k = pos.get(ri)
            computed, tokens = ((int(comp_after[k]), int(tok_after[k])) if k is not None
                                else (current[1][j], current[2][j]))
            rows.append((ri, v.get("status", current[0][j]), v.get("computed", computed),
                         v.get("tokens", tokens), v.get("cached", current[3][j]),
                         v.get("npreempt", current[4][j]), v.get("qkey", current[5][j])))
        return np.array(rows, np.int64)

    def _block_changes(self, blocks: list[int]) -> np.ndarray:
        """(block, new state) for each block whose KV-map state changed this frame."""
        if not blocks:
            return NO_CHANGES
        ref, hashed = self._ref, self._hashed
        ids = sorted(set(blocks))
        new = np.array([BLOCK_SHARED if ref[b] > 1 else BLOCK_IN_USE if ref[b] == 1
                        else BLOCK_CACHED_FREE if hashed[b] else BLOCK_FREE for b in ids], np.int64)
        bla = np.array(ids, np.int64)
        old = self.recording.frame_block_codes()[bla]
        diff = old != new
        self._n_cached_free += int(np.count_nonzero(new[diff] == BLOCK_CACHED_FREE)) - int(
            np.count_nonzero(old[diff] == BLOCK_CACHED_FREE))
        return np.stack([bla[diff], new[diff]], axis=1).astype(np.int32)

    def _metrics(self, frame: _Frame, step: EngineStep | None, counts: dict,
                 running: int, waiting: int) -> StepMetrics:
        cfg = self.recording.config
        total = cfg.num_gpu_blocks - 1
        stop = frame.stop
        view = step.at_schedule if step is not None else None
        return StepMetrics(
            num_scheduled_tokens=step.total_num_scheduled_tokens if step is not None else 0,
            token_budget=cfg.max_num_batched_tokens,
            prefill_tokens=counts["prefill"], decode_tokens=counts["decode"],
            num_requests_running=running, num_requests_waiting=waiting,
            kv_cache_usage_perc=1.0 - self._num_free / total if total else 0.0,
            num_free_blocks=self._num_free, num_cached_free_blocks=self._n_cached_free,
            prefix_cache_queries=step.stats.prefix_cache_queries if step is not None else 0,
            prefix_cache_hits=step.stats.prefix_cache_hits if step is not None else 0,
            num_preemptions=step.stats.num_preemptions if step is not None else 0,
            prompt_tokens=counts["prompt"], generation_tokens=counts["generated"],
            waiting_stop_reason=stop.reason if stop is not None else None,
            waiting_stop_req_id=stop.request_id if stop is not None else None,
            waiting_stop_detail=stop.detail if stop is not None else None,
            waiting_stop_rest=stop.rest if stop is not None else None,
            num_free_blocks_at_schedule=view.num_free_blocks if view is not None else None,
            kv_cache_usage_at_schedule=view.kv_cache_usage if view is not None else None)


def emitted_frames(scenario: Scenario, runner: ScenarioRunner | None = None,
                   keeper: SnapshotKeeper | None = None,
                   ) -> Iterator[tuple[EngineStep | None, tuple]]:
    """Run the scenario and yield what the engine emitted, frame by frame: (None, the events
    before the first step), then (the step's record, the events after it) for each step.
    Given a `runner` (resumed mid-run), only its later steps are yielded. A run still
    going after MAX_RECORDED_STEPS steps raises StepLimitError instead of its next step.

    With a `keeper`, the runner's state is handed to it at the steps it asks for (what
    resuming at a recorded step starts from; snapshots.py).
    """
    if runner is None:
        runner = ScenarioRunner(scenario)
        yield None, runner.engine.take_events()
    engine = runner.engine
    while not runner.is_done():
        if runner.steps_done > MAX_RECORDED_STEPS:  # one step of look-ahead (Recorder)
            raise StepLimitError(scenario, f"still running after {MAX_RECORDED_STEPS:,} steps")
        if keeper is not None and keeper.due(runner.steps_done):
            keeper.keep(runner.steps_done, runner.snapshot())
        runner.step()
        yield engine.last_step, engine.take_events()


UNKNOWN = object()  # Recorder(until=...) not given


class Recorder:
    """Runs a scenario and grows `self.recording` step by step (for a background thread)."""

    def __init__(self, scenario: Scenario, until: int | None | object = UNKNOWN) -> None:
        """`until`: the most steps the caller will ask for (None: all of them). When that
        may pass MAX_RECORDED_STEPS, a run that `estimate_min_steps` already puts beyond
        the limit raises StepLimitError here, before any step runs. Not given: the caller
        does not say, and only the limit itself stops the run."""
        if until is None or (isinstance(until, int) and until > MAX_RECORDED_STEPS):
            at_least = estimate_min_steps(scenario)
            if at_least > MAX_RECORDED_STEPS:
                raise StepLimitError(scenario, f"the run takes at least {at_least:,} steps")
        self.error: StepLimitError | None = None  # the run outgrew MAX_RECORDED_STEPS
        self.builder = RecordingBuilder(scenario)
        self.recording = self.builder.recording
        self._frames = emitted_frames(scenario, keeper=SnapshotKeeper(self.recording))
        _, before = next(self._frames)
        self.builder.begin(before)
        # The engine runs one step ahead, so that the run's end is known as it is recorded.
        self._next = next(self._frames, None)
        if self._next is None:
            self.builder.finish()

    @property
    def done(self) -> bool:
        return self.recording.complete

    def _advance_one(self) -> bool:
        """Record the next step; False (and the recording finished) when the run is over.
        At MAX_RECORDED_STEPS it raises StepLimitError, now and on every later call."""
        if self.error is not None:
            raise self.error
        try:
            frame, self._next = self._next, next(self._frames, None)
        except StepLimitError as e:
            self.error = e
            raise
        self.builder.add_step(*frame)
        if self._next is None:
            self.builder.finish()
            return False
        return True

    def advance(self, n: int = 1) -> bool:
        """Run up to n more steps; True while there is more to run."""
        for _ in range(n):
            if self.recording.complete or not self._advance_one():
                break
        return not self.recording.complete
def record(scenario: Scenario, progress: Callable[[int], None] | None = None,
           batch: int = 256, until: int | None = None) -> Recording:
    """Record a run (its first `until` steps when given); `progress(steps_done)` is called
    every `batch` steps and at the end. A run longer than MAX_RECORDED_STEPS raises
    StepLimitError: at once when `estimate_min_steps` already says so, else at the limit."""
    recorder = Recorder(scenario, until)
    rec = recorder.recording
    while not recorder.done and (until is None or rec.num_steps < until):
        recorder.advance(batch if until is None else min(batch, until - rec.num_steps))
        if progress is not None:
            progress(rec.num_steps)
    if progress is not None and rec.num_steps == 0:
        progress(0)  # a run with no step still reports once
    return rec
