"""The step debugger: open a scenario or a recording and move through the engine's steps.

The app renders `DebugSession` state and forwards keys to it; all scheduling and
navigation logic lives in mini_engine (recording, session). A scenario is recorded
in a background worker: the timeline fills in while you already look at step 0.
"""

from __future__ import annotations

import gc
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from mini_engine.recording.jsonl import RecordingError, load_jsonl, save_jsonl
from mini_engine.recording.store import STEP_KIND_NAMES, WAITING_REASONS, Recorder, Recording
from mini_engine.scenarios.spec import Scenario
from mini_engine.scenarios.catalog import DEFAULT_SCENARIO, resolve_scenario
from mini_engine.scenarios.loader import ScenarioError, load_scenario
from mini_engine.debug.session import BreakpointError, DebugSession

from . import keymap
from .commands import DebuggerCommands
from .screens.breakpoints import BreakpointsScreen
from .screens.detail import RequestDetailScreen
from .screens.error import ErrorScreen
from .screens.goto import GotoScreen
from .screens.help import HelpScreen
from .screens.prompt import PromptScreen
from .widgets.kv_map import KVMap
from .widgets.queues import Queues
from .widgets.request_table import RequestTable
from .widgets.step_panel import StepPanel
from .widgets.timeline import KIND_NAMES, Timeline

EVENT_KINDS_CYCLE = ("preemption", "admission", "finish", "chunk", "resume", "first_token",
                     "kv_full", "abort", "arrival")
PLAY_SPEEDS = (1, 2, 4, 8, 16, 32, 64)  # steps per second
RECORD_BATCH = 256  # steps recorded between UI updates
# The recording's step-kind codes, mapped onto the timeline's colours.
_KIND_TO_TIMELINE = [KIND_NAMES.index(name) for name in STEP_KIND_NAMES]


class LoadError(Exception):
    """A file that can't be opened, with its one-line message."""


def load_source(source: str | Path) -> Scenario | Recording:
    """A scenario (path or bundled name) or a saved JSONL recording; LoadError if bad."""
    try:
        if str(source).endswith(".jsonl"):
            return load_jsonl(source)
        return load_scenario(resolve_scenario(str(source)))
    except (ScenarioError, RecordingError) as err:
        raise LoadError(str(err)) from None
    except OSError as err:
        raise LoadError(f"{source}: {err.strerror or err}") from None


class DebuggerApp(App):
    TITLE = "mini-engine"
    CSS_PATH = "app.tcss"
    BINDINGS = keymap.bindings()
    COMMANDS = App.COMMANDS | {DebuggerCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self, source: str | Path | Scenario | Recording | None = None,
                 path: str | None = None) -> None:
        """`source`: a path or bundled name, or an already loaded Scenario / Recording
        (then `path` is the file it came from, for reload)."""
        super().__init__()
        self.initial_source = DEFAULT_SCENARIO if source is None else source
        self.initial_path = path
        self.source_path: str | None = None
        self.session: DebugSession | None = None
        self.recording: Recording | None = None
        self.event_kind = EVENT_KINDS_CYCLE[0]
        self.playing = False
        self.speed_index = 2
        self._play_timer = None
        self._load_token = 0
        self._pending_cursor: int | None = None
        self._selected: str | None = None
        self._frozen = False

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        with Horizontal(id="main"):
            yield RequestTable(id="requests")
            with Vertical(id="side"):
                yield StepPanel(id="step-panel")
                yield KVMap(id="kv-map")
        yield Queues()
        yield Timeline(id="timeline")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(RequestTable).focus()
        source = self.initial_source
        if isinstance(source, (Scenario, Recording)):
            self._start(source, self.initial_path)
        else:
            self.open_source(source)

    # ------------------------------------------------------------------ loading

    def open_source(self, source: str | Path, keep_step: bool = False) -> bool:
        """Open a file or bundled scenario; on error show it and keep the current session."""
        try:
            loaded = load_source(source)
        except LoadError as err:
            self.push_screen(ErrorScreen("Could not open the file", str(err)))
            return False
        path = str(source)
        self._start(loaded, path, keep_step=keep_step)
        return True

    def _start(self, loaded: Scenario | Recording, path: str | None,
               keep_step: bool = False) -> None:
        old_cursor = self.session.cursor if self.session else 0
        self._load_token += 1
        self._stop_play()
        self.source_path = path
        if isinstance(loaded, Recording):
            self.recording = loaded
        else:
            recorder = Recorder(loaded)
            self.recording = recorder.recording
            if not recorder.done:
                self._record(recorder, self._load_token)
        self.session = DebugSession(self.recording)
        rec = self.recording
        self.query_one(RequestTable).first_token_step = (
            lambda rid: next(iter(rec.event_steps("first_token", rid)), None))
        self._pending_cursor = old_cursor if keep_step else None
        self._selected = None
        self.query_one(RequestTable).state = None
        self._on_progress(self._load_token)
        self.refresh_view()

    @work(thread=True, exclusive=True, group="record")
    def _record(self, recorder: Recorder, token: int) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and recorder.advance(RECORD_BATCH):
            self.call_from_thread(self._on_progress, token)
        if not worker.is_cancelled:
            self.call_from_thread(self._on_progress, token)

    def _on_progress(self, token: int) -> None:
        if token != self._load_token or self.recording is None:
            return
        rec = self.recording
        timeline = self.query_one(Timeline)
        timeline.set_steps([_KIND_TO_TIMELINE[k] for k in rec.summary().step_kind.tolist()])
        timeline.set_finishes({s for k in ("finish", "abort", "ignore")
                               for s in rec.event_steps(k)})
        if rec.complete and not self._frozen:
            gc.collect()
            gc.freeze()  # the finished recording lives on: keep it out of future collections
            self._frozen = True
        if self._pending_cursor is not None and (
                self.recording.complete or self.recording.num_steps >= self._pending_cursor):
            self.session.go(self._pending_cursor)
            self._pending_cursor = None
            self.refresh_view()
        else:
            self._render_header()

    @property
    def recording_done(self) -> bool:
        return self.recording is not None and self.recording.complete

    # ------------------------------------------------------------------ rendering

    def refresh_view(self) -> None:
        session = self.session
        if session is None:
            return
        step = session.cursor
        state = session.state()
        prev = session.state(step - 1) if step > 0 else None
        record = self.recording.step_record(step)
        table = self.query_one(RequestTable)
        rec = self.recording
        table.show(state, prev, record)
        if self._selected is None:
            self._selected = table.selected_request
        self.query_one(Queues).show(state, self._selected)
        cumulative = int(rec.summary().num_preemptions[:step + 1].sum())
        self.query_one(StepPanel).show(record, state, cumulative)
        self._show_kv(state)
        timeline = self.query_one(Timeline)
        timeline.cursor = step
        self._render_header()
        self._render_status(state)

    def _show_kv(self, state) -> None:
        blocks = state.block_tables.get(self._selected, ()) if self._selected else ()
        cfg = self.recording.config
        if blocks:
            mine = f"{self._selected}'s {len(blocks)} highlighted"
        else:
            mine = f"{self._selected} holds none" if self._selected else "select a request"
        self.query_one(KVMap).set_blocks(
            state.block_states, blocks,
            title=f"KV blocks {cfg.num_gpu_blocks - 1}×{cfg.block_size} ({mine})")

    def _render_header(self) -> None:
        if self.session is None:
            return
        rec, cfg = self.recording, self.recording.config
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(rec.scenario.name, style="bold")
        t.append(f"  step {self.session.cursor} / {rec.num_steps}", style="bold yellow1")
        if not rec.complete:
            t.append(f" (recording… {rec.num_steps})", style="italic")
        t.append(f"  budget {cfg.max_num_batched_tokens}  seqs {cfg.max_num_seqs}"
                 f"  threshold {cfg.long_prefill_token_threshold}"
                 f"  blocks {cfg.num_gpu_blocks - 1}×{cfg.block_size}"
                 f"  prefix {'on' if cfg.enable_prefix_caching else 'off'}"
                 f"  chunked {'on' if cfg.enable_chunked_prefill else 'off'}  {cfg.policy}")
        if self.playing:
            t.append(f"  ▶ {PLAY_SPEEDS[self.speed_index]}/s", style="bold green3")
        self.query_one("#header", Static).update(t, layout=False)  # fixed size: repaint only

    def _render_status(self, state) -> None:
        hits = self.session.hits_at(self.session.cursor) if self.session.breakpoints else []
        t = Text(no_wrap=True, overflow="ellipsis")
        if hits:
            t.append("● breakpoint: " + "; ".join(bp.text for bp in hits) + "  ", style="red1 bold")
        t.append(f"n/N jump to: {self.event_kind} (e changes)", style="grey62")
        if self._selected:
            reason = state.waiting_reason(self._selected)
            if reason:
                t.append(f"  {self._selected} waits: {WAITING_REASONS.get(reason, reason)}",
                         style="yellow1")
        self.query_one("#status", Static).update(t, layout=False)

    def refresh_marks(self) -> None:
        if self.session is not None:
            self.query_one(Timeline).set_marks(set(self.session.bookmarks),
                                               self.session.hit_steps())
            self._render_status(self.session.state())

    def go(self, step: int) -> None:
        if self.session is not None:
            self.session.go(step)
            self.refresh_view()

    # ------------------------------------------------------------------ events from widgets

    def on_timeline_scrubbed(self, message: Timeline.Scrubbed) -> None:
        self.go(message.step)

    def on_request_table_selected(self, message: RequestTable.Selected) -> None:
        self._selected = message.request_id
        if self.session is not None:
            state = self.session.state()
            self.query_one(Queues).show(state, self._selected)
            self._show_kv(state)
            self._render_status(state)

    def on_request_table_opened(self, message: RequestTable.Opened) -> None:
        self.action_toggle_detail()

    def on_goto_screen_preview(self, message: GotoScreen.Preview) -> None:
        self.go(message.step)

    # ------------------------------------------------------------------ actions: time

    def action_step(self, delta: int) -> None:
        if self.session is not None:
            self.go(self.session.cursor + delta)

    def action_jump_start(self) -> None:
        self.go(0)

    def action_jump_end(self) -> None:
        if self.session is not None:
            self.go(self.session.last_step)

    def action_goto(self) -> None:
        if self.session is None:
            return
        origin = self.session.cursor

        def done(step: int | None) -> None:
            self.go(origin if step is None else step)

        self.push_screen(GotoScreen(self.session.last_step + 1, origin), done)

    def action_toggle_play(self) -> None:
        if self.playing:
            self._stop_play()
        else:
            self.playing = True
            self._play_timer = self.set_interval(1 / PLAY_SPEEDS[self.speed_index], self._tick)
        self._render_header()

    def _stop_play(self) -> None:
        self.playing = False
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def _tick(self) -> None:
        session = self.session
        if session is None or not self.playing:
            return  # a tick already queued when play stopped (at a breakpoint) must not move
        if session.cursor >= session.last_step:
            if self.recording_done:
                self._stop_play()
                self._render_header()
            return
        self.go(session.cursor + 1)
        if session.breakpoints and session.hits_at(session.cursor):
            self._stop_play()
            self._render_header()

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(PLAY_SPEEDS) - 1, self.speed_index + delta))
        if self.playing:
            self._stop_play()
            self.action_toggle_play()
        self._render_header()

    # ------------------------------------------------------------------ actions: events

    def action_jump_event(self, kind: str | None, direction: int) -> None:
        if self.session is None:
            return
        kind = kind or self.event_kind
        step = self.session.jump_event(kind, direction)
        if step is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} {kind}", timeout=2)
        else:
            self.refresh_view()

    def action_cycle_event_kind(self) -> None:
        i = EVENT_KINDS_CYCLE.index(self.event_kind)
        self.event_kind = EVENT_KINDS_CYCLE[(i + 1) % len(EVENT_KINDS_CYCLE)]
        if self.session is not None:
            self._render_status(self.session.state())

    def action_jump_request_event(self, direction: int) -> None:
        if self.session is None or self._selected is None:
            return
        if self.session.jump_event("status", direction, self._selected) is None:
            self.notify(f"{self._selected}: no {'later' if direction > 0 else 'earlier'} "
                        "status change", timeout=2)
        else:
            self.refresh_view()

    # ------------------------------------------------------------------ actions: breakpoints

    def action_continue_run(self, direction: int) -> None:
        if self.session is None:
            return
        if not self.session.breakpoints:
            self.notify("no breakpoints: press b to add one", timeout=2)
            return
        if self.session.continue_(direction) is None:
            self.notify("no breakpoint hit " + ("ahead" if direction > 0 else "behind"), timeout=2)
        else:
            self.refresh_view()

    def action_breakpoints(self) -> None:
        if self.session is not None:
            self.push_screen(BreakpointsScreen(self.session))

    def add_breakpoint(self, text: str) -> None:
        if self.session is None:
            return
        try:
            self.session.add_breakpoint(text)
        except BreakpointError as err:
            self.push_screen(ErrorScreen("Bad breakpoint", str(err)))
            return
        self.refresh_marks()

    def action_toggle_bookmark(self) -> None:
        if self.session is not None:
            self.session.toggle_bookmark()
            self.refresh_marks()

    def action_jump_bookmark(self, direction: int) -> None:
        if self.session is not None and self.session.jump_bookmark(direction) is not None:
            self.refresh_view()

    # ------------------------------------------------------------------ actions: views

    def action_toggle_detail(self) -> None:
        if self.session is not None and self._selected is not None:
            self.push_screen(RequestDetailScreen(self.recording, self._selected,
                                                 self.session.cursor))

    def action_filter(self) -> None:
        table = self.query_one(RequestTable)

        def done(text: str | None) -> None:
            table.set_filter(text or "")

        self.push_screen(PromptScreen("Filter requests by id or status words "
                                      "(empty shows all):", table.filter_text), done)

    def action_toggle_active_first(self) -> None:
        table = self.query_one(RequestTable)
        table.set_active_first(not table.active_first)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # ------------------------------------------------------------------ actions: files

    def action_open_file(self) -> None:
        def done(path: str | None) -> None:
            if path:
                self.open_source(path)

        self.push_screen(PromptScreen("Open a scenario (.yaml, or a bundled name) or a "
                                      "recording (.jsonl):", self.source_path or ""), done)

    def action_reload(self) -> None:
        if self.source_path is None:
            self.notify("nothing to reload: this session was not opened from a file", timeout=3)
            return
        self.open_source(self.source_path, keep_step=True)

    def _export(self, suffix: str, writer, what: str) -> None:
        if self.recording is None:
            return
        if not self.recording.complete:
            self.notify("the recording is still being computed; try again when it is done",
                        timeout=3)
            return
        default = f"{self.recording.scenario.name}{suffix}"

        def done(path: str | None) -> None:
            if not path:
                return
            try:
                writer(self.recording, path)
            except OSError as err:
                self.push_screen(ErrorScreen(f"Could not write the {what}",
                                             f"{path}: {err.strerror or err}"))
                return
            self.notify(f"wrote {what} to {path}", timeout=3)

        self.push_screen(PromptScreen(f"Write the {what} to:", default), done)

    def action_export_jsonl(self) -> None:
        self._export(".jsonl", save_jsonl, "JSONL recording")

    def action_export_perfetto(self) -> None:
        # Imported on use: it is not needed to start, and first paint counts every import.
        from mini_engine.exports.perfetto import export_perfetto

        self._export(".perfetto.json", export_perfetto, "Perfetto trace")
