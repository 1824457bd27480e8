"""Colours come from the stylesheet (app.tcss), never from Python: a widget declares
COMPONENT_CLASSES and draws with their styles, as toolong does."""

from __future__ import annotations

from rich.style import Style


class ComponentStyles:
    """Mixin for widgets and screens that draw segments or Text spans themselves."""

    def part_style(self, component: str) -> Style:
        """What the stylesheet sets for `component` alone (partial: nothing inherited from
        the widget), ready for a Segment or a Text span. Textual caches it per widget."""
        return self.get_component_rich_style(component, partial=True)
