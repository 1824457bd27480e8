"""The timeline strip: one cell per step, coloured by what the step did, with a cursor.

Under the cells: ▲ the cursor, ● a breakpoint hit, ◆ a bookmark, ╵ a request finished.

Drawn with the Line API, so only the visible cells are rendered: it stays fast at
tens of thousands of steps. Click or drag to scrub; the view scrolls to keep the
cursor visible and grows as steps arrive from a background recording.
"""

from __future__ import annotations

from typing import Sequence

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.styles import ComponentStyles

# Step kinds, in the order of the recording's `step_kinds` codes; colours in app.tcss.
KIND_GLYPHS = ("·", "▆", "▆", "▂", "▇")
KIND_NAMES = ("idle", "prefill", "mixed", "decode", "preemption")
KIND_COMPONENTS = tuple(f"timeline--{name}" for name in KIND_NAMES)


class Timeline(ComponentStyles, ScrollView, can_focus=True, inherit_bindings=False):
    """Steps 0..n-1 along x; `cursor` is the step on screen."""

    DEFAULT_CSS = """
    Timeline { height: 5; border: round $secondary; scrollbar-size-horizontal: 0;
               scrollbar-size-vertical: 0; }
    Timeline:focus { border: round $accent; }
    """

    COMPONENT_CLASSES = {*KIND_COMPONENTS, "timeline--cursor", "timeline--bookmark",
                         "timeline--hit", "timeline--finish", "timeline--axis"}

    cursor: reactive[int] = reactive(0, init=False)

    class Scrubbed(Message):
        """The user clicked or dragged the timeline to a step."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kinds: Sequence[int] = ()
        self.bookmarks: set[int] = set()
        self.hits: set[int] = set()
        self.finishes: set[int] = set()  # steps where a request finished, aborted or was ignored
        self.border_title = "timeline"
        self._dragging = False

    @property
    def num_steps(self) -> int:
        return len(self.kinds)

    @property
    def cell_width(self) -> int:
        """Short runs are drawn with wider cells (up to 3), long ones one cell per step."""
        width = self.scrollable_content_region.width or 1
        return max(1, min(3, width // max(self.num_steps, 1)))

    def set_steps(self, kinds: Sequence[int]) -> None:
        """Show these step kinds (the array may grow while a recording is computed)."""
        self.kinds = kinds
        self._resize_virtual()
        self.refresh()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(max(self.num_steps * self.cell_width, 1), 3)

    def set_marks(self, bookmarks: set[int], hits: set[int]) -> None:
        self.bookmarks, self.hits = bookmarks, hits
        self.refresh()

    def set_finishes(self, steps: set[int]) -> None:
        self.finishes = steps
        self.refresh()

    def watch_cursor(self, step: int) -> None:
        self.scroll_to_cursor()
        self.refresh()

    def scroll_to_cursor(self) -> None:
        """Keep the cursor in view, paging by a quarter view so the strip rarely scrolls."""
        width = self.scrollable_content_region.width or 1
        x = int(self.scroll_x)
        cx = self.cursor * self.cell_width
        if cx < x:
            self.scroll_to(x=max(cx - width // 4, 0), animate=False, immediate=True)
        elif cx >= x + width:
            self.scroll_to(x=cx - width + width // 4 + 1, animate=False, immediate=True)

    def on_resize(self) -> None:
        self._resize_virtual()
        self.scroll_to_cursor()

    # -- scrubbing with the mouse

    def _step_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or not self.num_steps:
            return None
        return max(0, min(self.num_steps - 1, (int(self.scroll_x) + offset.x) // self.cell_width))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        step = self._step_at(event)
        if step is not None:
            self._dragging = True
            self.capture_mouse()
            self.post_message(self.Scrubbed(step))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            step = self._step_at(event)
            if step is not None:
                self.post_message(self.Scrubbed(step))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()

    # -- drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        cw = self.cell_width
        x0 = int(self.scroll_x)
        first, end = x0 // cw, min(self.num_steps, -(-(x0 + width) // cw))
        cursor, kinds = self.cursor, self.kinds
        style = self.part_style
        cursor_style = style("timeline--cursor")
        if y == 0:
            kind_styles = tuple(style(name) for name in KIND_COMPONENTS)
            segments = merge_runs((KIND_GLYPHS[kinds[s]] * cw, cursor_style if s == cursor
                                   else kind_styles[kinds[s]]) for s in range(first, end))
        elif y == 1:
            marks = ((self.hits, "●", style("timeline--hit")),
                     (self.bookmarks, "◆", style("timeline--bookmark")),
                     (self.finishes, "╵", style("timeline--finish")))
            segments = merge_runs(self._mark(s, cw, cursor_style, marks)
                                  for s in range(first, end))
        else:
            segments = [Segment(self._axis(first, end, cw), style("timeline--axis"))]
        offset = x0 - first * cw  # a wide cell may start left of the view
        return (Strip(segments).crop(offset, offset + width).extend_cell_length(width)
                .apply_style(self.rich_style))


    def _mark(self, step: int, cw: int, cursor_style: Style, marks) -> tuple[str, Style | None]:
        """The marker cell under `step`: the cursor, else the first mark set holding it."""
        if step == self.cursor:
            return "▲".center(cw), cursor_style
        for steps, glyph, style in marks:
            if step in steps:
                return glyph.center(cw), style
        return " " * cw, None

    @staticmethod
    def _axis(first: int, end: int, cw: int) -> str:
        """Step numbers at every multiple of 10 that has room for its label."""
        chars = [" "] * max((end - first) * cw, 0)
        s = first + (-first % 10)
        while s < end:
            label = f"|{s}"
            i = (s - first) * cw
            if i + len(label) <= len(chars) and all(c == " " for c in chars[i:i + len(label)]):
                chars[i:i + len(label)] = label
            s += 10
        return "".join(chars)


def merge_runs(cells) -> list[Segment]:
    """Merge neighbouring cells of one style into one segment: a long run of decode steps
    is then one segment, not hundreds, for the compositor to carry."""
    segments: list[Segment] = []
    text: list[str] = []
    style = None
    for cell_text, cell_style in cells:
        if cell_style is not style and text:
            segments.append(Segment("".join(text), style))
            text = []
        style = cell_style
        text.append(cell_text)
    if text:
        segments.append(Segment("".join(text), style))
    return segments
