"""`DebugSession`: a cursor over a recording, with bookmarks and breakpoints.

This is the debugger's navigation logic, kept out of the UI so it is testable
headless: the TUI only renders `session.state()` and calls these methods. Every
move is a lookup in the recording (seek, or the event index); nothing re-runs
the engine. Breakpoints are either events (`preemption`, `finish req-3`,
`status req-3`, `kv_full`, ...) or conditions in the small language of
`conditions.py` (`kv_cache_usage > 0.9`, `req-3.status == RUNNING`).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

from mini_engine.errors import MiniEngineError
from mini_engine.debug.conditions import (MAX_CONDITION_CHARS, ConditionError, Node, evaluate,
                                         names_in, parse_condition)
from mini_engine.recording.codes import (EVENT_KINDS, PENDING, STATUS_NAMES, STEP_KIND_NAMES, WAITING_REASONS)
from mini_engine.recording.store import Recording
from mini_engine.recording.records import StepRecord, StepState

# Event kinds a breakpoint can stop on; "status" = any status change of one request.
BREAK_EVENTS = ("preemption", "finish", "admission", "resume", "abort", "ignore", "kv_full",
                "chunk", "first_token", "arrival", "status")
_STATUS_CHANGES = ("arrival", "admission", "resume", "preemption", "finish", "abort", "ignore")

# Names a condition can read at every step (besides `<request id>.<field>`).
GLOBAL_NAMES = {
    "step": "the step number",
    "running": "num_requests_running",
    "waiting": "num_requests_waiting",
    "kv_cache_usage": "KV cache usage, 0..1 (vLLM kv_cache_usage_perc)",
    "free_blocks": "free KV blocks",
    "scheduled_tokens": "tokens scheduled in the step",
    "prefill_tokens": "prefill tokens scheduled in the step",
    "decode_tokens": "decode tokens scheduled in the step",
    "preemptions": "preemptions in the step",
    "total_preemptions": "preemptions so far",
    "prefix_cache_hits": "prefix-cache hit tokens in the step",
    "finished": "requests finished so far",
}
REQUEST_FIELDS = ("status", "num_computed_tokens", "num_tokens", "num_output_tokens",
                  "num_prompt_tokens", "num_preemptions", "num_blocks", "num_cached_tokens",
                  "waiting_reason")


class BreakpointError(MiniEngineError, ValueError):
    """A breakpoint the session can't use, with a message meant for the user."""

    title = "Invalid breakpoint"


@dataclass(frozen=True)
class Breakpoint:
    text: str  # what the user typed, normalised
    kind: str  # an event kind from BREAK_EVENTS, or "condition"
    request_id: str | None = None
    condition: Node | None = field(default=None, compare=False)


class DebugSession:
    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.cursor = 0
        self.bookmarks: list[int] = []  # sorted
        self.breakpoints: list[Breakpoint] = []
        self._state_cache: dict[int, StepState] = {}
        self._recorder = None  # set by recording_scenario: the engine run still being recorded

    @classmethod
    def recording_scenario(cls, scenario) -> DebugSession:
        """A session over a scenario's recording that grows as `record_more` runs the engine
        (from a background thread: the UI reads the steps recorded so far meanwhile)."""
        from mini_engine.recording.recorder import Recorder

        recorder = Recorder(scenario)
        session = cls(recorder.recording)
        session._recorder = recorder
        return session

    def record_more(self, num_steps: int) -> bool:
        """Record up to `num_steps` more steps; True while there is more to record."""
        return self._recorder is not None and self._recorder.advance(num_steps)

    # ------------------------------------------------------------------ what the UI shows

    @property
    def complete(self) -> bool:
        """True once every step is recorded (a loaded recording always is)."""
        return self.recording.complete

    @property
    def scenario_name(self) -> str:
        return self.recording.scenario.name

    @property
    def config(self):
        """The engine settings of the run (an EngineConfig)."""
        return self.recording.config

    @property
    def request_index(self):
        """Request id -> its position in the StepState arrays (scenario order)."""
        return self.recording.request_index

    def step_record(self, step: int | None = None) -> StepRecord:
        """What happened in `step` (default: the cursor)."""
        return self.recording.step_record(self.cursor if step is None else step)

    def step_kinds(self) -> list[int]:
        """One code per recorded step (names in STEP_KIND_NAMES), for the timeline."""
        return self.recording.summary().step_kind.tolist()

    def finish_steps(self) -> set[int]:
        """Steps where a request finished, was aborted or was ignored."""
        return {s for k in ("finish", "abort", "ignore") for s in self.recording.event_steps(k)}

    def preemptions_through(self, step: int) -> int:
        """Preemptions in steps 0..step."""
        return int(self.recording.summary().num_preemptions[:step + 1].sum())

    def first_token_step(self, request_id: str) -> int | None:
        return next(iter(self.recording.event_steps("first_token", request_id)), None)

    def arrival_step(self, request_id: str) -> int:
        return self.recording.scenario.requests[self.recording.request_index[request_id]].arrival_step

    def request_metrics(self, request_id: str):
        """Per-request latencies in steps (a RequestMetrics)."""
        return self.recording.request_metrics(request_id)

    def lifecycle(self, request_id: str) -> list:
        """The lab's event list of one request over the whole run."""
        return self.recording.lifecycle(request_id)

    def text(self, request_id: str, step: int | None = None) -> str:
        """What the request generated up to `step` (default: the cursor)."""
        return self.recording.text(request_id, self.cursor if step is None else step)

    def export(self, kind: str, path: str, *, force: bool = False) -> None:
        """Write the recording: kind "jsonl" (replayable) or "perfetto" (a trace for
        ui.perfetto.dev), atomically; an existing file only with `force` (see debug.export)."""
        from mini_engine.debug.export import export_recording
        export_recording(self.recording, kind, path, force=force)

    def export_name(self, kind: str) -> str:
        """A safe file name in the working directory to offer for an export."""
        from mini_engine.debug.export import suggested_file_name
        return suggested_file_name(self.scenario_name, kind)

    # ------------------------------------------------------------------ moving

    @property
    def last_step(self) -> int:
        return self.recording.num_steps

    def go(self, step: int) -> int:
        """Move the cursor (clamped to the recorded steps); returns where it landed."""
        self.cursor = max(0, min(self.last_step, int(step)))
        return self.cursor

    def move(self, delta: int) -> int:
        return self.go(self.cursor + delta)

    def state(self, step: int | None = None) -> StepState:
        """The full state at `step` (default: the cursor); the last few are kept."""
        step = self.cursor if step is None else step
        state = self._state_cache.get(step)
        if state is None:
            if len(self._state_cache) >= 4:
                self._state_cache.pop(next(iter(self._state_cache)))
            state = self._state_cache[step] = self.recording.seek(step)
        return state

    # ------------------------------------------------------------------ events

    def find_event(self, kind: str, direction: int, request_id: str | None = None) -> int | None:
        """The next (direction > 0) or previous step with an event of `kind`, from the cursor."""
        if kind == "status":
            steps = sorted({s for k in _STATUS_CHANGES
                            for s in self.recording.event_steps(k, request_id)})
            return _neighbour(steps, self.cursor, direction)
        rec = self.recording
        if direction > 0:
            return rec.next_step(self.cursor, kind, request_id)
        return rec.prev_step(self.cursor, kind, request_id)

    def jump_event(self, kind: str, direction: int, request_id: str | None = None) -> int | None:
        step = self.find_event(kind, direction, request_id)
        if step is not None:
            self.go(step)
        return step

    # ------------------------------------------------------------------ bookmarks

    def toggle_bookmark(self, step: int | None = None) -> bool:
        """Bookmark the step (default: the cursor), or remove its bookmark; True if now set."""
        step = self.cursor if step is None else step
        i = bisect.bisect_left(self.bookmarks, step)
        if i < len(self.bookmarks) and self.bookmarks[i] == step:
            del self.bookmarks[i]
            return False
        self.bookmarks.insert(i, step)
        return True

    def jump_bookmark(self, direction: int) -> int | None:
        step = _neighbour(self.bookmarks, self.cursor, direction)
        if step is not None:
            self.go(step)
        return step

    # ------------------------------------------------------------------ breakpoints

    def parse_breakpoint(self, text: str) -> Breakpoint:
        """`preemption`, `finish [req]`, `status <req>`, `kv_full`, ... or a condition."""
        if len(text) > MAX_CONDITION_CHARS:
            raise BreakpointError(f"breakpoint too long ({len(text)} characters; at most "
                                  f"{MAX_CONDITION_CHARS})")
        words = text.split()
        if not words:
            raise BreakpointError("empty breakpoint")
        if words[0] in BREAK_EVENTS and len(words) <= 2 and not any(
                c in text for c in "=<>!()"):
            kind = words[0]
            rid = words[1] if len(words) == 2 else None
            if rid is not None and rid not in self.recording.request_index:
                raise BreakpointError(f"unknown request {rid!r}")
            if kind == "status" and rid is None:
                raise BreakpointError("'status' needs a request id: status <request id>")
            return Breakpoint(" ".join(words), kind, rid)
        try:
            node = parse_condition(text)
        except ConditionError as err:
            raise BreakpointError(str(err)) from None
        for path in names_in(node):
            self._check_name(path)
        return Breakpoint(text.strip(), "condition", None, node)

    def _check_name(self, path: tuple[str, ...]) -> None:
        if len(path) == 1:
            return  # a global name, or a bare word such as RUNNING
        if len(path) != 2:
            raise BreakpointError(f"{'.'.join(path)}: use <request id>.<field>")
        rid, fld = path
        if rid not in self.recording.request_index:
            raise BreakpointError(f"unknown request {rid!r}")
        if fld not in REQUEST_FIELDS:
            raise BreakpointError(f"unknown field {fld!r}; known: {', '.join(REQUEST_FIELDS)}")

    def add_breakpoint(self, text: str) -> Breakpoint:
        bp = self.parse_breakpoint(text)
        if bp not in self.breakpoints:
            self.breakpoints.append(bp)
        return bp

    def remove_breakpoint(self, index: int) -> Breakpoint:
        return self.breakpoints.pop(index)

    def hits_at(self, step: int) -> list[Breakpoint]:
        """The breakpoints that fire at `step` (events there, conditions turning true there)."""
        return [bp for bp in self.breakpoints if self._fires(bp, step)]

    def _fires(self, bp: Breakpoint, step: int) -> bool:
        if bp.kind == "condition":
            return self._becomes_true([bp], step, {})
        return self._event_steps(bp, step) is not None

    def _becomes_true(self, conditions: list[Breakpoint], step: int, memo: dict) -> bool:
        """Conditions are edge-triggered: they fire where one turns true (false, or step 0,
        just before), so continuing through a stretch where it stays true doesn't stop
        at every step."""
        def value(s: int) -> tuple[bool, ...]:
            if s not in memo:
                resolve = self._resolver(s)
                memo[s] = tuple(bool(evaluate(bp.condition, resolve)) for bp in conditions)
            return memo[s]

        now = value(step)
        before = value(step - 1) if step > 0 else (False,) * len(conditions)
        return any(n and not b for n, b in zip(now, before))

    def _event_steps(self, bp: Breakpoint, step: int) -> int | None:
        for k in _kinds(bp):
            steps = self.recording.event_steps(k, bp.request_id)
            i = bisect.bisect_left(steps, step)
            if i < len(steps) and steps[i] == step:
                return step
        return None

    def find_breakpoint(self, direction: int) -> int | None:
        """The nearest step after (or before) the cursor where any breakpoint fires."""
        best: int | None = None
        events = [bp for bp in self.breakpoints if bp.kind != "condition"]
        for bp in events:
            steps = sorted({s for k in _kinds(bp)
                            for s in self.recording.event_steps(k, bp.request_id)})
            s = _neighbour(steps, self.cursor, direction)
            if s is not None and (best is None or (s < best if direction > 0 else s > best)):
                best = s
        conditions = [bp for bp in self.breakpoints if bp.kind == "condition"]
        if conditions:
            stop = best if best is not None else (self.last_step + 1 if direction > 0 else -1)
            memo: dict = {}
            step = self.cursor + direction
            while (step < stop) if direction > 0 else (step > stop):
                if self._becomes_true(conditions, step, memo):
                    return step
                step += direction
        return best

    def continue_(self, direction: int) -> int | None:
        """Run forward (or backward) to the next breakpoint hit; None (cursor unmoved) if none."""
        step = self.find_breakpoint(direction)
        if step is not None:
            self.go(step)
        return step

    def hit_steps(self, limit: int = 100_000) -> set[int]:
        """Steps where any breakpoint fires (for the timeline markers)."""
        hits: set[int] = set()
        for bp in self.breakpoints:
            if bp.kind != "condition":
                for k in _kinds(bp):
                    hits.update(self.recording.event_steps(k, bp.request_id))
        # Conditions on global names are cheap to scan (no seek); request fields are not marked.
        conditions = [bp for bp in self.breakpoints if bp.kind == "condition"
                      and all(len(p) == 1 for p in names_in(bp.condition))]
        if conditions:
            memo: dict = {}
            for step in range(min(self.last_step + 1, limit)):
                if self._becomes_true(conditions, step, memo):
                    hits.add(step)
        return hits

    # ------------------------------------------------------------------ resolver

    def _resolver(self, step: int):
        rec = self.recording
        summary = rec.summary()
        state_box: list[StepState] = []

        def state() -> StepState:
            if not state_box:
                state_box.append(self.state(step))
            return state_box[0]

        def resolve(path: tuple[str, ...]) -> Any:
            if len(path) == 1:
                name = path[0]
                if name == "step":
                    return step
                m = rec.metrics(step)
                value = {
                    "running": lambda: m.num_requests_running,
                    "waiting": lambda: m.num_requests_waiting,
                    "kv_cache_usage": lambda: m.kv_cache_usage_perc,
                    "free_blocks": lambda: m.num_free_blocks,
                    "scheduled_tokens": lambda: m.num_scheduled_tokens,
                    "prefill_tokens": lambda: m.prefill_tokens,
                    "decode_tokens": lambda: m.decode_tokens,
                    "preemptions": lambda: m.num_preemptions,
                    "total_preemptions": lambda: int(summary.num_preemptions[:step + 1].sum()),
                    "prefix_cache_hits": lambda: m.prefix_cache_hits,
                    "finished": lambda: len(state().finished),
                }.get(name)
                if value is None:
                    raise KeyError(name)
                return value()
            rid, fld = path
            st = state()
            if rid not in rec.request_index:
                raise KeyError(rid)
            if fld == "status":
                return st.status_name(rid)
            if fld == "waiting_reason":
                return st.waiting_reason(rid)
            r = st.request(rid)
            return getattr(r, fld)

        return resolve


def _neighbour(steps: list[int] | tuple[int, ...], cursor: int, direction: int) -> int | None:
    if direction > 0:
        i = bisect.bisect_right(steps, cursor)
        return steps[i] if i < len(steps) else None
    i = bisect.bisect_left(steps, cursor)
    return steps[i - 1] if i > 0 else None


def _kinds(bp: Breakpoint) -> tuple[str, ...]:
    """The recording's event kinds an event breakpoint stops on."""
    return _STATUS_CHANGES if bp.kind == "status" else (bp.kind,)


__all__ = ["BREAK_EVENTS", "Breakpoint", "BreakpointError", "DebugSession", "GLOBAL_NAMES",
           "REQUEST_FIELDS", "EVENT_KINDS", "STATUS_NAMES",
           # for the UI, which reads state only through this module:
           "PENDING", "STEP_KIND_NAMES", "WAITING_REASONS", "StepRecord", "StepState"]
