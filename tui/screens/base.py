"""`DialogScreen`: the one base of the debugger's modal screens.

Every dialog is one bordered box centred over the debugger (subclasses move or size it in
their DEFAULT_CSS), escape closes it with no result, and its title sits on the border.
"""

from __future__ import annotations

from typing import TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen

from tui.text import plain

ResultType = TypeVar("ResultType")


class DialogScreen(ModalScreen[ResultType]):
    DEFAULT_CSS = """
    DialogScreen { align: center middle; }
    DialogScreen > #dialog { width: 90%; max-width: 100; height: auto;
                             border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "close", "Close", id="close-dialog")]

    dialog_title: str = ""  # on the box's border; empty for none

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as box:
            if self.dialog_title:
                box.border_title = plain(self.dialog_title)  # it may quote a request id
            yield from self.compose_dialog()

    def compose_dialog(self) -> ComposeResult:
        """The dialog's content (subclasses)."""
        yield from ()

    def action_close(self) -> None:
        self.dismiss(None)
