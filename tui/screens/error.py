"""A bad file (or command) shows its one-line error here; the session underneath stays as it was."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ErrorScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ErrorScreen { align: center middle; }
    ErrorScreen > Vertical { width: 80%; max-width: 100; height: auto; border: round $error;
                             background: $surface; padding: 0 1; }
    ErrorScreen #error-title { color: $error; text-style: bold; }
    ErrorScreen #error-message { margin: 1 0; }
    ErrorScreen Button { width: auto; }
    """
    BINDINGS = [Binding("escape,enter", "dismiss", "Close", id="close-error")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="error-title")
            yield Static(self.message, id="error-message", markup=False)
            yield Static("Your session is unchanged.", id="error-note")
            yield Button("OK", variant="error", id="error-ok")

    def on_button_pressed(self) -> None:
        self.dismiss(None)
