"""Breakpoints: add an event (`preemption`, `finish req-3`, `status req-3`, `kv_full`) or a
condition (`kv_cache_usage > 90%`, `while req-3.status == RUNNING`); the list shows each
one's mode, whether it is on, and its hits (at or before the cursor / in the run).
With the list focused: `e` (or space) turns the selected one on or off, `w` switches a
condition between "when" (it becomes true) and "while" (it holds), delete removes it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from mini_engine.debug.session import BREAK_EVENTS, GLOBAL_NAMES, BreakpointError, DebugSession

from tui.screens.base import DialogScreen
from tui.text import message, plain

HINT = ("events: " + ", ".join(BREAK_EVENTS) + " [request id]\n"
        "conditions: [when|while] " + ", ".join(GLOBAL_NAMES) + ", <request>.status ...  "
        "(and/or/not, == != < <= > >=, 90% = 0.9)\n"
        "enter adds · tab to the list: e on/off · w when/while · delete removes · "
        "escape closes")
COLUMNS = ("on", "mode", "breakpoint", "hits ≤ cursor / run")


class BreakpointsScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    BreakpointsScreen > #dialog { max-height: 90%; }
    BreakpointsScreen #bp-list { height: auto; max-height: 12; }
    BreakpointsScreen #bp-hint { color: $text-muted; }
    BreakpointsScreen #bp-error { color: $error; }
    BreakpointsScreen #bp-warning { color: $warning; }
    """
    BINDINGS = [
        Binding("delete,backspace", "remove", "Remove", id="remove-breakpoint", show=False),
        Binding("e,space", "toggle_enabled", "On/off", id="toggle-breakpoint", show=False),
        Binding("w", "toggle_mode", "When/while", id="breakpoint-mode", show=False),
    ]
    dialog_title = "breakpoints"

    def __init__(self, session: DebugSession) -> None:
        super().__init__()
        self.session = session

    def compose_dialog(self) -> ComposeResult:
        table = DataTable(id="bp-list", cursor_type="row", zebra_stripes=False)
        table.add_columns(*COLUMNS)
        yield table
        yield Input(placeholder="preemption | finish req-3 | while kv_cache_usage > 90%",
                    id="bp-input")
        yield Static("", id="bp-error", markup=False)  # quotes what was typed
        yield Static("", id="bp-warning", markup=False)
        yield Static(HINT, id="bp-hint", markup=False)

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = False
        field.focus()  # type straight away; tab reaches the list
        self._refresh_list()

    def rows(self) -> list[tuple[str, ...]]:
        """The list as shown: (on, mode, breakpoint, hits) per breakpoint."""
        session, rows = self.session, []
        more = "" if session.complete else "+"  # the run is still being recorded
        for i, bp in enumerate(session.breakpoints):
            so_far, total = session.hit_counts(i)
            mode = bp.mode if bp.kind == "condition" else "event"
            rows.append(("●" if bp.enabled else "○", mode, bp.text,
                         f"{so_far} / {total}{more}"))
        return rows

    def _refresh_list(self, keep: int | None = None) -> None:
        table = self.query_one(DataTable)
        table.clear()
        rows = self.rows()
        for on, mode, text, hits in rows:
            dim = "" if on == "●" else "dim"
            table.add_row(Text(on, style=dim), Text(mode, style=dim),
                          Text(plain(text).plain, style=dim), Text(hits, style=dim))
        if not rows:
            table.add_row(Text("", style="dim"), "", Text("(none yet)", style="dim"), "")
        if keep is not None and rows:
            table.move_cursor(row=min(keep, len(rows) - 1))

    def _selected(self) -> int | None:
        table = self.query_one(DataTable)
        if table.has_focus and self.session.breakpoints:
            return min(table.cursor_row, len(self.session.breakpoints) - 1)
        return None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = self.query_one("#bp-error", Static)
        warning = self.query_one("#bp-warning", Static)
        try:
            bp = self.session.add_breakpoint(event.value)
        except BreakpointError as err:
            error.update(message(err.one_line()))
            warning.update("")
            return
        error.update("")
        warning.update(message("warning: " + "; ".join(bp.warnings)) if bp.warnings else "")
        event.input.value = ""
        self._refresh_list()
        self.app.refresh_marks()

    def action_remove(self) -> None:
        index = self._selected()
        if index is not None:
            self.session.remove_breakpoint(index)
            self._changed(index)

    def action_toggle_enabled(self) -> None:
        index = self._selected()
        if index is not None:
            self.session.set_enabled(index)
            self._changed(index)

    def action_toggle_mode(self) -> None:
        index = self._selected()
        if index is None:
            return
        try:
            self.session.set_mode(index)
        except BreakpointError as err:  # an event has no mode
            self.query_one("#bp-error", Static).update(message(err.one_line()))
            return
        self._changed(index)

    def _changed(self, index: int) -> None:
        self._refresh_list(keep=index)
        self.app.refresh_marks()
