"""Cross-line checks of a recording being loaded: every frame must be one an engine could emit.

The line models (format.py) check each value alone. `FrameChecker` follows the run
as the frames arrive, with a light mirror of its own (each request's status and
counters, each block's reference count and cached flag, each block table), and
refuses a frame that contradicts the header or the frames before it: an unknown
request, a block id beyond `num_gpu_blocks`, a request admitted twice or scheduled
while waiting, more tokens computed than the request has, a block freed that it does
not hold, a finish the sampled tokens do not explain, counts in `at_schedule` or
`stats` that disagree with the events. So whatever loads can be drawn, exported and
checked as it is (`RecordingBuilder` trusts it). Each problem is a `Defect` naming
the field, e.g. `events.2.block_ids`.

A step's `events` are in the engine's order: first what `schedule()` decided
(admissions, preemptions, allocations), then what `update_from_output()` did with
the sampled tokens (finishes and the frees that go with them). The scheduled entries
and `at_schedule` are checked at that boundary.
"""

from __future__ import annotations

from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.recording.blocks import BlockMirror
from mini_engine.recording.format import Step
from mini_engine.recording.header import Defect, show
from mini_engine.recording.store import prompt_length
from mini_engine.scenarios.spec import Scenario

__all__ = ["FrameChecker"]

PENDING, WAITING, RUNNING, PREEMPTED, FINISHED = range(5)
_NAMES = ("PENDING", "WAITING", "RUNNING", "PREEMPTED", "FINISHED")
_REQUEST_KINDS = ("queued", "ignored", "admitted", "preempted", "finished")
_FINISH_REASON = {"FINISHED_STOPPED": "stop", "FINISHED_LENGTH": "length",
                  "FINISHED_LENGTH_CAPPED": "length", "FINISHED_ABORTED": "abort"}
_USAGE_TOLERANCE = 1e-9


class FrameChecker:
    """Feed it each frame in order (`check(step)`), then `check_final(complete)`."""

    def __init__(self, scenario: Scenario) -> None:
        cfg = self.cfg = scenario.engine
        specs = scenario.requests
        self.ids = [r.request_id for r in specs]
        self.index = {rid: i for i, rid in enumerate(self.ids)}
        self.prompt = [prompt_length(r) for r in specs]
        self.arrival = [r.arrival_step for r in specs]
        self.limit = [min(cfg.max_model_len, p + r.sampling_params.max_tokens)
                      for p, r in zip(self.prompt, specs)]
        self.stop_ids = [frozenset(r.sampling_params.stop_token_ids) for r in specs]
        self.eos = [_eos(r.sampling_params) for r in specs]
        self.stops = [ids | {eos} if eos is not None else ids
                      for ids, eos in zip(self.stop_ids, self.eos)]
        n = len(specs)
        self.status = [PENDING] * n
        self.computed = [0] * n
        self.tokens = list(self.prompt)
        self.cached = [-1] * n  # num_cached_tokens of the first admission
        self.reported = [False] * n
        self.counts = [0] * 5  # requests per status
        self.counts[PENDING] = n
        self.blocks = BlockMirror(cfg.num_gpu_blocks)
        self.length_status = ("FINISHED_LENGTH_CAPPED" if cfg.vllm_compat
                              else "FINISHED_LENGTH")
        self.queue_position = "sorted" if cfg.policy == "priority" else "back"
        self.preempt_position = "sorted" if cfg.policy == "priority" else "front"
        self.frame = -1
        self.late_preemptions = 0  # reset_prefix_cache's, counted in the next step's stats
        self.sampled: dict[int, int] = {}  # request -> the token it sampled in this step

    # ------------------------------------------------------------------ frames

    def check(self, line: Step) -> None:
        """One frame; `Defect` if it contradicts what came before."""
        self.frame = line.step
        if line.step == 0:
            if (line.scheduled or line.events or line.finished or line.at_schedule is not None
                    or line.stats is not None):
                raise Defect(None, "frame 0 holds only `after` (no step has run yet)")
        else:
            if line.stats is None or line.at_schedule is None:
                raise Defect("stats", "a step after 0 needs stats and at_schedule")
            self._step(line)
        self.late_preemptions = 0
        for i, ev in enumerate(line.after):
            self._event(ev, f"after.{i}", False)

    def check_final(self, complete: bool) -> None:
        if complete and self.counts[FINISHED] != len(self.status):
            ri = next(i for i, s in enumerate(self.status) if s != FINISHED)
            raise Defect("final.complete", f"the run is marked complete but request "
                                           f"{show(self.ids[ri])} is {_NAMES[self.status[ri]]}")

    def _step(self, line: Step) -> None:
        self.stopped = False
        self.preemptions = self.late_preemptions
        boundary = _update_start(line)
        for i, ev in enumerate(line.events):
            if i == boundary:
                self._scheduled(line)
            self._event(ev, f"events.{i}", True)
        if boundary == len(line.events):
            self._scheduled(line)
        for ri in self.sampled:
            if self.status[ri] == RUNNING and (self.tokens[ri] >= self.limit[ri]
                                               or self.sampled[ri] in self.stops[ri]):
                raise Defect("events", f"request {show(self.ids[ri])} should have finished "
                                       f"in this step (its last token ends it)")
        self._reported(line)
        self._stats(line)

    # ------------------------------------------------------------------ events

    def _request(self, rid: str | None, where: str) -> int:
        ri = self.index.get(rid) if rid is not None else None
        if ri is None:
            raise Defect(f"{where}.request_id", f"unknown request {show(str(rid))}: the header "
                                                f"declares no such request")
        return ri

    def _set(self, ri: int, status: int) -> None:
        self.counts[self.status[ri]] -= 1
        self.counts[status] += 1
        self.status[ri] = status

    def _expect(self, ri: int, allowed: tuple[int, ...], where: str, what: str) -> None:
        if self.status[ri] not in allowed:
            raise Defect(f"{where}.request_id",
                         f"{what} request {show(self.ids[ri])}, which is "
                         f"{_NAMES[self.status[ri]]} (expected "
                         f"{' or '.join(_NAMES[s] for s in allowed)})")

    def _event(self, ev, where: str, in_step: bool) -> None:
        kind = ev.kind
        if kind in _REQUEST_KINDS:
            ri = self._request(ev.request_id, where)
            getattr(self, "_" + kind)(ev, ri, where, in_step)
        elif kind == "admission_stopped":
            if not in_step:
                raise Defect(f"{where}.kind", "admission_stopped belongs in the step's events")
            if self.stopped:
                raise Defect(f"{where}.kind", "a second admission_stopped in one step")
            self.stopped = True
            if ev.request_id is not None:
                self._request(ev.request_id, where)
        elif kind == "cache_cleared":
            self.blocks.clear_hashes()
        else:
            ri = self._request(ev.request_id, where)
            if kind in ("blocks_allocated", "blocks_hit"):
                self._expect(ri, (WAITING, RUNNING, PREEMPTED), where, "blocks for")
            self.blocks.apply(ev, ri, where)

    def _arrive(self, ri: int, where: str, in_step: bool) -> None:
        if in_step:
            raise Defect(f"{where}.kind", "an arrival belongs in `after` (requests arrive "
                                          "between steps)")
        if self.frame != self.arrival[ri]:
            raise Defect(f"{where}.request_id",
                         f"request {show(self.ids[ri])} arrives at frame {self.frame}, but "
                         f"its arrival_step in the header is {self.arrival[ri]}")

    def _queued(self, ev, ri: int, where: str, in_step: bool) -> None:
        self._expect(ri, (PENDING,), where, "queued")
        self._arrive(ri, where, in_step)
        if ev.num_prompt_tokens != self.prompt[ri]:
            raise Defect(f"{where}.num_prompt_tokens", f"{ev.num_prompt_tokens}, but the "
                                                       f"header's prompt has {self.prompt[ri]}")
        if ev.position != self.queue_position:
            raise Defect(f"{where}.position", f"{ev.position!r} under policy "
                                              f"{self.cfg.policy!r}")
        self._set(ri, WAITING)

    def _ignored(self, ev, ri: int, where: str, in_step: bool) -> None:
        if self.status[ri] == PENDING:
            self._arrive(ri, where, in_step)
        else:
            self._expect(ri, (WAITING, PREEMPTED), where, "ignored")
            self.blocks.holds_nothing(ri, where, self.ids[ri])
        self._set(ri, FINISHED)

    def _admitted(self, ev, ri: int, where: str, in_step: bool) -> None:
        if not in_step:
            raise Defect(f"{where}.kind", "an admission belongs in the step's events")
        self._expect(ri, (WAITING, PREEMPTED), where, "admitted")
        if ev.resumed != (self.status[ri] == PREEMPTED):
            raise Defect(f"{where}.resumed", f"{ev.resumed} for a request that was "
                                             f"{_NAMES[self.status[ri]]}")
        if ev.num_computed_tokens >= self.tokens[ri]:
            raise Defect(f"{where}.num_computed_tokens",
                         f"{ev.num_computed_tokens}, but the request has {self.tokens[ri]} "
                         f"tokens (at least one must be left to compute)")
        first = self.cached[ri] < 0
        want = ev.num_computed_tokens if first else self.cached[ri]
        if ev.num_cached_tokens != want:
            raise Defect(f"{where}.num_cached_tokens", f"{ev.num_cached_tokens}, expected "
                                                       f"{want} (the first admission's hits)")
        self.cached[ri] = want
        self.computed[ri] = ev.num_computed_tokens
        self._set(ri, RUNNING)

    def _preempted(self, ev, ri: int, where: str, in_step: bool) -> None:
        self._expect(ri, (RUNNING,), where, "preempted")
        if ev.position != self.preempt_position:
            raise Defect(f"{where}.position", f"{ev.position!r} under policy "
                                              f"{self.cfg.policy!r}")
        if (ev.cause == "schedule") != in_step:
            raise Defect(f"{where}.cause", f"{ev.cause!r} preemption in "
                                           f"{'the step' if in_step else '`after`'}")
        if ev.num_tokens_lost != self.computed[ri]:
            raise Defect(f"{where}.num_tokens_lost", f"{ev.num_tokens_lost}, but the request "
                                                     f"had computed {self.computed[ri]}")
        self.blocks.holds_nothing(ri, where, self.ids[ri])
        for field, want in (("kv_cache_usage_before", self.blocks.usage_before_free(ri)),
                            ("kv_cache_usage_after", self.blocks.usage())):
            if abs(getattr(ev, field) - want) > _USAGE_TOLERANCE:
                raise Defect(f"{where}.{field}", f"{getattr(ev, field)}, but the blocks "
                                                 f"give {want}")
        self.computed[ri] = 0
        if in_step:
            self.preemptions += 1
        else:
            self.late_preemptions += 1
        self._set(ri, PREEMPTED)

    def _finished(self, ev, ri: int, where: str, in_step: bool) -> None:
        self._expect(ri, (WAITING, RUNNING, PREEMPTED), where, "finished")
        if ev.prev_status != _NAMES[self.status[ri]]:
            raise Defect(f"{where}.prev_status", f"{ev.prev_status}, but the request was "
                                                 f"{_NAMES[self.status[ri]]}")
        if ev.reason is not None and ev.reason != _FINISH_REASON[ev.status]:
            raise Defect(f"{where}.reason", f"{ev.reason!r} for {ev.status}")
        if ev.status != "FINISHED_ABORTED":
            self._stop(ev, ri, where)
        if ev.status != "FINISHED_STOPPED" and ev.stop_reason is not None:
            raise Defect(f"{where}.stop_reason", f"{ev.stop_reason!r} for {ev.status} (only "
                                                 f"a stop token is a stop_reason)")
        self.blocks.holds_nothing(ri, where, self.ids[ri])
        self._set(ri, FINISHED)

    def _stop(self, ev, ri: int, where: str) -> None:
        """A finish by the engine: explained by the token the request just sampled."""
        token = self.sampled.get(ri)
        if token is None or self.status[ri] != RUNNING:
            raise Defect(f"{where}.status", f"{ev.status} for a request that sampled no "
                                            f"token in this step")
        if ev.status == "FINISHED_STOPPED":
            if token not in self.stops[ri]:
                raise Defect(f"{where}.status", f"FINISHED_STOPPED, but token {token} stops "
                                                f"nothing")
            want = token if token in self.stop_ids[ri] and token != self.eos[ri] else None
            if ev.stop_reason != want:
                raise Defect(f"{where}.stop_reason", f"{ev.stop_reason!r}, but the request "
                                                     f"stopped on token {token}")
        elif ev.status != self.length_status:
            raise Defect(f"{where}.status", f"{ev.status}, but a length stop is "
                                            f"{self.length_status} here (vllm_compat is "
                                            f"{self.cfg.vllm_compat})")
        elif token in self.stops[ri] or self.tokens[ri] < self.limit[ri]:
            raise Defect(f"{where}.status", f"{ev.status} at {self.tokens[ri]} tokens, "
                                            f"the limit is {self.limit[ri]}")

    # ------------------------------------------------------------------ the step

    def _scheduled(self, line: Step) -> None:
        """What schedule() decided: the scheduled entries, then `at_schedule`."""
        cfg = self.cfg
        if len(line.scheduled) > cfg.max_num_seqs:
            raise Defect("scheduled", f"{len(line.scheduled)} requests scheduled, more than "
                                      f"max_num_seqs ({cfg.max_num_seqs})")
        self.sampled = {}
        total = 0
        for k, (rid, n, sampled) in enumerate(line.scheduled):
            where = f"scheduled.{k}"
            ri = self.index.get(rid)
            if ri is None:
                raise Defect(f"{where}.0", f"unknown request {show(rid)}")
            if self.status[ri] != RUNNING:
                raise Defect(f"{where}.0", f"request {show(rid)} is scheduled but "
                                           f"{_NAMES[self.status[ri]]}")
            if ri in self.sampled:
                raise Defect(f"{where}.0", f"request {show(rid)} is scheduled twice")
            computed, tokens = self.computed[ri] + n, self.tokens[ri]
            if computed > tokens:
                raise Defect(f"{where}.1", f"{n} tokens scheduled, but only "
                                           f"{tokens - self.computed[ri]} are left to compute")
            if self.blocks.table_length(ri) != -(-computed // cfg.block_size):
                raise Defect(f"{where}.1", f"{computed} tokens computed in "
                                           f"{self.blocks.table_length(ri)} blocks of "
                                           f"{cfg.block_size}")
            if (sampled is not None) != (computed == tokens):
                raise Defect(f"{where}.2", "a sampled token for a prefill chunk" if sampled
                             is not None else "no sampled token, but the request caught up")
            self.computed[ri] = computed
            if sampled is not None:
                if tokens >= self.limit[ri]:
                    raise Defect(f"{where}.2", "a token past the request's length limit")
                self.tokens[ri] = tokens + 1
            self.sampled[ri] = sampled if sampled is not None else -1
            total += n
        self.sampled = {ri: t for ri, t in self.sampled.items() if t >= 0}
        if total > cfg.max_num_batched_tokens:
            raise Defect("scheduled", f"{total} tokens scheduled, more than "
                                      f"max_num_batched_tokens ({cfg.max_num_batched_tokens})")
        self._at_schedule(line, total)

    def _at_schedule(self, line: Step, total: int) -> None:
        view, counts = line.at_schedule, self.counts
        for field, want in (("num_free_blocks", self.blocks.num_free),
                            ("num_running", counts[RUNNING]),
                            ("num_waiting", counts[WAITING] + counts[PREEMPTED]),
                            ("token_budget_left", self.cfg.max_num_batched_tokens - total)):
            if getattr(view, field) != want:
                raise Defect(f"at_schedule.{field}", f"{getattr(view, field)}, but the step's "
                                                     f"events and entries give {want}")
        if abs(view.kv_cache_usage - self.blocks.usage()) > _USAGE_TOLERANCE:
            raise Defect("at_schedule.kv_cache_usage", f"{view.kv_cache_usage}, but "
                                                       f"{view.num_free_blocks} blocks are free")

    def _reported(self, line: Step) -> None:
        for k, rid in enumerate(line.finished):
            ri = self.index.get(rid)
            if ri is None:
                raise Defect(f"finished.{k}", f"unknown request {show(rid)}")
            if self.status[ri] != FINISHED:
                raise Defect(f"finished.{k}", f"request {show(rid)} is reported finished but "
                                              f"is {_NAMES[self.status[ri]]}")
            if self.reported[ri]:
                raise Defect(f"finished.{k}", f"request {show(rid)} is reported finished twice")
            self.reported[ri] = True

    def _stats(self, line: Step) -> None:
        s, counts = line.stats, self.counts
        for field, want in (("num_running", counts[RUNNING]),
                            ("num_waiting", counts[WAITING] + counts[PREEMPTED]),
                            ("num_free_blocks", self.blocks.num_free),
                            ("num_preemptions", self.preemptions)):
            if getattr(s, field) != want:
                raise Defect(f"stats.{field}", f"{getattr(s, field)}, but the events give "
                                               f"{want}")
        if abs(s.kv_cache_usage - self.blocks.usage()) > _USAGE_TOLERANCE:
            raise Defect("stats.kv_cache_usage", f"{s.kv_cache_usage}, but "
                                                 f"{s.num_free_blocks} blocks are free")
        if s.prefix_cache_hits > s.prefix_cache_queries:
            raise Defect("stats.prefix_cache_hits", f"{s.prefix_cache_hits} hits is more than "
                                                    f"{s.prefix_cache_queries} queries")


def _eos(params) -> int | None:
    """The token that ends a request as FINISHED_STOPPED with no stop_reason (None: ignore_eos)."""
    if params.ignore_eos:
        return None
    return params.eos_token_id if params.eos_token_id is not None else ByteTokenizer.eos_token_id


def _update_start(line: Step) -> int:
    """Where the events after the decision begin: an `ignored` head that can never fit
    (found once nothing else could run), or the first free or finish of a request that
    update_from_output finishes (len(events) when there is neither)."""
    done = {ev.request_id for ev in line.events
            if ev.kind == "finished" and ev.status != "FINISHED_ABORTED"}
    return next((i for i, ev in enumerate(line.events) if ev.kind == "ignored" or (
                 ev.kind in ("blocks_freed", "finished") and ev.request_id in done)),
                len(line.events))
