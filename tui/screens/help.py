"""The help screen, generated from the key registry so it never drifts from the real
bindings: every key, then the mouse and command-palette actions.

A Rich table whose last column wraps, in a scrolling box: it fits any dialog width
(a DataTable sizes columns to their longest cell and clipped the dialog at 120 columns).
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.keymap import help_rows
from tui.screens.base import DialogScreen

INTRO = ("Each step is one engine iteration: schedule() hands out the token budget "
         "(running requests first), the model samples, update_from_output() appends tokens "
         "and checks stops. Step 0 is the state before step 1. Press i for the legend of "
         "glyphs and colours.")


def help_table(rows: list[tuple[str, str, str]]) -> Table:
    table = Table(expand=True, box=None, padding=(0, 1), show_edge=False)
    table.add_column("group", style="bold", no_wrap=True, width=11)
    table.add_column("keys", style="#ffff00", no_wrap=True, width=20)
    table.add_column("what it does", ratio=1, overflow="fold")
    previous = None
    for group, keys, what in rows:
        table.add_row(group if group != previous else "", keys, what)
        previous = group
    return table


class HelpScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    HelpScreen > #dialog { height: 90%; }
    HelpScreen #intro { color: $text-muted; margin-bottom: 1; }
    HelpScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("q,question_mark,f1", "close", "Close", id="close-help")]

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        """`overrides`: binding id -> keys, from the user's keymap file."""
        super().__init__()
        self.rows = help_rows(overrides)

    def compose_dialog(self) -> ComposeResult:
        yield Static("[b]mini-engine keys[/b]  (escape closes)", id="title")
        yield Static(INTRO, id="intro")
        with VerticalScroll(id="keys"):
            yield Static(help_table(self.rows), id="key-table")
