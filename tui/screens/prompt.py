"""A one-line question (a file path to open or export to).

The field is pre-filled only with a value that can be drawn as it is: a path with control
characters in it (user data) is not offered again, as the field would draw it raw."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from tui.screens.base import DialogScreen
from tui.text import shown


class PromptScreen(DialogScreen[str | None]):
    DEFAULT_CSS = """
    PromptScreen > #dialog { width: 80%; max-width: 90; }
    """

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value if shown(value) == value else ""

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.title_text, markup=False)
        yield Input(value=self.value, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
