"""Breakpoints: add an event (`preemption`, `finish req-3`, `status req-3`, `kv_full`) or a
condition (`kv_cache_usage > 0.9`, `req-3.status == RUNNING`); select one and press delete."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static

from mini_engine.debug.session import BREAK_EVENTS, GLOBAL_NAMES, BreakpointError, DebugSession

HINT = ("events: " + ", ".join(BREAK_EVENTS) + " [request id]\n"
        "conditions: " + ", ".join(GLOBAL_NAMES) + ", <request>.status ...  "
        "(and/or/not, == != < <= > >=)\n"
        "enter adds · delete removes the selected one · escape closes")


class BreakpointsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    BreakpointsScreen { align: center middle; }
    BreakpointsScreen > Vertical { width: 90%; max-width: 100; height: auto; max-height: 90%;
                                   border: round $accent; background: $surface; padding: 0 1; }
    BreakpointsScreen OptionList { height: auto; max-height: 12; }
    BreakpointsScreen #bp-hint { color: $text-muted; }
    BreakpointsScreen #bp-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Close", id="close-breakpoints"),
                Binding("delete,backspace", "remove", "Remove", id="remove-breakpoint",
                        show=False)]

    def __init__(self, session: DebugSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "breakpoints"
            yield OptionList(id="bp-list")
            yield Input(placeholder="preemption | finish req-3 | kv_cache_usage > 0.9",
                        id="bp-input")
            yield Static("", id="bp-error")
            yield Static(HINT, id="bp-hint")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_blink = False
        field.focus()  # type straight away; tab reaches the list to delete one
        self._refresh_list()

    def _refresh_list(self) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([bp.text for bp in self.session.breakpoints] or ["(none yet)"])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        error = self.query_one("#bp-error", Static)
        try:
            self.session.add_breakpoint(event.value)
        except BreakpointError as err:
            error.update(str(err))
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
