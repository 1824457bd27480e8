"""Colours come from the stylesheet (app.tcss), never from Python: a widget declares
COMPONENT_CLASSES and draws with their styles, as toolong does.

Speed: Textual's own component-style cache is emptied by every `refresh()`, and
rebuilding one style costs tens of microseconds, so a widget drawing a line per step
with half a dozen styles paid for them again on every key. The styles are kept here
instead, and dropped only when the stylesheet is applied to the widget again (theme,
CSS or pseudo-class change: Textual then calls `notify_style_update`).
"""

from __future__ import annotations

from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip


class ComponentStyles:
    """Mixin for widgets and screens that draw segments or Text spans themselves."""

    _part_styles: dict[str, Style] | None = None
    _line_style: Style | None = None
    _painting = False
    _title_set: object = None  # the last title given to set_title

    def part_style(self, component: str) -> Style:
        """What the stylesheet sets for `component` alone (partial: nothing inherited from
        the widget), ready for a Segment or a Text span; kept until the styles change."""
        cache = self._part_styles
        if cache is None:
            cache = self._part_styles = {}
        style = cache.get(component)
        if style is None:
            style = cache[component] = self.get_component_rich_style(component, partial=True)
        return style

    def set_title(self, title) -> None:
        """Set `border_title` unless it is already that: every assignment repaints the
        whole widget, border and content, even when the title stays the same."""
        if title != self._title_set or type(title) is not type(self._title_set):
            self._title_set = title
            self.border_title = title

    def notify_style_update(self) -> None:
        self._part_styles = None
        super().notify_style_update()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The widget's own style, walked up from the screen once per paint rather than
        # once per line (`line_style`).
        self._line_style, self._painting = None, True
        try:
            return super().render_lines(crop)
        finally:
            self._line_style, self._painting = None, False

    @property
    def line_style(self) -> Style:
        """`rich_style` (the widget's colours, with its ancestors' background), computed
        once per paint: Line API widgets apply it to every line they draw."""
        if not self._painting:
            return self.rich_style
        style = self._line_style
        if style is None:
            style = self._line_style = self.rich_style
        return style
