"""The whole run in one strip: every step of the run folded into the strip's width.

Row 0, one column per bucket of steps: the highest KV usage in the bucket as a bar
(▁..█), coloured by how often it preempted: red where preemptions are densest (at least
half the busiest bucket's count), orange where there are fewer, green where none. On a
long run nearly every bucket holds one; the density is what tells them apart. Row 1: the local timeline's visible
window (━) and the cursor (▲). Click or drag anywhere to jump there: the whole run is
one mouse move away, however long it is.

Per-column aggregates are computed once per (run length, width) with numpy's reduceat
and cached; a cursor move redraws row 1 only.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.styles import ComponentStyles
from tui.widgets.scrub import MouseScrub
from tui.widgets.timeline import merge_runs

BARS = " ▁▂▃▄▅▆▇█"


def bucket_starts(num_steps: int, width: int) -> np.ndarray:
    """The first step of each column's bucket (non-decreasing; a short run repeats steps)."""
    return (np.arange(width, dtype=np.int64) * num_steps) // max(width, 1)


def column_of(step: int, starts: np.ndarray) -> int:
    """The column whose bucket holds `step`."""
    return max(0, int(np.searchsorted(starts, step, side="right")) - 1)


class Overview(MouseScrub, ComponentStyles, Widget):
    """The whole run, compressed into the width; `cursor` and `window` marked."""

    DEFAULT_CSS = """
    Overview { height: 2; padding: 0 1; }
    Overview > .overview--kv { color: #00d700; background: #262626; }
    Overview > .overview--preemption { color: #ff0000; background: #262626; }
    Overview > .overview--preemption-some { color: #d78700; background: #262626; }
    Overview > .overview--window { color: #0087ff; }
    Overview > .overview--cursor { color: #ffff00; text-style: bold; }
    Overview > .overview--label { color: #808080; }
    """
    COMPONENT_CLASSES = {"overview--kv", "overview--preemption", "overview--preemption-some",
                         "overview--window", "overview--cursor", "overview--label"}
    # Drawn line by line, so there is no text to select; and a press on a selectable
    # widget starts a text selection that repaints the whole screen, twice per click.
    ALLOW_SELECT = False

    cursor: reactive[int] = reactive(0, init=False, repaint=False)  # watch_cursor repaints

    class Scrubbed(Message):
        """The user clicked or dragged the overview to a step."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.kv = np.zeros(0)
        self.preemptions = np.zeros(0, np.int64)
        self.window = (0, 0)  # steps first..end-1 are in the local timeline's view
        self.tooltip = ("The whole run: highest KV usage per column (red: dense preemptions, orange: some), "
                        "━ the timeline's window, ▲ the cursor. Click or drag to jump.")
        self._columns: tuple[tuple[int, int], np.ndarray, list] | None = None

    @property
    def num_steps(self) -> int:
        return len(self.kv)

    def set_run(self, kv_usage: np.ndarray, preemptions: np.ndarray) -> None:
        """The per-step KV usage (0..1) and preemption counts recorded so far."""
        self.kv, self.preemptions = kv_usage, preemptions
        self._columns = None
        self.refresh()

    def set_window(self, first: int, end: int) -> None:
        if (first, end) != self.window:
            self.window = (first, end)
            self.refresh(self._marker_row())

    def watch_cursor(self) -> None:
        self.refresh(self._marker_row())

    def _marker_row(self) -> Region:
        return Region(0, 1, self.size.width, 1)

    def _width(self) -> int:
        return max(self.content_region.width, 1)

    def columns(self) -> tuple[np.ndarray, list]:
        """(bucket starts, row-0 cells), computed once per (run length, width)."""
        key = (self.num_steps, self._width())
        if self._columns is None or self._columns[0] != key:
            starts = bucket_starts(*key)
            cells = []
            if self.num_steps:
                kv = np.maximum.reduceat(self.kv, starts)
                pre = np.add.reduceat(self.preemptions, starts)
                dense = max(1, (int(pre.max()) + 1) // 2)
                levels = np.ceil(np.clip(kv, 0, 1) * 8).astype(int).tolist()
                styles = (self.part_style("overview--kv"),
                          self.part_style("overview--preemption-some"),
                          self.part_style("overview--preemption"))
                cells = [(BARS[lv], styles[(p > 0) + (p >= dense)])
                         for lv, p in zip(levels, pre.tolist())]
            self._columns = (key, starts, cells)
        return self._columns[1], self._columns[2]

    # -- the mouse

    def step_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None or not self.num_steps:
            return None
        starts, _ = self.columns()
        return int(starts[max(0, min(len(starts) - 1, offset.x))])

    # -- drawing

    def render_line(self, y: int) -> Strip:
        width = self._width()
        if not self.num_steps:
            return Strip.blank(width, self.line_style)
        starts, cells = self.columns()
        if y == 0:
            segments = merge_runs(cells)
        elif y == 1:
            segments = self._markers(starts, width)
        else:
            return Strip.blank(width, self.line_style)
        return Strip(segments).crop(0, width).extend_cell_length(width).apply_style(
            self.line_style)

    def _markers(self, starts: np.ndarray, width: int) -> list[Segment]:
        first, end = self.window
        a = column_of(first, starts)
        b = max(a, column_of(max(end - 1, first), starts))
        c = min(column_of(self.cursor, starts), width - 1)
        window, cursor = self.part_style("overview--window"), self.part_style("overview--cursor")
        label = self.part_style("overview--label")
        cells = [(" ", None)] * width
        start_text, end_text = "0", f"{self.num_steps - 1:,}"
        if a > len(start_text):
            cells[:len(start_text)] = [(ch, label) for ch in start_text]
        if b < width - len(end_text) - 1:
            cells[width - len(end_text):] = [(ch, label) for ch in end_text]
        cells[a:b + 1] = [("━", window)] * (b + 1 - a)
        cells[c] = ("▲", cursor)
        return merge_runs(cells)
