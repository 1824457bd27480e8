"""The request table: one row per request, drawn with the Line API from the step's state arrays.

Only visible rows are formatted, so a step move costs the same with 10 requests
or 10,000. Request ids are user data: drawn printable (tui.text), by terminal cells. Cells that changed since the previous step are highlighted. The header
stays put while rows scroll; up/down/click select a row, enter opens its detail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mini_engine.debug.session import STATUS_NAMES, DebugSession, StepRecord, StepState

from tui.styles import ComponentStyles
from tui.text import fit, shown, width
from tui.widgets.queues import reason_label
from tui.widgets.timeline import merge_runs

SHORT_STATUS = {"PENDING": "pending", "WAITING": "WAITING", "RUNNING": "RUNNING",
                "PREEMPTED": "PREEMPTED", "FINISHED_STOPPED": "stopped",
                "FINISHED_LENGTH": "length", "FINISHED_LENGTH_CAPPED": "length",
                "FINISHED_ABORTED": "aborted",
                "FINISHED_IGNORED": "ignored"}
# Status colours live in app.tcss, one component class per group of statuses.
STATUS_COMPONENTS = {"PENDING": "request-table--pending", "WAITING": "request-table--waiting",
                     "RUNNING": "request-table--running",
                     "PREEMPTED": "request-table--preempted",
                     "FINISHED_STOPPED": "request-table--finished",
                     "FINISHED_LENGTH": "request-table--finished",
                     "FINISHED_LENGTH_CAPPED": "request-table--finished",
                     "FINISHED_ABORTED": "request-table--dropped",
                     "FINISHED_IGNORED": "request-table--dropped"}
TABLE_CHROME = 4  # border (2) and the vertical scrollbar (2)
STRIP_CACHE = 256  # row strips kept (keyed by everything a row shows)
ACTIVE_FIRST_ABOVE = 50  # runs with more requests open with running, then waiting, first
_BAR = " ▏▎▍▌▋▊▉█"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int
    right: bool = True


COLUMNS = (  # most telling first: narrow terminals scroll the rest into view
    Column("id", "id", 10, right=False),
    Column("status", "status", 9, right=False),
    Column("progress", "computed/tokens", 15, right=False),
    Column("sched", "sched", 6),
    Column("out", "out", 4),
    Column("blocks", "blk", 4),
    Column("hit", "hit", 5),
    Column("pre", "pre", 3),
    Column("ttft", "ttft", 5),
    Column("why", "why waiting / ignored", 22, right=False),
)


def compact(value: int, w: int) -> str:
    """`value` in at most `w` cells, never a dropped digit: 12345 -> "12k", else "…"."""
    text = str(value)
    if len(text) <= w:
        return text
    for div, unit in ((1_000, "k"), (1_000_000, "M"), (1_000_000_000, "G")):
        short = f"{value / div:.1f}".rstrip("0").rstrip(".") + unit
        if len(short) > w:
            short = f"{value // div}{unit}"
        if len(short) <= w:
            return short
    return "…"


def fit_cell(text: str, w: int) -> str:
    """A cell's text cut to `w` cells with an ellipsis, never silently."""
    return text if len(text) <= w else text[:max(w - 1, 0)] + "…"


def progress_bar(done: int, total: int, width: int) -> str:
    if total <= 0:
        return " " * width
    eighths = int(round(8 * width * min(done, total) / total))
    full, part = divmod(eighths, 8)
    return ("█" * full + (_BAR[part] if part else "")).ljust(width)


class RequestTable(ComponentStyles, ScrollView, can_focus=True, inherit_bindings=False):
    DEFAULT_CSS = """
    RequestTable { border: round $secondary; height: 1fr; }
    RequestTable:focus { border: round $accent; }
    """
    COMPONENT_CLASSES = {*STATUS_COMPONENTS.values(), "request-table--header",
                         "request-table--changed", "request-table--selected",
                         "request-table--bar"}
    # Drawn line by line, so there is no text to select; and a press on a selectable
    # widget starts a text selection that repaints the whole screen, twice per click.
    ALLOW_SELECT = False
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table-up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table-down"),
        Binding("pageup", "cursor(-10)", show=False, id="table-page-up"),
        Binding("pagedown", "cursor(10)", show=False, id="table-page-down"),
        Binding("ctrl+right", "scroll_columns(8)", show=False, id="table-scroll-right"),
        Binding("ctrl+left", "scroll_columns(-8)", show=False, id="table-scroll-left"),
    ]

    selected_row: reactive[int] = reactive(0, init=False, repaint=False)  # watcher repaints

    class Selected(Message):
        def __init__(self, request_id: str | None) -> None:
            super().__init__()
            self.request_id = request_id

    class Opened(Message):
        def __init__(self, request_id: str) -> None:
            super().__init__()
            self.request_id = request_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: StepState | None = None
        self.record: StepRecord | None = None
        self.order: np.ndarray = np.zeros(0, np.int64)  # request indices shown, in order
        self.filter_text = ""
        self.active_first = False  # running, then waiting, then the rest
        self.session: DebugSession | None = None  # answers first-token and arrival steps
        self._changed: dict[str, np.ndarray] = {}
        self._sched: dict[str, tuple[int, str]] = {}
        self._reasons: dict[str, str] = {}
        self._ignored: dict[str, str] | None = None  # request id -> why it was ignored
        self._ignored_at = -1  # the recorded steps it was read from
        self.set_title("requests")
        self.id_width = COLUMNS[0].width
        # What is on screen: each visible row's key (_row_key), the number of rows then;
        # and the strips of recently drawn keys (a step often leaves a row as it was).
        self._keys_on_screen: dict[int, tuple] = {}
        self._rows_drawn = -1
        self._strips: dict[tuple, Strip] = {}

    # -- data

    def show(self, state: StepState, prev: StepState | None, record: StepRecord) -> None:
        """Show a step: `prev` (the step before) decides which cells are highlighted."""
        first = self.state is None or self.state.request_ids != state.request_ids
        kept = self.selected_request if first else None  # selection across a reload
        self.state, self.record = state, record
        if first:
            self._ignored = None
            longest = max((width(r) for r in state.request_ids), default=2)
            self.id_width = max(4, min(longest, 16))
            # A large run opens on what is active; a small one in scenario order.
            self.active_first = len(state.request_ids) > ACTIVE_FIRST_ABOVE
            # Never wider than its columns: the side panels take the rest (app.tcss).
            self.styles.max_width = self._total_width() + TABLE_CHROME
            self._apply_filter()
            self._reselect(kept)
        self._sched = {e.request_id: (e.num_tokens, e.kind) for e in record.scheduled}
        self._reasons = dict(zip(state.waiting, state.waiting_reasons))
        if prev is not None and prev.request_ids == state.request_ids:
            self._changed = {
                "status": state.status != prev.status,
                "progress": (state.num_computed_tokens != prev.num_computed_tokens)
                | (state.num_tokens != prev.num_tokens),
                "out": state.num_tokens != prev.num_tokens,
                "blocks": state.num_blocks != prev.num_blocks,
                "hit": state.num_cached_tokens != prev.num_cached_tokens,
                "pre": state.num_preemptions != prev.num_preemptions,
            }
        else:
            self._changed = {}
        if self.filter_text or self.active_first:
            self._apply_filter()
        self._update_title()
        if first:
            self.refresh()
        else:
            self._refresh_changed_rows()

    def _refresh_changed_rows(self) -> None:
        """Repaint only the visible rows whose cells differ from what they show now: most
        steps change a few rows of a large run, and none of the blank lines under a small
        one."""
        if len(self.order) != self._rows_drawn:
            self.refresh()  # rows appear or disappear: the blank lines change too
            return
        top = int(self.scroll_y)
        width = self.size.width
        for y in range(1, self.scrollable_content_region.height):
            row = top + y - 1
            if row >= len(self.order):
                break
            if self._keys_on_screen.get(row) != self._row_key(row):
                self.refresh(Region(0, y, width, 1))

    def _reselect(self, request_id: str | None) -> None:
        """After a new session: the same request if it has one, else the first row."""
        row = 0
        if request_id is not None and request_id in self.state.request_index:
            rows = np.flatnonzero(self.order == self.state.request_index[request_id])
            row = int(rows[0]) if len(rows) else 0
        self.scroll_to(x=0, y=0, animate=False, immediate=True)
        self.set_reactive(RequestTable.selected_row, row)
        self.watch_selected_row(row)

    def _why(self, rid: str, status: str) -> str:
        """Why the request waits, or why the engine ignored it."""
        if status == "FINISHED_IGNORED":
            return "ignored: " + shown(self._ignore_reasons().get(rid, "?"))
        reason = self._reasons.get(rid, "not_arrived" if status == "PENDING" else None)
        return reason_label(reason) if reason else ""

    def _ignore_reasons(self) -> dict[str, str]:
        steps = self.session.last_step if self.session is not None else -1
        if self._ignored is None or self._ignored_at != steps:
            self._ignored, self._ignored_at = {}, steps
            if self.session is not None:
                recording = self.session.recording
                for step in recording.event_steps("ignore"):
                    for h in recording.delta(step).happenings:
                        if h.kind == "ignore":
                            self._ignored[h.request_id] = str(h.stop_reason)
        return self._ignored

    def _update_title(self) -> None:
        total = len(self.state.request_ids) if self.state is not None else 0
        self.set_title(f"requests ({len(self.order)}/{total})")

    def set_active_first(self, on: bool) -> None:
        self.active_first = on
        self._apply_filter()
        self.refresh()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self._apply_filter()
        self._update_title()
        self.selected_row = min(self.selected_row, max(len(self.order) - 1, 0))
        self.refresh()

    def _apply_filter(self) -> None:
        state = self.state
        if state is None:
            return
        n = len(state.request_ids)
        words = self.filter_text.lower().split()
        if not words:
            self.order = np.arange(n)
        else:
            names = [SHORT_STATUS[s].lower() for s in STATUS_NAMES]
            keep = [i for i, rid in enumerate(state.request_ids)
                    if all(w in rid.lower() or w in names[state.status[i]] for w in words)]
            self.order = np.array(keep, dtype=np.int64)
        if self.active_first:
            rank = np.full(n, 2, dtype=np.int8)
            index = state.request_index
            rank[[index[r] for r in state.waiting]] = 1
            rank[[index[r] for r in state.running]] = 0
            self.order = self.order[np.argsort(rank[self.order], kind="stable")]
        self.virtual_size = Size(self._total_width(), len(self.order) + 1)

    def _total_width(self) -> int:
        return sum(self._width(c) + 1 for c in COLUMNS)

    def _width(self, col: Column) -> int:
        return self.id_width if col.key == "id" else col.width

    @property
    def selected_request(self) -> str | None:
        if self.state is None or not len(self.order):
            return None
        return self.state.request_ids[int(self.order[min(self.selected_row, len(self.order) - 1)])]

    def select_request(self, request_id: str) -> None:
        if self.state is None:
            return
        i = self.state.request_ids.index(request_id)
        rows = np.flatnonzero(self.order == i)
        if len(rows):
            self.selected_row = int(rows[0])

    # -- navigation

    def action_cursor(self, delta: int) -> None:
        if len(self.order):
            self.selected_row = max(0, min(len(self.order) - 1, self.selected_row + delta))

    def _starts(self) -> list[int]:
        """Where each column starts (cells from the left of the row)."""
        starts, x = [], 0
        for col in COLUMNS:
            starts.append(x)
            x += self._width(col) + 1
        return starts

    def action_scroll_columns(self, delta: int) -> None:
        """Scroll by whole columns (delta's sign: right or left), never into one."""
        x0 = int(self.scroll_x)
        starts = self._starts()
        if delta > 0:
            target = next((x for x in starts if x > x0), x0)
        else:
            target = max((x for x in starts if x < x0), default=0)
        self.scroll_to(x=target, animate=False, immediate=True)

    def watch_selected_row(self, row: int) -> None:
        height = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        if int(self.scroll_y) == top and self._rows_drawn == len(self.order):
            self._refresh_changed_rows()  # the old and the new selected row
        else:
            self.refresh()
        self.post_message(self.Selected(self.selected_request))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y == 0:
            return
        row = int(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self.order):
            if row == self.selected_row and event.chain >= 2:
                self.post_message(self.Opened(self.selected_request))
            self.selected_row = row

    # -- drawing

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        x0 = int(self.scroll_x)
        if y == 0:
            segments = []
            for col in COLUMNS:
                w = self._width(col)
                title = col.title[:w]
                segments.append(Segment((title.rjust(w) if col.right else title.ljust(w)) + " ",
                                        self.part_style("request-table--header")))
            strip = Strip(segments)
        else:
            self._rows_drawn = len(self.order)
            row = int(self.scroll_y) + y - 1
            if not 0 <= row < len(self.order):
                return Strip.blank(width).apply_style(self.line_style)
            key = self._row_key(row)
            self._keys_on_screen[row] = key
            strip = self._strips.get(key)
            if strip is None:
                if len(self._strips) > STRIP_CACHE:
                    self._strips.clear()
                strip = self._strips[key] = self._row_strip(key)
        return self._crop(strip, x0, width).apply_style(self.line_style)

    def notify_style_update(self) -> None:
        self._strips.clear()  # drawn with the old styles
        super().notify_style_update()

    def _crop(self, strip: Strip, x0: int, width: int) -> Strip:
        """The visible part of a row: a column the edge would cut is left out whole, and
        a "›" (or "‹") says more columns lie that way."""
        starts = self._starts()
        ends = [x + self._width(c) for x, c in zip(starts, COLUMNS)]
        left = next((x for x, e in zip(starts, ends) if x >= x0), x0)
        right = max((e for e in ends if e <= x0 + width), default=left)
        out = strip.crop(left, right + 1)
        out = Strip.join([Strip.blank(left - x0), out]) if left > x0 else out
        out = out.extend_cell_length(width).crop(0, width)
        more_right, more_left = ends[-1] > x0 + width, x0 > 0
        if more_right or more_left:
            if more_right:
                out = Strip.join([out.crop(0, width - 1), Strip([Segment("›")])])
            if more_left:
                out = Strip.join([Strip([Segment("‹")]), out.crop(1, width)])
        return out

    def _row_key(self, row: int) -> tuple:
        """Everything row `row` shows: (request index, status, computed, tokens, selected,
        the cells' texts in COLUMNS order, which of them changed since the last step)."""
        state = self.state
        i = int(self.order[row])
        rid = state.request_ids[i]
        status = STATUS_NAMES[state.status[i]]
        computed, tokens = int(state.num_computed_tokens[i]), int(state.num_tokens[i])
        prompt = int(state.num_prompt_tokens[i])
        cached = int(state.num_cached_tokens[i])
        sched = self._sched.get(rid)
        ttft = None
        if status != "PENDING" and self.session is not None:
            first = self.session.first_token_step(rid)
            if first is not None and first <= state.step:
                ttft = first - self.session.arrival_step(rid)
        pending = status == "PENDING"
        cells = (
            rid,
            SHORT_STATUS[status],
            "" if pending else f"{compact(computed, 5):>5}/{compact(tokens, 5):<5}",
            "" if sched is None else
            f"+{compact(sched[0], 4)}{'d' if sched[1] == 'decode' else 'p'}",
            "" if pending else compact(tokens - prompt, 4),
            compact(int(state.num_blocks[i]), 4) if state.num_blocks[i] else "",
            compact(cached, 5) if cached > 0 else "",
            compact(int(state.num_preemptions[i]), 3) if state.num_preemptions[i] else "",
            "" if ttft is None else compact(ttft, 5),
            self._why(rid, status),
        )
        changed = tuple(bool(self._changed[c.key][i]) if c.key in self._changed else False
                        for c in COLUMNS)
        return (i, status, computed, tokens, row == self.selected_row, self.id_width, cells,
                changed)

    def _row_strip(self, key: tuple) -> Strip:
        _, status, computed, tokens, selected, _, cells, changed = key
        style_of = self.part_style
        base = style_of("request-table--selected") if selected else Style()
        status_style = base + style_of(STATUS_COMPONENTS[status])
        changed_style = base + style_of("request-table--changed")
        bar_style = base + style_of("request-table--bar")
        segments = []
        for col, cell, cell_changed in zip(COLUMNS, cells, changed):
            w = self._width(col)
            if col.key == "id":  # user data: printable, cut and padded by terminal cells
                text = fit(cell, w)
            else:
                text = fit_cell(cell, w)
                text = text.rjust(w) if col.right else text.ljust(w)
            style = base
            if col.key == "status":
                style = status_style
            if cell_changed and text.strip():
                style = changed_style
            if col.key == "progress" and status != "PENDING":
                bar = progress_bar(computed, tokens, 4)
                segments.append(Segment(text[:11], style))
                segments.append(Segment(bar, bar_style))
                segments.append(Segment(" ", base))
                continue
            segments.append(Segment(text, style))
            segments.append(Segment(" ", base))
        return Strip(merge_runs((seg.text, seg.style) for seg in segments))  # fewer segments for the compositor to carry
