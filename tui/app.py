"""The debugger app shell: the full UI lands with the TUI issue."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class DebuggerApp(App):
    TITLE = "mini-engine"
    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("mini-engine step debugger", id="body")
        yield Footer()
