"""A bad file (or command) shows its one-line error here; the session underneath stays as it was.

The message quotes user data, so it is drawn printable (tui.text.message), never as markup."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Button, Static

from tui.screens.base import DialogScreen
from tui.text import message


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
        # Messages quote user data: never markup, control characters escaped, cut short.
        yield Static(message(self.title_text), id="error-title", markup=False)
        yield Static(message(self.message), id="error-message", markup=False)
        yield Static("Your session is unchanged.", id="error-note")
        yield Button("OK", variant="error", id="error-ok")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
