"""Press, drag, release: the one mouse gesture the timeline and the overview share.

A widget that mixes in `MouseScrub` says which step is under the mouse (`step_at`) and
has a `Scrubbed(step)` message; the mixin posts it on the press and on every move while
the button is held, capturing the mouse so a drag past the widget's edge keeps going.
"""

from __future__ import annotations

from textual import events


class MouseScrub:
    dragging = False

    def step_at(self, event: events.MouseEvent) -> int | None:
        raise NotImplementedError

    def on_mouse_down(self, event: events.MouseDown) -> None:
        step = self.step_at(event)
        if step is not None:
            self.dragging = True
            self.capture_mouse()
            self.post_message(self.Scrubbed(step))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self.dragging:
            step = self.step_at(event)
            if step is not None:
                self.post_message(self.Scrubbed(step))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self.dragging:
            self.dragging = False
            self.release_mouse()
