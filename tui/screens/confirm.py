"""A yes/no question (overwrite an existing file?): y or the first button says yes;
n, escape or the second button says no. The safe answer, no, has the focus."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, Static

from tui.screens.base import DialogScreen
from tui.text import message


class ConfirmScreen(DialogScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen > #dialog { width: 80%; max-width: 90; border: round $warning; }
    ConfirmScreen #confirm-question { margin: 1 0; }
    ConfirmScreen Horizontal { height: auto; }
    ConfirmScreen Button { width: auto; margin-right: 2; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes", id="confirm-yes"),
                Binding("n", "answer(False)", "No", id="confirm-no")]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose_dialog(self) -> ComposeResult:
        yield Static(message(self.question), id="confirm-question", markup=False)
        with Horizontal():
            yield Button(f"{self.yes} (y)", variant="warning", id="confirm-yes")
            yield Button(f"{self.no} (n)", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_close(self) -> None:
        self.dismiss(False)
