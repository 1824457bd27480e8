"""Snapshot tests of the step debugger (pytest-textual-snapshot; SVGs in __snapshots__/).

Sync tests (snap_compare runs the app itself), fixed terminal sizes, the theme pinned
and NO_COLOR removed, the recording worker awaited before any key: every SVG is
deterministic. Regenerate after a deliberate UI change with
`python -m pytest tests/test_snapshots.py --snapshot-update`, then look at them.
"""

from __future__ import annotations

from pinned_app import pinned_app

WIDE = (120, 36)
SMALL = (80, 24)


make_app = pinned_app


def at_step(step: int | None = None, *, breakpoints=(), bookmarks=()):
    """run_before: wait for the recording, then set breakpoints/bookmarks and go to `step`."""
    async def run_before(pilot) -> None:
        app = pilot.app
        await app.workers.wait_for_complete()
        await pilot.pause()
        for text in breakpoints:
            app.add_breakpoint(text)
        for s in bookmarks:
            app.session.toggle_bookmark(s)
        if bookmarks:
            app.refresh_marks()
        if step is not None:
            app.go(step)
        await pilot.pause()
    return run_before


def test_hello_first_step(snap_compare):
    assert snap_compare(make_app(None), terminal_size=WIDE, run_before=at_step())


def test_hello_last_step(snap_compare):
    assert snap_compare(make_app("hello"), terminal_size=WIDE, run_before=at_step(),
                        press=["end"])


def test_chunked_prefill_mid_prefill(snap_compare):
    # Step 6: "long" is half prefilled (12/26) in 2-token chunks next to "short"'s decode.
    assert snap_compare(make_app("chunked_prefill"), terminal_size=WIDE, run_before=at_step(6))


def test_kv_preemption_at_the_preemption(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=at_step(),
                        press=["p"])


def test_prefix_caching_with_hits(snap_compare):
    # Step 5: q3 is admitted with a 48-token prefix-cache hit.
    assert snap_compare(make_app("prefix_caching"), terminal_size=WIDE, run_before=at_step(5))


def test_help_screen(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=at_step(),
                        press=["question_mark"])


def test_error_dialog(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative path keeps the message the same on every machine
    (tmp_path / "bad.yaml").write_text("name: broken\nengine: [not a mapping\n")

    async def run_before(pilot) -> None:
        await at_step(10)(pilot)
        await pilot.app.open_source("bad.yaml").wait()  # opens in the background
        await pilot.pause()

    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=run_before)


def test_request_detail(snap_compare):
    # Request b at step 13: resumed after its preemption, recomputing 17 tokens.
    assert snap_compare(make_app("kv_preemption"), terminal_size=WIDE, run_before=at_step(13),
                        press=["down", "d"])


def test_small_terminal_80x24(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=SMALL, run_before=at_step(10))


def test_small_terminal_80x24_help(snap_compare):
    assert snap_compare(make_app("kv_preemption"), terminal_size=SMALL, run_before=at_step(2),
                        press=["question_mark"])


def test_breakpoint_hits_and_bookmarks_on_the_timeline(snap_compare):
    assert snap_compare(make_app("preemption_thrash"), terminal_size=WIDE,
                        run_before=at_step(0, breakpoints=["preemption"], bookmarks=[20, 40]),
                        press=["c", "c"])


def test_large_workload(snap_compare):
    assert snap_compare(make_app("large_workload"), terminal_size=WIDE, run_before=at_step(5000))
