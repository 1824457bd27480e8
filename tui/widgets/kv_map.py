"""The KV block map: one cell per block, coloured free / in use / cached-and-free / shared.

Rows wrap at the widget's width and only visible rows are drawn (Line API), so a
cache of tens of thousands of blocks costs no more than a small one. The vertical
scrollbar's gutter is always kept, so the width rows wrap at never depends on whether
the blocks were first set before or after the layout. The selected
request's blocks are outlined. A click on a block posts `KVMap.BlockClicked`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.styles import ComponentStyles
from tui.widgets.timeline import merge_runs

# Block states, in the order of the recording's block-state codes; colours in app.tcss.
STATE_NAMES = ("free", "in use", "cached", "shared", "null")
STATE_GLYPHS = ("·", "■", "□", "▣", "×")
STATE_COMPONENTS = ("kv-map--free", "kv-map--in-use", "kv-map--cached", "kv-map--shared",
                    "kv-map--null")


class KVMap(ComponentStyles, ScrollView, inherit_bindings=False):
    DEFAULT_CSS = """
    KVMap { height: 1fr; border: round $secondary; overflow-x: hidden;
            scrollbar-gutter: stable; }
    """
    COMPONENT_CLASSES = {*STATE_COMPONENTS, "kv-map--selected"}
    # Drawn line by line, so there is no text to select; and a press on a selectable
    # widget starts a text selection that repaints the whole screen, twice per click.
    ALLOW_SELECT = False

    class BlockClicked(Message):
        """A block was clicked: the app opens its detail (tui.screens.block)."""

        def __init__(self, block_id: int) -> None:
            super().__init__()
            self.block_id = block_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.states: Sequence[int] = ()
        self.selected: frozenset[int] = frozenset()
        self.border_title = "KV blocks"

    def set_blocks(self, states: Sequence[int], selected: Sequence[int] = (),
                   title: str | None = None) -> None:
        """Show these block states; only the rows that differ from what is on screen are
        repainted (a step changes a few blocks, often none)."""
        old_states, old_selected = self.states, self.selected
        self.states = states
        self.selected = frozenset(selected)
        if title is not None:
            self.set_title(title)
        self._resize_virtual()
        rows = self._changed_rows(old_states, old_selected)
        if rows is None:
            self.refresh()
        else:
            top, height = int(self.scroll_y), self.scrollable_content_region.height
            for row in rows:
                if top <= row < top + height:
                    self.refresh(Region(0, row - top, self.size.width, 1))

    def _changed_rows(self, old_states, old_selected: frozenset[int]) -> list[int] | None:
        """The rows holding a block whose state or selection changed; None: all of them."""
        if len(old_states) != len(self.states):
            return None
        cols = self._cols()
        new, old = np.asarray(self.states), np.asarray(old_states)
        blocks = set(np.flatnonzero(new != old).tolist()) | (old_selected ^ self.selected)
        return sorted({b // cols for b in blocks})

    def _cols(self) -> int:
        return max(self.scrollable_content_region.width, 1)

    def _resize_virtual(self) -> None:
        cols = self._cols()
        self.virtual_size = Size(cols, -(-len(self.states) // cols))

    def on_resize(self) -> None:
        self._resize_virtual()

    def block_at(self, x: int, y: int) -> int | None:
        """The block drawn at content cell (x, y) of the visible area, if any."""
        cols = self._cols()
        if not 0 <= x < cols or y < 0:
            return None
        block = (y + int(self.scroll_y)) * cols + x
        return block if block < len(self.states) else None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        block = None if offset is None else self.block_at(offset.x, offset.y)
        if block is not None:
            self.post_message(self.BlockClicked(block))

    def render_line(self, y: int) -> Strip:
        cols = self._cols()
        row = y + int(self.scroll_y)
        start = row * cols
        end = min(start + cols, len(self.states))
        states, selected = self.states, self.selected
        styles = [self.part_style(name) for name in STATE_COMPONENTS]
        selected_style = self.part_style("kv-map--selected")
        segments = merge_runs((STATE_GLYPHS[states[b]],
                          selected_style if b in selected else styles[states[b]])
                         for b in range(start, end))
        return Strip(segments).extend_cell_length(cols).crop(0, cols).apply_style(self.line_style)
