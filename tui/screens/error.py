"""A bad file (or command) shows its one-line error here; the session underneath stays as it was."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from tui.screens.base import DialogScreen


class ErrorScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    ErrorScreen > #dialog { width: 80%; border: round $error; }
    ErrorScreen #error-title { color: $error; text-style: bold; }
    ErrorScreen #error-message { margin: 1 0; }
    ErrorScreen Button { width: auto; }
    """
    BINDINGS = [Binding("enter", "close", "Close", id="close-error")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text, self.message = title, message

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.title_text, id="error-title")
        yield Static(self.message, id="error-message", markup=False)
        yield Static("Your session is unchanged.", id="error-note")
        yield Button("OK", variant="error", id="error-ok")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
