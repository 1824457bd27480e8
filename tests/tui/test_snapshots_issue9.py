"""Snapshots of issue 9's views: the whole-run overview strip on large_workload, the
charts, the legend, the scenario's description, a request's full history, a KV block's
detail and the 200x60 layout. (The breakpoint list with hit counts is in
test_snapshots_breakpoints.py.)

Sync tests (snap_compare runs the app), fixed terminal sizes, the theme pinned, NO_COLOR
removed, the recording worker awaited before any key, no clocks on screen (play is never
started): every SVG is deterministic. Regenerate after a deliberate UI change with
`python -m pytest tests/tui/test_snapshots_issue9.py --snapshot-update`, then look at them.
"""

from __future__ import annotations

from pinned_app import pinned_app
from tui.widgets.kv_map import KVMap

WIDE = (120, 36)
TALL = (120, 48)
LARGE = (200, 60)


make_app = pinned_app


def at_step(step: int | None = None, select: str | None = None, then=None):
    """run_before: wait for the whole recording, go to `step`, select a request, then
    run `then(pilot)` (clicks that need the layout)."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await app.workers.wait_for_complete()
        await pilot.pause()
        if step is not None:
            app.go(step)
        await pilot.pause()
        if select is not None:
            app.query_one("RequestTable").select_request(select)
            await pilot.pause()
        if then is not None:
            await then(pilot)
    return run_before


def test_overview_strip_on_the_large_workload(snap_compare):
    # Step 15000 of ~23000: the overview marks the timeline's window and the cursor in
    # a strip of the whole run (KV usage, preemptions).
    assert snap_compare(make_app("large_workload"), terminal_size=WIDE,
                        run_before=at_step(15000))


def test_charts(snap_compare):
    # preemption_thrash at step 40: KV, running, waiting, tokens and preemptions under
    # the timeline, aligned with it, the cursor marked.
    assert snap_compare(make_app("preemption_thrash"), terminal_size=WIDE,
                        run_before=at_step(40), press=["v"])


def test_legend(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=at_step(10),
                        press=["i"])


def test_description(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=at_step(10),
                        press=["I"])


def test_full_request_history(snap_compare):
    # b at the last step: admitted, preempted at step 10, waiting on kv_cache, resumed
    # with a 17-token recompute, decoding to its length stop.
    assert snap_compare(make_app("kv_preemption"), terminal_size=TALL,
                        run_before=at_step(23, select="b"), press=["d"])


def test_block_detail(snap_compare):
    # A click on block 3 at step 12 (after b's preemption freed it).
    async def click(pilot) -> None:
        assert await pilot.click(KVMap, offset=(1 + 3, 1))  # +1: the border
        await pilot.pause()

    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE,
                        run_before=at_step(12, then=click))


def test_layout_200x60(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=LARGE,
                        run_before=at_step(12, select="b"))
