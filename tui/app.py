"""The step debugger: open a scenario or a recording and move through the engine's steps.

The app renders `DebugSession` state and forwards keys to it; all scheduling and
navigation logic lives in mini_engine (recording, session). A file is opened, and a
scenario recorded, in a background worker: the UI stays live while a large file loads,
and the timeline fills in while you already look at step 0. Whatever goes wrong while
opening (a bad or hostile file, a run the engine refuses) is an error dialog over the
session already on screen, which stays as it was.
"""

from __future__ import annotations

import gc
import os
from functools import partial
from pathlib import Path
from typing import Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Footer
from textual.worker import Worker, get_current_worker

import numpy as np

from mini_engine.debug.keymap_config import keymap_path
from mini_engine.debug.session import STEP_KIND_NAMES, DebugSession
from mini_engine.errors import MiniEngineError, error_line
from mini_engine.recording.vocabulary import wait_label
from mini_engine.scenarios.catalog import DEFAULT_SCENARIO
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import Source, open_source

from tui import keymap
from tui.breakpoint_actions import BreakpointActions
from tui.commands import DebuggerCommands
from tui.play import PlayPacer
from tui.files import FileActions, describe_error
from tui.screens.error import ErrorScreen
from tui.screens.goto import GotoScreen
from tui.text import plain, shown
from tui.view_actions import ViewActions, first_line
from tui.widgets.bars import PLAY_SPEEDS, HeaderBar, StatusBar, settings_line
from tui.widgets.charts import Charts
from tui.widgets.kv_map import KVMap
from tui.widgets.overview import Overview
from tui.widgets.queues import Queues
from tui.widgets.request_table import RequestTable
from tui.widgets.step_panel import StepPanel
from tui.widgets.timeline import KIND_NAMES, Timeline

EVENT_KINDS_CYCLE = ("preemption", "admission", "finish", "chunk", "resume", "first_token",
                     "kv_full", "abort", "arrival")
RECORD_BATCH = 256  # steps recorded between UI updates
# The recording's step-kind codes, mapped onto the timeline's colours.
KIND_TO_TIMELINE = np.array([KIND_NAMES.index(name) for name in STEP_KIND_NAMES], np.int8)

__all__ = ["DebuggerApp", "EVENT_KINDS_CYCLE", "PLAY_SPEEDS", "open_session"]


def open_session(opened) -> DebugSession:
    """A session over an opened Source, a Scenario (recorded in the background as the
    session is used) or an already loaded Recording."""
    if isinstance(opened, Source):
        opened = opened.loaded if opened.is_recording else opened.scenario
    if isinstance(opened, Scenario):
        return DebugSession.recording_scenario(opened)
    return DebugSession(opened)


def _load(source: str | Path) -> tuple[DebugSession, str]:
    """Open a file or bundled name (through the public loader) as a session."""
    opened = open_source(source)
    return open_session(opened), opened.arg


class DebuggerApp(FileActions, BreakpointActions, ViewActions, App):
    TITLE = "mini-engine"
    CSS_PATH = "app.tcss"
    BINDINGS = keymap.bindings()
    COMMANDS = App.COMMANDS | {DebuggerCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    # The state the screen follows: the header and status bars are data-bound to these,
    # and the watchers below redraw the panels, so setting one is all a change takes.
    cursor: var[int] = var(0, always_update=True)  # the session's cursor, the step on screen
    recorded_steps: var[int] = var(0)  # the last step recorded so far
    recording_complete: var[bool] = var(False)
    playing: var[bool] = var(False)
    speed_index: var[int] = var(2)  # into PLAY_SPEEDS
    event_kind: var[str] = var(EVENT_KINDS_CYCLE[0])  # what n/N jump to
    selected: var[str | None] = var(None)  # the request the table's cursor is on
    selected_waits: var[str | None] = var(None)  # why it waits, if it does
    breakpoint_hits: var[tuple[str, ...]] = var(())  # breakpoints firing at the cursor
    run_name: var[str] = var("")  # printable: control characters escaped
    run_settings: var[str] = var("")
    activity: var[str | None] = var(None)  # "opening x.yaml", "writing x.jsonl": in the header
    recording_stopped: var[bool] = var(False)  # the recording failed part way

    def __init__(self, source=None, path: str | None = None) -> None:
        """`source`: a path or bundled name, an opened `mini_engine.sources.Source`, or a
        loaded Scenario / Recording (then `path` is the file it came from, for reload)."""
        super().__init__()
        self.initial_source = DEFAULT_SCENARIO if source is None else source
        self.initial_path = path
        self.source_path: str | None = None
        self.session: DebugSession | None = None
        self._play_timer = None
        self._load_token = 0  # the session on screen (its recording's progress reports)
        self._open_token = 0  # the latest open asked for (older ones are dropped)
        self._pending_cursor: int | None = None
        self._frozen = False
        self.pacer = PlayPacer()  # which step play shows at each tick (tests fake its clock)
        # Kept, not queried: a late progress report finds them, not NoMatches (defect 2).
        self.timeline, self.overview = Timeline(id="timeline"), Overview(id="overview")
        self.charts = Charts(id="charts")
        # The description's first line as a note when the first run opens; not when
        # headless (tests, snapshots) unless a test sets it.
        self.announce_description: bool | None = None
        self.keymap_file = keymap_path()  # $XDG_CONFIG_HOME/mini-engine/keymap.toml
        self.key_overrides: dict[str, str] = {}  # binding id -> keys, from that file

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        app = DebuggerApp
        yield HeaderBar(id="header").data_bind(
            name_text=app.run_name, settings=app.run_settings, cursor=app.cursor,
            recorded_steps=app.recorded_steps, complete=app.recording_complete,
            playing=app.playing, speed_index=app.speed_index, activity=app.activity,
            stopped=app.recording_stopped)
        with Horizontal(id="main"):
            yield RequestTable(id="requests")
            with Vertical(id="side"):
                yield StepPanel(id="step-panel")
                yield KVMap(id="kv-map")
        yield Queues()
        self.charts.display = False  # `v` shows the charts in place of the queues
        yield self.charts.data_bind(cursor=app.cursor)
        yield self.overview.data_bind(cursor=app.cursor)
        yield self.timeline.data_bind(cursor=app.cursor)
        yield StatusBar(id="status").data_bind(
            hits=app.breakpoint_hits, event_kind=app.event_kind, selected=app.selected,
            selected_waits=app.selected_waits)
        yield Footer()

    def on_mount(self) -> None:
        if self.announce_description is None:
            self.announce_description = not self.is_headless
        self.apply_keymap_file()
        self.query_one(RequestTable).focus()
        source = self.initial_source
        if isinstance(source, (str, Path)):
            self.open_source(source)
        else:
            path = source.arg if isinstance(source, Source) else self.initial_path
            self._open(lambda: (open_session(source), path), shown(path or "the run"))

    def apply_keymap_file(self) -> None:
        """Remap keys from the user's keymap file; a bad file is an error dialog naming
        file, line and binding id, and the default keys stay."""
        try:
            overrides = keymap.user_keymap(self.keymap_file)
        except (MiniEngineError, OSError) as err:
            self.push_screen(ErrorScreen("Keymap file not applied", error_line(err)))
            return
        if overrides:
            self.set_keymap(overrides)
            self.key_overrides = overrides

    # ------------------------------------------------------------------ loading

    def open_source(self, source: str | Path, keep_step: bool = False) -> Worker:
        """Open a file or bundled scenario in a background thread: the UI stays live and
        the header says what is opening. On any error the error shows in a dialog and the
        current session stays as it was. Returns the worker (it then records the run)."""
        return self._open(partial(_load, source), shown(os.fspath(source)), keep_step)

    def _open(self, load: Callable[[], tuple[DebugSession, str | None]], label: str,
              keep_step: bool = False) -> Worker:
        self._open_token += 1
        self.activity = f"opening {label}"
        return self._load_and_record(load, label, keep_step, self._open_token)

    @work(thread=True, group="session")
    def _load_and_record(self, load, label: str, keep_step: bool, open_token: int) -> None:
        """Load and record a first batch (in this thread), show the session, then record
        the rest in batches, showing the progress after each; stops when a newer session
        replaces this one."""
        worker = get_current_worker()
        try:
            session, path = load()
            # The first batch too: a run the engine refuses at once is a load error (the
            # session on screen stays), not a new session that stops at step 0.
            more = session.record_more(RECORD_BATCH)
        except Exception as err:  # noqa: BLE001 - whatever a hostile file does: a dialog
            self._call(worker, self._open_failed, open_token, label, err)
            return
        token = self._call(worker, self._start, session, path, keep_step, open_token)
        more = more and token is not None
        while more and not worker.is_cancelled and token == self._load_token:
            try:
                more = session.record_more(RECORD_BATCH)
            except Exception as err:  # noqa: BLE001 - the steps so far stay browsable
                self._call(worker, self._recording_failed, token, err)
                return
            self._call(worker, self._on_progress, token)

    def _call(self, worker: Worker, callback, *args):
        """Run `callback(*args)` on the UI thread and return its result; None when the
        worker was cancelled or the app stopped meanwhile."""
        if worker.is_cancelled or not self.is_running:
            return None
        try:
            return self.call_from_thread(callback, *args)
        except RuntimeError:  # the app stopped between the check and the call
            return None

    def _open_failed(self, open_token: int, label: str, err: Exception) -> None:
        if open_token != self._open_token:
            return  # a newer open superseded this one
        self.activity = None
        self.push_screen(ErrorScreen("Could not open the file", describe_error(err, label)))

    def _start(self, session: DebugSession, path: str | None, keep_step: bool = False,
               open_token: int | None = None) -> int | None:
        """Show `session` (replacing the current one); the token its recording reports
        progress with, None if a newer open superseded it."""
        if open_token is not None and open_token != self._open_token:
            return None
        self.activity = None
        first, old_cursor = self.session is None, self.session.cursor if self.session else 0
        old_selected = self.selected
        self._load_token += 1
        self.playing = False
        self.recording_stopped = False
        self.source_path = path
        self.session = session
        table = self.query_one(RequestTable)
        table.session, table.state = session, None
        self._pending_cursor = old_cursor if keep_step else None
        self.selected = None
        self.run_name, self.run_settings = shown(session.scenario_name), settings_line(
            session.config)
        self._on_progress(self._load_token)
        self.cursor = session.cursor
        if keep_step and old_selected in session.request_index:  # a reload keeps the request
            table.select_request(old_selected)
        about = first_line(session.recording.scenario.description)
        if first and about and self.announce_description:
            self.notify(about, title=f"{self.run_name} (I: more)", timeout=8, markup=False)
        return self._load_token

    def _recording_failed(self, token: int, err: Exception) -> None:
        if token != self._load_token:
            return
        self.recording_stopped = True
        self.push_screen(ErrorScreen(f"The recording stopped after step {self.session.last_step}",
                                     describe_error(err, self.run_name)))

    def _on_progress(self, token: int) -> None:
        # A batch from an older session, or one arriving while the app shuts down (its
        # widgets are being removed), has nothing to update.
        if token != self._load_token or self.session is None or not self.is_running:
            return
        session = self.session
        summary = session.recording.summary()
        self.timeline.set_steps(KIND_TO_TIMELINE[summary.step_kind])
        self.timeline.set_finishes(session.finish_steps())
        self.overview.set_run(summary.kv_cache_usage_perc, summary.num_preemptions)
        self.charts.set_run(summary)
        self.recorded_steps, self.recording_complete = session.last_step, session.complete
        if session.complete and not self._frozen:
            gc.collect()
            gc.freeze()  # the finished recording lives on: keep it out of future collections
            self._frozen = True
        if self._pending_cursor is not None and (
                session.complete or session.last_step >= self._pending_cursor):
            self.go(self._pending_cursor)
            self._pending_cursor = None

    @property
    def recording_done(self) -> bool:
        return self.session is not None and self.session.complete

    # ------------------------------------------------------------------ rendering

    def watch_cursor(self) -> None:
        """Draw the panels for the step the cursor is on."""
        session = self.session
        if session is None:
            return
        step = session.cursor
        state = session.state()
        record = session.step_record(step)
        table = self.query_one(RequestTable)
        table.show(state, session.state(step - 1) if step > 0 else None, record)
        if self.selected is None:
            self.selected = table.selected_request
        elif table.selected_request != self.selected and self.selected in session.request_index:
            table.select_request(self.selected)  # active-first reordered: follow the request
        self._show_selection()
        self.query_one(StepPanel).show(record, state, session.preemptions_through(step))
        self.update_hits()

    def watch_selected(self) -> None:
        self._show_selection()

    def _show_selection(self) -> None:
        """The queues, the KV map and the status line, for the selected request."""
        if self.session is None:
            return
        state = self.session.state()
        rid = self.selected
        self.query_one(Queues).show(state, rid, self.session.request_index)
        blocks = state.block_tables.get(rid, ()) if rid else ()
        config = self.session.config
        if blocks:
            mine = f"{shown(rid)}'s {len(blocks)} highlighted"
        else:
            mine = f"{shown(rid)} holds none" if rid else "select a request"
        self.query_one(KVMap).set_blocks(
            state.block_states, blocks,
            title=plain(f"KV blocks {config.num_gpu_blocks - 1}×{config.block_size} ({mine})"))
        reason = state.waiting_reason(rid) if rid else None
        self.selected_waits = wait_label(reason) if reason else None

    def go(self, step: int) -> None:
        if self.session is not None:
            self.session.go(step)
            self.cursor = self.session.cursor

    def _follow_session(self) -> None:  # show the step the session jumped to itself
        self.cursor = self.session.cursor

    # ------------------------------------------------------------------ events from widgets

    @on(Timeline.Scrubbed)
    @on(Overview.Scrubbed)
    def scrubbed(self, message: Timeline.Scrubbed | Overview.Scrubbed) -> None:
        self.go(message.step)

    def on_timeline_view_changed(self, message: Timeline.ViewChanged) -> None:
        self.overview.set_window(message.view.first_step, message.view.end_step)
        self.charts.set_view(message.view)

    def on_request_table_selected(self, message: RequestTable.Selected) -> None:
        self.selected = message.request_id

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
        self.playing = not self.playing

    def watch_playing(self) -> None:
        self._set_play_timer()

    def watch_speed_index(self) -> None:
        self._set_play_timer()

    def _set_play_timer(self) -> None:
        """A timer ticking at the chosen speed while playing, none otherwise."""
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.playing:
            self.pacer.start(self.session.cursor if self.session else 0)
            self._play_timer = self.set_interval(1 / PLAY_SPEEDS[self.speed_index], self._tick)

    def _tick(self) -> None:
        """Move to the step due now (tui.play: the speed shown is the speed reached),
        stopping at the first breakpoint hit on the way and at the last recorded step."""
        session = self.session
        if session is None or not self.playing:
            return  # a tick already queued when play stopped (at a breakpoint) must not move
        if session.cursor >= session.last_step:
            if self.recording_done:
                self.playing = False
            return
        target = self.pacer.target(session.cursor, session.last_step,
                                   PLAY_SPEEDS[self.speed_index])
        if session.breakpoints:
            for step in range(session.cursor + 1, target + 1):
                if session.hits_at(step):
                    self.go(step)
                    self.playing = False
                    return
        self.go(target)

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(PLAY_SPEEDS) - 1, self.speed_index + delta))

    # ------------------------------------------------------------------ actions: events

    def action_jump_event(self, kind: str | None, direction: int) -> None:
        if self.session is None:
            return
        kind = kind or self.event_kind
        step = self.session.jump_event(kind, direction)
        if step is None:
            self.notify(f"no {'later' if direction > 0 else 'earlier'} {kind}", timeout=2,
                        markup=False)
        else:
            self._follow_session()

    def action_cycle_event_kind(self) -> None:
        i = EVENT_KINDS_CYCLE.index(self.event_kind)
        self.event_kind = EVENT_KINDS_CYCLE[(i + 1) % len(EVENT_KINDS_CYCLE)]

    def action_jump_request_event(self, direction: int) -> None:
        if self.session is None or self.selected is None:
            return
        if self.session.jump_event("status", direction, self.selected) is None:
            self.notify(f"{shown(self.selected)}: no "
                        f"{'later' if direction > 0 else 'earlier'} status change", timeout=2,
                        markup=False)
        else:
            self._follow_session()
