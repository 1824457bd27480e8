"""The timeline strip: steps along x, coloured by what the step did, with a cursor.

Under the cells: ▲ the cursor, ● a breakpoint hit, ◆ a bookmark, ╵ a request finished.

Drawn with the Line API, so only the visible cells are rendered: it stays fast at
tens of thousands of steps. Zoom (`zoom`, steps per cell = 2**zoom) folds many steps
into one cell, showing the most telling kind among them (preemption > prefill > mixed
> decode > idle). Click or drag to scrub; the mouse wheel scrolls the view; the view
scrolls to keep the cursor visible and grows as steps arrive from a background
recording. Each change of the visible window is posted as `Timeline.ViewChanged`, so
the overview strip and the charts follow it.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.styles import ComponentStyles
from tui.widgets.scrub import MouseScrub

# Step kinds, in the order of the recording's `step_kinds` codes; colours in app.tcss.
KIND_GLYPHS = ("·", "▆", "▆", "▂", "▇")
KIND_NAMES = ("idle", "prefill", "mixed", "decode", "preemption")
KIND_COMPONENTS = tuple(f"timeline--{name}" for name in KIND_NAMES)
# How telling each kind is when a zoomed-out cell folds several steps into one.
KIND_RANK = np.array([0, 3, 2, 1, 4], dtype=np.int8)
RANK_KIND = np.argsort(KIND_RANK).astype(np.int8)
MAX_ZOOM = 14  # 2**14 = 16384 steps per cell: any run fits a few columns
WHEEL_CELLS = 8  # cells one wheel notch scrolls


class View(NamedTuple):
    """Which steps the timeline shows: column x of its content holds the steps of cell
    (x0 + x) // cell_width, and cell c holds steps c*steps_per_cell .. +steps_per_cell-1."""

    x0: int
    width: int
    cell_width: int
    steps_per_cell: int
    num_steps: int

    def cell_of_column(self, x: int) -> int:
        return (self.x0 + x) // self.cell_width

    @property
    def first_step(self) -> int:
        return self.cell_of_column(0) * self.steps_per_cell

    @property
    def end_step(self) -> int:
        """One past the last step in view."""
        return min(self.num_steps, (self.cell_of_column(self.width - 1) + 1) * self.steps_per_cell)


def _sorted(steps) -> np.ndarray:
    return np.array(sorted(steps), dtype=np.int64)


class Timeline(MouseScrub, ComponentStyles, ScrollView, can_focus=False,
               inherit_bindings=False):
    """Steps 0..n-1 along x; `cursor` is the step on screen. Not focusable: a click on it
    scrubs but leaves the keyboard focus (the request table's arrows) where it was."""

    DEFAULT_CSS = """
    Timeline { height: 5; border: round $secondary; scrollbar-size-horizontal: 0;
               scrollbar-size-vertical: 0; }
    """

    COMPONENT_CLASSES = {*KIND_COMPONENTS, "timeline--cursor", "timeline--bookmark",
                         "timeline--hit", "timeline--finish", "timeline--axis"}
    # Drawn line by line, so there is no text to select; and a press on a selectable
    # widget starts a text selection that repaints the whole screen, twice per click.
    ALLOW_SELECT = False

    cursor: reactive[int] = reactive(0, init=False, repaint=False)  # watch_cursor repaints
    zoom: reactive[int] = reactive(0, init=False)  # steps per cell = 2**zoom

    class Scrubbed(Message):
        """The user clicked or dragged the timeline to a step."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    class ViewChanged(Message):
        """The visible window changed (scroll, zoom, resize, new steps)."""

        def __init__(self, view: View) -> None:
            super().__init__()
            self.view = view

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, Timeline.ViewChanged)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kinds = np.zeros(0, np.int8)
        self.bookmarks: set[int] = set()
        self.hits: set[int] = set()
        self.finishes: set[int] = set()  # steps where a request finished, aborted or was ignored
        self._sorted_marks = (_sorted(()),) * 3  # finishes, bookmarks, hits: for searchsorted
        self.border_title = "timeline"
        self._posted_view: View | None = None

    @property
    def num_steps(self) -> int:
        return len(self.kinds)

    @property
    def steps_per_cell(self) -> int:
        return 1 << self.zoom

    @property
    def num_cells(self) -> int:
        return -(-self.num_steps // self.steps_per_cell)

    @property
    def cell_width(self) -> int:
        """Short runs are drawn with wider cells (up to 3), long ones one cell per step."""
        width = self.scrollable_content_region.width or 1
        return max(1, min(3, width // max(self.num_cells, 1)))

    @property
    def view(self) -> View:
        return View(int(self.scroll_x), self.scrollable_content_region.width or 1,
                    self.cell_width, self.steps_per_cell, self.num_steps)

    def set_steps(self, kinds: Sequence[int] | np.ndarray) -> None:
        """Show these step kinds (the array may grow while a recording is computed)."""
        self.kinds = np.asarray(kinds, dtype=np.int8)
        self._resize_virtual()
        self.refresh()

    def _resize_virtual(self) -> None:
        self.virtual_size = Size(max(self.num_cells * self.cell_width, 1), 3)
        self._post_view()

    def set_marks(self, bookmarks: set[int], hits: set[int]) -> None:
        self.bookmarks, self.hits = bookmarks, hits
        self._sorted_marks = (self._sorted_marks[0], _sorted(bookmarks), _sorted(hits))
        self.refresh()

    def set_finishes(self, steps: set[int]) -> None:
        self.finishes = steps
        self._sorted_marks = (_sorted(steps),) + self._sorted_marks[1:]
        self.refresh()

    def watch_cursor(self, step: int) -> None:
        self.scroll_to_cursor()
        self.refresh(self._cursor_lines())

    def _cursor_lines(self):
        """Only the cell and marker rows show the cursor (the axis row stays)."""
        return Region(0, 0, self.size.width, min(2, self.size.height))

    def watch_zoom(self) -> None:
        self._resize_virtual()
        self.scroll_to_cursor(center=True)
        self.refresh()

    def watch_scroll_x(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_x(old_value, new_value)
        self._post_view()

    def _post_view(self) -> None:
        view = self.view
        if view != self._posted_view:
            self._posted_view = view
            self.post_message(self.ViewChanged(view))

    def action_zoom(self, delta: int) -> None:
        self.zoom = max(0, min(MAX_ZOOM, self.zoom + delta))

    def scroll_to_cursor(self, center: bool = False) -> None:
        """Keep the cursor in view, paging by a quarter view so the strip rarely scrolls."""
        width = self.scrollable_content_region.width or 1
        x = int(self.scroll_x)
        cx = self.cursor // self.steps_per_cell * self.cell_width
        if center:
            self.scroll_to(x=max(cx - width // 2, 0), animate=False, immediate=True)
        elif cx < x:
            self.scroll_to(x=max(cx - width // 4, 0), animate=False, immediate=True)
        elif cx >= x + width:
            self.scroll_to(x=cx - width + width // 4 + 1, animate=False, immediate=True)

    def show_step(self, step: int) -> None:
        """Scroll (without moving the cursor) so `step` is in the middle of the view."""
        width = self.scrollable_content_region.width or 1
        cx = step // self.steps_per_cell * self.cell_width
        self.scroll_to(x=max(cx - width // 2, 0), animate=False, immediate=True)

    def on_resize(self) -> None:
        self._resize_virtual()
        self.scroll_to_cursor()

    # -- the mouse: scrub, wheel

    def step_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or not self.num_steps:
            return None
        cell = (int(self.scroll_x) + offset.x) // self.cell_width
        return max(0, min(self.num_steps - 1, cell * self.steps_per_cell))

    def _wheel(self, event: events.MouseEvent, direction: int) -> None:
        event.stop()
        self.scroll_to(x=max(0, int(self.scroll_x) + direction * WHEEL_CELLS * self.cell_width),
                       animate=False, immediate=True)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, -1)

    # -- drawing

    def cell_kinds(self, first: int, end: int) -> np.ndarray:
        """The kind shown by cells first..end-1 (the most telling of their steps)."""
        spc = self.steps_per_cell
        if spc == 1:
            return self.kinds[first:end]
        ranks = KIND_RANK[self.kinds[first * spc:end * spc]]
        pad = -len(ranks) % spc
        if pad:
            ranks = np.concatenate([ranks, np.zeros(pad, np.int8)])
        return RANK_KIND[ranks.reshape(-1, spc).max(axis=1)]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        cw, spc = self.cell_width, self.steps_per_cell
        x0 = int(self.scroll_x)
        first, end = x0 // cw, min(self.num_cells, -(-(x0 + width) // cw))
        cursor_cell = self.cursor // spc
        style = self.part_style
        cursor_style = style("timeline--cursor")
        if y == 0:
            kind_styles = tuple(style(name) for name in KIND_COMPONENTS)
            kinds = self.cell_kinds(first, end).tolist()
            segments = merge_runs((KIND_GLYPHS[k] * cw, cursor_style if c == cursor_cell
                                   else kind_styles[k]) for c, k in enumerate(kinds, first))
        elif y == 1:
            segments = merge_runs(self._marks(first, end, cw, cursor_cell, cursor_style))
        else:
            segments = [Segment(self._axis(first, end, cw, spc), style("timeline--axis"))]
        offset = x0 - first * cw  # a wide cell may start left of the view
        return (Strip(segments).crop(offset, offset + width).extend_cell_length(width)
                .apply_style(self.line_style))

    def _marks(self, first: int, end: int, cw: int, cursor_cell: int, cursor_style: Style):
        """The marker cells under cells first..end-1: the cursor, else the first mark
        (hit, bookmark, finish) among the cell's steps."""
        spc = self.steps_per_cell
        cells: list[tuple[str, Style | None]] = [(" " * cw, None)] * (end - first)
        style = self.part_style
        for steps, glyph, name in zip(self._sorted_marks, "╵◆●", (
                "timeline--finish", "timeline--bookmark", "timeline--hit")):
            lo, hi = np.searchsorted(steps, [first * spc, end * spc])
            if hi > lo:
                cell = (glyph.center(cw), style(name))
                for c in np.unique(steps[lo:hi] // spc).tolist():
                    cells[c - first] = cell
        if first <= cursor_cell < end:
            cells[cursor_cell - first] = ("▲".center(cw), cursor_style)
        return cells

    @staticmethod
    def _axis(first: int, end: int, cw: int, spc: int = 1) -> str:
        """Step numbers at every tenth cell that has room for its label."""
        chars = [" "] * max((end - first) * cw, 0)
        c = first + (-first % 10)
        while c < end:
            label = f"|{c * spc}"
            i = (c - first) * cw
            if i + len(label) <= len(chars) and all(ch == " " for ch in chars[i:i + len(label)]):
                chars[i:i + len(label)] = label
            c += 10
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
