"""Breakpoints: add an event (`preemption`, `finish req-3`, `status req-3`, `kv_full`) or a
condition (`kv_cache_usage > 0.9`, `req-3.status == RUNNING`); select one and press delete."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input, OptionList, Static

from mini_engine.debug.session import BREAK_EVENTS, GLOBAL_NAMES, BreakpointError, DebugSession

from tui.screens.base import DialogScreen
from tui.text import message, plain

HINT = ("events: " + ", ".join(BREAK_EVENTS) + " [request id]\n"
        "conditions: " + ", ".join(GLOBAL_NAMES) + ", <request>.status ...  "
        "(and/or/not, == != < <= > >=)\n"
        "enter adds · delete removes the selected one · escape closes")


class BreakpointsScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    BreakpointsScreen > #dialog { max-height: 90%; }
    BreakpointsScreen OptionList { height: auto; max-height: 12; }
    BreakpointsScreen #bp-hint { color: $text-muted; }
    BreakpointsScreen #bp-error { color: $error; }
    """
    BINDINGS = [Binding("delete,backspace", "remove", "Remove", id="remove-breakpoint",
                        show=False)]
    dialog_title = "breakpoints"

    def __init__(self, session: DebugSession) -> None:
        super().__init__()
        self.session = session

    def compose_dialog(self) -> ComposeResult:
        yield OptionList(id="bp-list")
        yield Input(placeholder="preemption | finish req-3 | kv_cache_usage > 0.9",
                    id="bp-input")
        yield Static("", id="bp-error", markup=False)  # quotes what was typed
        yield Static(HINT, id="bp-hint")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = False
        field.focus()  # type straight away; tab reaches the list to delete one
        self._refresh_list()

    def _refresh_list(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([plain(bp.text) for bp in self.session.breakpoints]
                            or ["(none yet)"])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = self.query_one("#bp-error", Static)
        try:
            self.session.add_breakpoint(event.value)
        except BreakpointError as err:
            error.update(message(err.one_line()))
            return
        error.update("")
        event.input.value = ""
        self._refresh_list()
        self.app.refresh_marks()

    def action_remove(self) -> None:
        options = self.query_one(OptionList)
        if options.has_focus and options.highlighted is not None and self.session.breakpoints:
            self.session.remove_breakpoint(options.highlighted)
            self._refresh_list()
            self.app.refresh_marks()
