"""The scenario's description: what the scenario shows and what to look at, as its author
wrote it (the required `description` key), with the engine settings it runs with."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.screens.base import DialogScreen
from tui.styles import ComponentStyles
from tui.text import shown

MAX_DESCRIPTION_CHARS = 20_000  # a hostile file's description is cut (with a note) past this


def description_text(name: str, description: str | None, settings: str) -> Text:
    """The dialog's text: printable, cut past MAX_DESCRIPTION_CHARS."""
    body = description or "(this scenario has no description)"
    cut = len(body) > MAX_DESCRIPTION_CHARS
    lines = [shown(line) for line in body[:MAX_DESCRIPTION_CHARS].splitlines()]
    t = Text()
    t.append("\n".join(lines) + ("\n… (cut)" if cut else "") + "\n\n")
    t.append(f"{shown(name)}: {shown(settings)}\n")
    return t


class DescriptionScreen(ComponentStyles, DialogScreen[None]):
    DEFAULT_CSS = """
    DescriptionScreen > #dialog { max-width: 90; height: auto; max-height: 80%; }
    DescriptionScreen VerticalScroll { height: auto; max-height: 100%; }
    """
    COMPONENT_CLASSES = {"description--heading"}
    BINDINGS = [Binding("enter,q", "close", "Close", id="close-description")]

    def __init__(self, name: str, description: str | None, settings: str) -> None:
        super().__init__()
        self.text = description_text(name, description, settings)
        self.dialog_title = f"about {shown(name)}  (escape closes)"

    def compose_dialog(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self.text, id="description-body")
