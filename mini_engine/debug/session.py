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
from dataclasses import replace

from mini_engine.errors import MiniEngineError
from mini_engine.debug.breakpoints import MODES, STATUS_CHANGES, Breakpoint, HitTrack
from mini_engine.debug.conditions import (MAX_CONDITION_CHARS, ConditionError, FieldInfo,
                                         Vocabulary, check_condition, did_you_mean)
from mini_engine.recording.codes import (EVENT_KINDS, PENDING, STATUS_NAMES, STEP_KIND_NAMES, WAITING_REASONS)
from mini_engine.recording.store import Recording
from mini_engine.recording.records import StepRecord, StepState

# Event kinds a breakpoint can stop on; "status" = any status change of one request.
BREAK_EVENTS = ("preemption", "finish", "admission", "resume", "abort", "ignore", "kv_full",
                "chunk", "first_token", "arrival", "status")
_STATUS_CHANGES = STATUS_CHANGES
MAX_BREAKPOINTS = 32  # each condition is evaluated once per step of the run

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


class DebugSession:
    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.cursor = 0
        self.bookmarks: list[int] = []  # sorted
        self.breakpoints: list[Breakpoint] = []
        self._tracks: dict[Breakpoint, HitTrack] = {}  # where each one hits, kept as it grows
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

    def vocabulary(self) -> Vocabulary:
        """The names a condition may use in this run, with their ranges (for warnings)."""
        rec = self.recording
        n = len(rec.request_ids)
        count, tokens = FieldInfo(low=0, high=n), FieldInfo(low=0)
        names = {name: tokens for name in GLOBAL_NAMES}
        names.update(running=count, waiting=count, finished=count,
                     kv_cache_usage=FieldInfo(low=0, high=1, fraction=True),
                     free_blocks=FieldInfo(low=0, high=self.config.num_gpu_blocks))
        fields = {name: tokens for name in REQUEST_FIELDS}
        fields.update(status=FieldInfo("text", values=STATUS_NAMES),
                      waiting_reason=FieldInfo("text", values=tuple(WAITING_REASONS)))
        return Vocabulary(names, fields, rec.request_index,
                          set(STATUS_NAMES) | set(WAITING_REASONS) | set(rec.request_index))

    def parse_breakpoint(self, text: str) -> Breakpoint:
        """`preemption`, `finish [req]`, `status <req>`, `kv_full`, ... or a condition,
        optionally after `when` (fire where it becomes true, the default) or `while`
        (fire at every step where it holds)."""
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
                raise BreakpointError(f"unknown request {rid!r}"
                                      f"{did_you_mean(rid, self.recording.request_index)}")
            if kind == "status" and rid is None:
                raise BreakpointError("'status' needs a request id: status <request id>")
            return Breakpoint(" ".join(words), kind, rid)
        mode, condition = "when", text
        if words[0] in MODES and len(words) > 1:
            mode = words[0]  # blanked out, so error columns still count from the start
            stripped = text.lstrip()
            condition = " " * (len(text) - len(stripped) + len(mode)) + stripped[len(mode):]
        try:
            node, warnings = check_condition(condition, self.vocabulary())
        except ConditionError as err:  # quoting what was typed, the mode word included
            raise BreakpointError(str(ConditionError(text, err.position, err.message))) from None
        return Breakpoint(condition.strip(), "condition", None, node, mode, warnings=warnings)

    def add_breakpoint(self, text: str) -> Breakpoint:
        """Add (or re-enable) a breakpoint; its `warnings` say if it may never fire."""
        bp = self.parse_breakpoint(text)
        if bp in self.breakpoints:
            i = self.breakpoints.index(bp)
            self.breakpoints[i] = replace(self.breakpoints[i], enabled=True)
            return self.breakpoints[i]
        if len(self.breakpoints) >= MAX_BREAKPOINTS:
            raise BreakpointError(f"too many breakpoints (at most {MAX_BREAKPOINTS}): "
                                  f"delete one first")
        self.breakpoints.append(bp)
        return bp

    def remove_breakpoint(self, index: int) -> Breakpoint:
        bp = self.breakpoints.pop(index)
        self._tracks.pop(bp, None)
        return bp

    def set_enabled(self, index: int, enabled: bool | None = None) -> Breakpoint:
        """Enable or disable (default: toggle) without deleting; disabled ones never stop."""
        bp = self.breakpoints[index]
        bp = self.breakpoints[index] = replace(
            bp, enabled=not bp.enabled if enabled is None else enabled)
        return bp

    def set_mode(self, index: int, mode: str | None = None) -> Breakpoint:
        """A condition's mode, "when" or "while" (default: the other one)."""
        bp = self.breakpoints[index]
        if bp.kind != "condition":
            raise BreakpointError(f"{bp.text!r} is an event: it has no when/while mode")
        if mode is None:
            mode = MODES[1 - MODES.index(bp.mode)]
        if mode not in MODES:
            raise BreakpointError(f"unknown mode {mode!r}; known: {', '.join(MODES)}")
        bp = self.breakpoints[index] = replace(bp, mode=mode)
        return bp

    def _track(self, bp: Breakpoint) -> HitTrack:
        track = self._tracks.get(bp)
        if track is None:
            track = self._tracks[bp] = HitTrack(self.recording, bp)
        return track

    def _enabled(self) -> list[Breakpoint]:
        return [bp for bp in self.breakpoints if bp.enabled]

    def breakpoint_steps(self, index: int) -> list[int]:
        """Every step where breakpoint `index` hits (enabled or not), in the recorded steps."""
        return list(self._track(self.breakpoints[index]).extend())

    def hit_counts(self, index: int) -> tuple[int, int]:
        """(hits at or before the cursor, hits in the whole recorded run) of breakpoint `index`."""
        track = self._track(self.breakpoints[index])
        return track.count_through(self.cursor), len(track.extend())

    def hits_at(self, step: int) -> list[Breakpoint]:
        """The enabled breakpoints that fire at `step` (events there; conditions turning
        true there, or holding there for `while` ones)."""
        return [bp for bp in self._enabled() if self._track(bp).hit_at(step)]

    def find_breakpoint(self, direction: int) -> int | None:
        """The nearest step after (or before) the cursor where an enabled breakpoint fires."""
        found = [_neighbour(self._track(bp).extend(), self.cursor, direction)
                 for bp in self._enabled()]
        found = [s for s in found if s is not None]
        if not found:
            return None
        return min(found) if direction > 0 else max(found)

    def continue_(self, direction: int) -> int | None:
        """Run forward (or backward) to the next breakpoint hit; None (cursor unmoved) if none."""
        step = self.find_breakpoint(direction)
        if step is not None:
            self.go(step)
        return step

    def breakpoint_hits(self) -> dict[int, list[int]]:
        """Breakpoint index -> its hit steps, for every enabled breakpoint (timeline marks;
        conditions on request fields included)."""
        return {i: list(self._track(bp).extend())
                for i, bp in enumerate(self.breakpoints) if bp.enabled}

    def hit_steps(self) -> set[int]:
        """Steps where any enabled breakpoint fires (for the timeline markers)."""
        return {s for steps in self.breakpoint_hits().values() for s in steps}


def _neighbour(steps: list[int] | tuple[int, ...], cursor: int, direction: int) -> int | None:
    if direction > 0:
        i = bisect.bisect_right(steps, cursor)
        return steps[i] if i < len(steps) else None
    i = bisect.bisect_left(steps, cursor)
    return steps[i - 1] if i > 0 else None


__all__ = ["BREAK_EVENTS", "MAX_BREAKPOINTS", "MODES", "Breakpoint", "BreakpointError", "DebugSession", "GLOBAL_NAMES",
           "REQUEST_FIELDS", "EVENT_KINDS", "STATUS_NAMES",
           # for the UI, which reads state only through this module:
           "PENDING", "STEP_KIND_NAMES", "WAITING_REASONS", "StepRecord", "StepState"]
