"""The legend: what every glyph and colour of the timeline, the overview strip, the
charts and the KV map means, drawn with the very styles the widgets draw with (their
component classes), so the legend cannot disagree with the screen."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.screens.base import DialogScreen
from tui.widgets.charts import COMPONENTS as CHART_COMPONENTS, SERIES, Charts
from tui.widgets.kv_map import STATE_COMPONENTS, STATE_GLYPHS, KVMap
from tui.widgets.overview import Overview
from tui.widgets.timeline import KIND_COMPONENTS, KIND_GLYPHS, Timeline

TIMELINE_KINDS = (
    "idle: nothing scheduled",
    "prefill only: prompt chunks, no decode",
    "mixed: prefill chunks and decodes",
    "decode only",
    "preemption: a request lost its KV blocks (recompute)",
)
TIMELINE_MARKS = (
    ("▲", "timeline--cursor", "the cursor: the step on screen"),
    ("●", "timeline--hit", "a breakpoint fires at this step"),
    ("◆", "timeline--bookmark", "a bookmark (m)"),
    ("╵", "timeline--finish", "a request finished, was aborted or ignored"),
    ("|120", "timeline--axis", "step numbers; zoomed out (z), one cell folds 2, 4, 8… "
                               "steps and shows the most telling: preemption > prefill > "
                               "mixed > decode > idle"),
)
OVERVIEW_ROWS = (
    ("▁▅█", "overview--kv", "the whole run in the width: highest KV usage per column"),
    ("▅", "overview--preemption", "a column where preemptions are densest"),
    ("▅", "overview--preemption-some", "a column with some preemptions"),
    ("━", "overview--window", "the steps the timeline shows (click or drag: jump there)"),
    ("▲", "overview--cursor", "the cursor"),
)
CHART_TEXT = {
    "KV": "KV cache usage after the step (full height: 100%)",
    "running": "requests running (full height: the run's highest)",
    "waiting": "requests waiting",
    "tokens": "tokens scheduled in the step (prefill chunks + decodes)",
    "preempted": "preemptions in the step",
}
KV_TEXT = {
    "kv-map--free": "free block",
    "kv-map--in-use": "in use by one request",
    "kv-map--cached": "cached: hashed, no owner, evictable (a prefix hit can reuse it)",
    "kv-map--shared": "shared by several requests (prefix hits)",
    "kv-map--null": "the null block (block 0, never handed out)",
}


def _table(title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", expand=True,
                  box=None, show_header=False, padding=(0, 1))
    table.add_column("glyph", no_wrap=True, width=6)
    table.add_column("meaning", ratio=1, overflow="fold")
    return table


class LegendScreen(DialogScreen[None]):
    DEFAULT_CSS = """
    LegendScreen > #dialog { height: 90%; }
    LegendScreen VerticalScroll { height: 1fr; }
    LegendScreen .legend { margin-bottom: 1; }
    """
    BINDINGS = [Binding("q,i", "close", "Close", id="close-legend")]
    dialog_title = "legend (escape closes)"

    def compose_dialog(self) -> ComposeResult:
        with VerticalScroll():
            for table in self.tables():
                yield Static(table, classes="legend")

    def _style(self, widget_type: type, component: str):
        """The style the widget draws `component` with (the app's stylesheet included)."""
        found = self.app.screen_stack[0].query(widget_type)
        return found.first().get_component_rich_style(component, partial=True) if found else None

    def tables(self) -> list[Table]:
        timeline = _table("Timeline: one cell per step (or per 2**zoom steps), by what the "
                          "step did; the marker row under it")
        for glyph, comp, text in zip(KIND_GLYPHS, KIND_COMPONENTS, TIMELINE_KINDS):
            timeline.add_row(Text(glyph * 3, self._style(Timeline, comp)), text)
        for glyph, comp, text in TIMELINE_MARKS:
            timeline.add_row(Text(glyph, self._style(Timeline, comp)), text)
        overview = _table("Overview: the strip above the timeline")
        for glyph, comp, text in OVERVIEW_ROWS:
            overview.add_row(Text(glyph, self._style(Overview, comp)), text)
        charts = _table("Charts (v): one row per series over the timeline's steps; the "
                        "title reads the values at the cursor")
        for series, comp in zip(SERIES, CHART_COMPONENTS):
            charts.add_row(Text("▂▄▆█", self._style(Charts, comp)),
                           f"{series.label}: {CHART_TEXT[series.label]}")
        kv = _table("KV map: one glyph per block")
        for glyph, comp in zip(STATE_GLYPHS, STATE_COMPONENTS):
            kv.add_row(Text(glyph * 3, self._style(KVMap, comp)), KV_TEXT.get(comp, comp))
        kv.add_row(Text("■■■", self._style(KVMap, "kv-map--selected")),
                   "held by the selected request (highlighted)")
        return [timeline, overview, charts, kv]
