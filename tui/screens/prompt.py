"""A one-line question (a file path to open or export to)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Input, Static

from tui.screens.base import DialogScreen


class PromptScreen(DialogScreen[str | None]):
    DEFAULT_CSS = """
    PromptScreen > #dialog { width: 80%; max-width: 90; }
    """

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text, self.value = title, value

    def compose_dialog(self) -> ComposeResult:
        yield Static(self.title_text)
        yield Input(value=self.value, id="prompt-input")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
