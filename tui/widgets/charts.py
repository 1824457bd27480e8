"""Charts over time, aligned column for column with the timeline under them.

One row per series (KV usage, running, waiting, tokens scheduled, preemptions), drawn
with eight-level bars (▁..█) over exactly the steps the timeline shows (same scroll,
same zoom: a column folds the same steps, showing their highest value), and the cursor
column marked. The border title reads the values at the cursor, each in its row's colour.

Why not Textual's `Sparkline`: it resamples its data into its own width, so its
columns cannot be made to line up with the timeline's cells and it has no cursor. This
is one Line API widget instead: no new dependency, only the visible columns computed
(numpy, cached per view and run length), a cursor move redraws nothing but the cursor
column's neighbourhood of the strips (cached bar rows, the cursor overlaid).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from rich.text import Text
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.styles import ComponentStyles
from tui.widgets.timeline import View, merge_runs

BARS = " ▁▂▃▄▅▆▇█"


class Series(NamedTuple):
    key: str  # the Summary column
    label: str
    fmt: str  # how the value at the cursor reads in the title


SERIES = (
    Series("kv_cache_usage_perc", "KV", "{:.0%}"),
    Series("num_requests_running", "running", "{:d}"),
    Series("num_requests_waiting", "waiting", "{:d}"),
    Series("num_scheduled_tokens", "tokens", "{:d}"),
    Series("num_preemptions", "preempted", "{:d}"),
)
COMPONENTS = tuple(f"charts--{s.label}" for s in SERIES)


def fold(values: np.ndarray, first: int, end: int, spc: int) -> np.ndarray:
    """The highest value of each cell's steps, for cells first..end-1."""
    part = values[first * spc:end * spc]
    if spc == 1 or not len(part):
        return part
    pad = -len(part) % spc
    if pad:
        part = np.concatenate([part, np.zeros(pad, part.dtype)])
    return part.reshape(-1, spc).max(axis=1)


class Charts(ComponentStyles, Widget):
    """The series of a run over the timeline's view (`set_view`), the cursor marked."""

    DEFAULT_CSS = """
    Charts { height: 8; border: round $secondary; }
    Charts > .charts--KV { color: #00d700; }
    Charts > .charts--running { color: #5fafff; }
    Charts > .charts--waiting { color: #ffff00; }
    Charts > .charts--tokens { color: #af87ff; }
    Charts > .charts--preempted { color: #ff0000; text-style: bold; }
    Charts > .charts--cursor { background: #4e4e4e; }
    Charts > .charts--marker { color: #ffff00; text-style: bold; }
    """
    COMPONENT_CLASSES = {*COMPONENTS, "charts--cursor", "charts--marker"}
    # Drawn line by line, so there is no text to select; and a press on a selectable
    # widget starts a text selection that repaints the whole screen, twice per click.
    ALLOW_SELECT = False

    cursor: reactive[int] = reactive(0, init=False, repaint=False)  # watch_cursor repaints

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: dict[str, np.ndarray] = {}
        self.view = View(0, 1, 1, 1, 0)
        self._scales: tuple[int, dict[str, float]] | None = None
        self._rows: tuple[tuple, list[list]] | None = None
        self.border_title = "charts"

    @property
    def num_steps(self) -> int:
        return len(self.data.get(SERIES[0].key, ()))

    def set_run(self, summary) -> None:
        """The recording's per-step columns (a mini_engine Summary) recorded so far."""
        self.data = {s.key: getattr(summary, s.key) for s in SERIES}
        self._rows = None
        self._update_title()
        self.refresh()

    def set_view(self, view: View) -> None:
        if view != self.view:
            self.view = view
            self.refresh()

    def watch_cursor(self) -> None:
        self._update_title()
        self.refresh()

    def scales(self) -> dict[str, float]:
        """Each series' full height: its highest value over the run (KV: 1), so the bars
        do not rescale while scrolling."""
        n = self.num_steps
        if self._scales is None or self._scales[0] != n:
            scales = {s.key: float(self.data[s.key].max()) if n else 1.0 for s in SERIES}
            scales["kv_cache_usage_perc"] = 1.0
            self._scales = (n, scales)
        return self._scales[1]

    def bar_rows(self) -> list[list[str]]:
        """One glyph per visible column per series, computed once per (run length, view)."""
        v = self.view
        key = (self.num_steps, v)
        if self._rows is None or self._rows[0] != key:
            first = v.x0 // v.cell_width
            end = min(-(-v.num_steps // v.steps_per_cell), -(-(v.x0 + v.width) // v.cell_width))
            scales = self.scales()
            rows = []
            for s in SERIES:
                cells = fold(self.data[s.key], first, max(end, first), v.steps_per_cell)
                scale = scales[s.key] or 1.0
                levels = np.ceil(np.clip(cells / scale, 0, 1) * 8).astype(int).tolist()
                glyphs = [BARS[lv] * v.cell_width for lv in levels]
                offset = v.x0 - first * v.cell_width
                rows.append(list("".join(glyphs)[offset:offset + v.width]))
            self._rows = (key, rows)
        return self._rows[1]

    def _cursor_column(self) -> int | None:
        v = self.view
        x = self.cursor // v.steps_per_cell * v.cell_width - v.x0
        return x if 0 <= x < v.width else None

    def render_line(self, y: int) -> Strip:
        width = max(self.content_region.width, 1)
        if not self.num_steps:
            return Strip.blank(width, self.line_style)
        cx = self._cursor_column()
        cw = self.view.cell_width
        if y < len(SERIES):
            base = self.part_style(COMPONENTS[y])
            cursor = base + self.part_style("charts--cursor")
            row = self.bar_rows()[y]
            cells = [(ch, cursor if cx is not None and cx <= x < cx + cw else base)
                     for x, ch in enumerate(row)]
        elif y == len(SERIES) and cx is not None:
            cells = [(" ", None)] * cx + [("▲" * cw, self.part_style("charts--marker"))]
        else:
            cells = []
        return (Strip(merge_runs(cells)).crop(0, width).extend_cell_length(width)
                .apply_style(self.line_style))

    def _update_title(self) -> None:
        step = min(self.cursor, self.num_steps - 1)
        if step < 0:
            return
        title = Text()
        for s, comp in zip(SERIES, COMPONENTS):
            if title:
                title.append(" · ")
            title.append(f"{s.label} {s.fmt.format(self.data[s.key][step].item())}",
                         style=self.part_style(comp))
        self.set_title(title)
