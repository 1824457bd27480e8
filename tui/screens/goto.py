"""Go to step N: the cursor previews the step while you type; enter keeps it, escape goes back."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Input, Static

from tui.screens.base import DialogScreen


class GotoScreen(DialogScreen[int | None]):
    DEFAULT_CSS = """
    GotoScreen { align: right bottom; }
    GotoScreen > #dialog { width: 36; padding: 0; margin: 0 2 6 0; }
    GotoScreen #goto-hint { color: $text-muted; }
    """

    class Preview(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, num_steps: int, origin: int) -> None:
        super().__init__()
        self.num_steps, self.origin = num_steps, origin

    def compose_dialog(self) -> ComposeResult:
        yield Input(placeholder=f"step 0..{self.num_steps - 1}", type="integer",
                    id="goto-input")
        yield Static("enter: go  escape: back", id="goto-hint")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False

    def _clamped(self, text: str) -> int | None:
        try:
            return max(0, min(self.num_steps - 1, int(text)))
        except ValueError:
            return None

    def on_input_changed(self, event: Input.Changed) -> None:
        step = self._clamped(event.value)
        self.app.post_message(self.Preview(self.origin if step is None else step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(self._clamped(event.value))
