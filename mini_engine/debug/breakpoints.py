"""Breakpoints and where they hit, computed once per breakpoint and extended as the run grows.

A breakpoint is an event (`preemption`, `finish req-3`, `status req-3`, ...) or a
condition (`kv_cache_usage > 90%`, `req-3.status == RUNNING`). A condition fires
"when" it becomes true (the default: continuing through a stretch where it stays true
stops once) or "while" it holds (every such step). Either may be disabled without
being deleted. The steps where one hits are kept as a sorted list, so continue, play,
hit counts and the timeline markers are lookups, not re-evaluations.

Evaluating a condition at every step never seeks per step: global names read the
step's metrics, and a request's fields change only where it is scheduled or changes
status, so each is read (one seek) at those steps and carried forward in between.
Only `waiting_reason` is read at every step the request waits (it changes with the
queue ahead of it).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from mini_engine.debug.conditions import Node, evaluate, names_in
from mini_engine.recording.codes import PREEMPTED, STATUS_CODE, WAITING
from mini_engine.recording.store import Recording

MODES = ("when", "while")  # fire where the condition becomes true / on every step it holds
STATUS_CHANGES = ("arrival", "admission", "resume", "preemption", "finish", "abort", "ignore")
_FINISH_KINDS = ("finish", "abort", "ignore")
_WAITING_CODES = (WAITING, PREEMPTED)


@dataclass(frozen=True)
class Breakpoint:
    text: str  # what the user typed, normalised (without the mode word)
    kind: str  # an event kind from BREAK_EVENTS, or "condition"
    request_id: str | None = None
    condition: Node | None = field(default=None, compare=False)
    mode: str = "when"  # conditions only: "when" (becomes true) or "while" (holds)
    enabled: bool = field(default=True, compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)  # e.g. a value out of range

    @property
    def label(self) -> str:
        """How the list shows it: conditions with their mode (`while waiting > 5`)."""
        return f"{self.mode} {self.text}" if self.kind == "condition" else self.text


def event_kinds(bp: Breakpoint) -> tuple[str, ...]:
    """The recording's event kinds an event breakpoint stops on."""
    return STATUS_CHANGES if bp.kind == "status" else (bp.kind,)


class HitTrack:
    """The sorted steps where one breakpoint hits, over the steps recorded so far."""

    def __init__(self, recording: Recording, bp: Breakpoint) -> None:
        self.recording, self.bp = recording, bp
        self.hits: list[int] = []
        self.done = -1  # steps 0..done are evaluated
        if bp.kind == "condition":
            self._condition = _ConditionTrack(recording, bp.condition)

    def extend(self) -> list[int]:
        """Bring the hits up to the last recorded step; returns them."""
        last = self.recording.num_steps
        if last <= self.done:
            return self.hits
        if self.bp.kind != "condition":
            steps = {s for k in event_kinds(self.bp)
                     for s in self.recording.event_steps(k, self.bp.request_id)}
            self.hits = sorted(steps)
        else:
            levels = self._condition.extend(last)
            edge = self.bp.mode == "when"
            for s in range(self.done + 1, last + 1):
                if levels[s] and not (edge and s > 0 and levels[s - 1]):
                    self.hits.append(s)
        self.done = last
        return self.hits

    def hit_at(self, step: int) -> bool:
        hits = self.extend()
        i = bisect.bisect_left(hits, step)
        return i < len(hits) and hits[i] == step

    def count_through(self, step: int) -> int:
        """Hits at steps 0..step."""
        return bisect.bisect_right(self.extend(), step)


class _ConditionTrack:
    """Whether a condition holds at each step (a bytearray of 0/1), extended in order."""

    def __init__(self, recording: Recording, condition: Node) -> None:
        self.recording, self.condition = recording, condition
        self.levels = bytearray()
        paths = names_in(condition)
        wants_reason = {p[0] for p in paths if len(p) == 2 and p[1] == "waiting_reason"}
        self.requests = {p[0]: _RequestSeries(recording, p[0], p[0] in wants_reason)
                         for p in paths if len(p) == 2}
        self.total_preemptions = 0
        self.finished = 0
        self.step = 0

    def extend(self, last: int) -> bytearray:
        for series in self.requests.values():
            series.extend(last)
        for s in range(len(self.levels), last + 1):
            self.step = s
            d = self.recording.delta(s)
            self.metrics = d.metrics
            self.total_preemptions += d.metrics.num_preemptions
            self.finished += sum(h.kind in _FINISH_KINDS for h in d.happenings)
            self.levels.append(bool(evaluate(self.condition, self.resolve)))
        return self.levels

    def resolve(self, path: tuple[str, ...]) -> Any:
        if len(path) == 2:
            return self.requests[path[0]].value(self.step, path[1])
        name, m = path[0], self.metrics
        if name == "step":
            return self.step
        if name == "total_preemptions":
            return self.total_preemptions
        if name == "finished":
            return self.finished
        return getattr(m, GLOBAL_METRICS[name])


# Global condition names read straight from a step's StepMetrics.
GLOBAL_METRICS = {
    "running": "num_requests_running", "waiting": "num_requests_waiting",
    "kv_cache_usage": "kv_cache_usage_perc", "free_blocks": "num_free_blocks",
    "scheduled_tokens": "num_scheduled_tokens", "prefill_tokens": "prefill_tokens",
    "decode_tokens": "decode_tokens", "preemptions": "num_preemptions",
    "prefix_cache_hits": "prefix_cache_hits",
}


class _RequestSeries:
    """One request's fields at the steps where they can change, carried forward."""

    def __init__(self, recording: Recording, request_id: str, wants_reason: bool) -> None:
        self.recording, self.request_id, self.wants_reason = recording, request_id, wants_reason
        self.index = recording.request_index[request_id]
        self.steps: list[int] = []
        self.values: list[dict[str, Any]] = []
        self.reasons: dict[int, str | None] = {}
        self.done = -1

    def extend(self, last: int) -> None:
        if last <= self.done:
            return
        rec, rid = self.recording, self.request_id
        changes = {s for k in STATUS_CHANGES for s in rec.event_steps(k, rid)}
        st, req, _, _ = rec.entries()
        changes.update(st[req == self.index].tolist())
        changes.add(0)
        for s in sorted(c for c in changes if self.done < c <= last):
            r = rec.seek(s).request(rid)
            self.steps.append(s)
            self.values.append({f: getattr(r, f) for f in REQUEST_ATTRS})
            self.reasons[s] = r.waiting_reason
        if self.wants_reason:
            for s in range(self.done + 1, last + 1):
                if s not in self.reasons and STATUS_CODE[self._at(s)["status"]] in _WAITING_CODES:
                    self.reasons[s] = rec.seek(s).waiting_reason(rid)
        self.done = last

    def _at(self, step: int) -> dict[str, Any]:
        return self.values[bisect.bisect_right(self.steps, step) - 1]

    def value(self, step: int, name: str) -> Any:
        if name != "waiting_reason":
            return self._at(step)[name]
        if step in self.reasons:
            return self.reasons[step]
        status = self._at(step)["status"]
        if status == "PENDING":
            return "not_arrived"
        return None  # not waiting (a waiting step is in `reasons`)


REQUEST_ATTRS = ("status", "num_computed_tokens", "num_tokens", "num_output_tokens",
                 "num_prompt_tokens", "num_preemptions", "num_blocks", "num_cached_tokens")
