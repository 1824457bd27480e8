"""Snapshot of the breakpoints dialog (issue 9): the list with on/off, when/while and hit
counts (at or before the cursor / in the run), one breakpoint disabled, and a warning.

Fixed size, theme pinned, NO_COLOR removed, the recording awaited first. Regenerate after a
deliberate change with `--snapshot-update`, then look at the SVG."""

from __future__ import annotations

from pinned_app import pinned_app

SIZE = (120, 36)


def test_breakpoint_list_with_hit_counts(snap_compare):
    app = pinned_app("kv_preemption")

    async def run_before(pilot) -> None:
        await app.workers.wait_for_complete()
        await pilot.pause()
        for text in ("preemption", "while kv_cache_usage > 50%", "c.status == RUNNING",
                     "finish"):
            app.add_breakpoint(text)
        app.session.set_enabled(3, False)
        app.go(app.session.recording.event_steps("preemption")[1])
        await pilot.press("b")
        await pilot.pause()
        app.screen.query_one("Input").value = "kv_cache_usage > 90"
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
