"""The help screen, generated from the key registry so it never drifts from the real bindings."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tui.keymap import help_rows
from tui.screens.base import DialogScreen

INTRO = ("Each step is one engine iteration: schedule() hands out the token budget "
         "(running requests first), the model samples, update_from_output() appends tokens "
         "and checks stops. Step 0 is the state before step 1.")


class HelpScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    HelpScreen > #dialog { height: 90%; }
    HelpScreen #intro { color: $text-muted; margin-bottom: 1; }
    HelpScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("q,question_mark,f1", "close", "Close", id="close-help")]

    def compose_dialog(self) -> ComposeResult:
        yield Static("[b]mini-engine keys[/b]  (escape closes)", id="title")
        yield Static(INTRO, id="intro")
        table = DataTable(cursor_type="row", zebra_stripes=True)
        table.add_columns("group", "keys", "what it does")
        table.add_rows(help_rows())
        yield table
