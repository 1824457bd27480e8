"""The debugger's breakpoint and bookmark actions (mixed into DebuggerApp).

Adding a breakpoint says at once what may be wrong with it (its warnings: a value out
of range, a name that never changes), the status line names the breakpoints firing at
the cursor by their label (a condition with its mode: `while waiting > 5`), and
continue says why it found nothing: no breakpoint, all switched off, or none ahead.
"""

from __future__ import annotations

from mini_engine.debug.session import BreakpointError

from tui.screens.breakpoints import BreakpointsScreen
from tui.screens.error import ErrorScreen


class BreakpointActions:
    """Mixed into DebuggerApp (which provides session, timeline, breakpoint_hits,
    notify, push_screen and _follow_session)."""

    def action_continue_run(self, direction: int) -> None:
        session = self.session
        if session is None:
            return
        if not session.breakpoints:
            self.notify("no breakpoints: press b to add one", timeout=2)
            return
        if not any(bp.enabled for bp in session.breakpoints):
            self.notify("all breakpoints are disabled: press b to switch one on", timeout=2)
            return
        if session.continue_(direction) is None:
            self.notify("no breakpoint hit " + ("ahead" if direction > 0 else "behind"), timeout=2)
        else:
            self._follow_session()

    def action_breakpoints(self) -> None:
        if self.session is not None:
            self.push_screen(BreakpointsScreen(self.session))

    def add_breakpoint(self, text: str) -> None:
        if self.session is None:
            return
        try:
            bp = self.session.add_breakpoint(text)
        except BreakpointError as err:
            self.push_screen(ErrorScreen("Bad breakpoint", err.one_line()))
            return
        if bp.warnings:
            self.notify("; ".join(bp.warnings), severity="warning", markup=False)
        self.refresh_marks()

    def update_hits(self) -> None:
        """The breakpoints firing at the cursor, for the status line."""
        session = self.session
        hits = session.hits_at(session.cursor) if session.breakpoints else []
        self.breakpoint_hits = tuple(bp.label for bp in hits)

    def refresh_marks(self) -> None:
        if self.session is not None:
            self.timeline.set_marks(set(self.session.bookmarks), self.session.hit_steps())
            self.update_hits()

    def action_toggle_bookmark(self) -> None:
        if self.session is not None:
            self.session.toggle_bookmark()
            self.refresh_marks()

    def action_jump_bookmark(self, direction: int) -> None:
        if self.session is not None and self.session.jump_bookmark(direction) is not None:
            self._follow_session()
