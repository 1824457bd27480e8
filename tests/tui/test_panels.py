"""Pilot tests for the panels helper L fixed (issue 9: defects 4, 5, 8, 9, 10, 15; the block
detail; the table's selection across scenarios)."""

from __future__ import annotations

from pathlib import Path

from textual import on

import tui.app

from tui.app import DebuggerApp
from tui.screens.block import BlockScreen
from tui.screens.description import DescriptionScreen
from tui.screens.detail import RequestDetailScreen, pack
from tui.widgets.kv_map import KVMap
from tui.widgets.request_table import RequestTable, compact, fit_cell
from tui.widgets.step_panel import StepPanel


class ClickApp(DebuggerApp):
    """The debugger, keeping the blocks its KV map says were clicked."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))
    clicked: list[int]

    @on(KVMap.BlockClicked)
    def keep(self, message: KVMap.BlockClicked) -> None:
        self.clicked = [*getattr(self, "clicked", []), message.block_id]


async def _opened(app, pilot, step: int | None = None):
    await app.workers.wait_for_complete()
    await pilot.pause()
    if step is not None:
        app.go(step)
        await pilot.pause()


def _text(widget) -> str:
    return str(widget.render())


def _line(widget, y: int) -> str:
    return "".join(seg.text for seg in widget.render_line(y))


def test_numbers_are_never_cut():
    assert compact(3785, 4) == "3785"
    assert compact(37850, 4) == "37k" and compact(378500, 5) == "378k"
    assert compact(1_250_000, 4) == "1.2M"
    assert fit_cell("head-of-line", 6) == "head-…"


async def test_table_columns_are_whole_or_marked_at_120_columns():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await _opened(app, pilot, 12)
        table = app.query_one(RequestTable)
        header = _line(table, 0)
        assert header.rstrip().endswith("›")  # more columns to the right, and it says so
        shown_titles = header.split()
        for title in shown_titles[:-1]:  # every title shown is whole
            assert title in ("id", "status", "computed/tokens", "sched", "out", "blk", "hit",
                             "pre", "ttft"), title
        await pilot.press("ctrl+right")
        await pilot.pause()
        assert int(table.scroll_x) == table.id_width + 1  # one whole column (id and its gap)
        assert _line(table, 0).startswith("‹")


async def test_step_panel_shows_both_moments_and_the_stop_detail():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(200, 60)) as pilot:
        await _opened(app, pilot, 12)
        text = _text(app.query_one(StepPanel))
        assert "admission stopped at b: kv_cache" in text
        assert "needs 5 KV blocks for 17 tokens, 3 free" in text
        assert "KV schedule() " in text and " 62.5% 3 free" in text
        assert "KV after step " in text and "  0.0% 8 free\n" in text
        assert "cached (reusable)" not in text  # said only when some free block is cached
        app.go(10)
        await pilot.pause()
        assert "as its blocks were freed KV 100%→50%" in _text(app.query_one(StepPanel))


async def test_ignored_request_reason_in_panel_table_and_detail():
    reason = "prompt needs 7 KV blocks, the cache has 4 usable blocks"
    app = DebuggerApp("never_fits")
    async with app.run_test(size=(200, 60)) as pilot:
        await _opened(app, pilot, 0)
        assert f"IGNORED huge: {reason}" in _text(app.query_one(StepPanel))
        table = app.query_one(RequestTable)
        row = 1 + list(table.order).index(table.state.request_index["huge"])
        assert "ignored: prompt needs…" in _line(table, row)
        app.push_screen(RequestDetailScreen(app.session, "huge", 0))
        await pilot.pause()
        body = _text(app.screen.query_one("#detail-body"))
        assert f"IGNORED at step 0 (when it arrived): {reason}; reported finished by step 1" \
            in body


async def test_detail_history_has_steps_preemption_and_recompute():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(160, 50)) as pilot:
        await _opened(app, pilot, 12)
        app.push_screen(RequestDetailScreen(app.session, "b", 12))
        await pilot.pause()
        lines = _text(app.screen.query_one("#detail-body")).splitlines()
        history = {line[1:].split()[0]: line for line in lines
                   if line[1:12].strip()[:1].isdigit()}
        assert "PREEMPTED: lost 16 computed tok (KV 100%→50%)" in history["10"]
        assert "−[3 4 8 5]" in history["10"]
        assert "recompute (last chunk) +17" in history["13"] and "+[5 6 7 2 1]" in history["13"]
        assert "decode +1 ×3" in history["3–5"]
        assert "waits: kv_cache" in history["11–12"]
        assert any(line.startswith("▶") and "11–12" in line for line in lines)


def test_detail_fields_never_wrap_mid_field():
    fields = ["RUNNING", "computed 12/17 tokens", "prompt 8", "output 9", "blocks 4",
              "prefix hit 0", "preemptions 1", "priority 0", "arrives at step 0"]
    lines = pack(fields, 40).split("\n")
    assert all(len(line) <= 40 for line in lines)
    assert [f for line in lines for f in line.split("  ")] == fields


async def test_wide_layout_gives_the_side_column_the_room():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(200, 60)) as pilot:
        await _opened(app, pilot, 12)
        table, side = app.query_one(RequestTable), app.query_one("#side")
        assert table.outer_size.width <= table._total_width() + 4
        assert side.outer_size.width >= 200 - table.outer_size.width - 1
        assert side.outer_size.width > 100
        assert "…" not in _text(app.query_one(StepPanel))


async def test_click_on_a_kv_block_names_it_and_the_block_screen_tells_its_story():
    app = ClickApp("prefix_caching")
    async with app.run_test(size=(120, 40)) as pilot:
        await _opened(app, pilot, 5)
        kv = app.query_one(KVMap)
        assert await pilot.click(KVMap, offset=(1 + 3, 1))  # border, then block 3
        await pilot.pause()
        assert app.clicked == [3]
        app.push_screen(BlockScreen(app.session, 3, 5))
        await pilot.pause()
        body = _text(app.screen.query_one("#block-body"))
        assert "owners q1, q2, q3  (reference count 3)" in body
        assert "prefix hit by q3" in body and "allocated to q1" in body
        assert kv.block_at(3, 0) == 3


async def test_a_new_scenario_does_not_inherit_the_selection():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await _opened(app, pilot)
        table = app.query_one(RequestTable)
        await pilot.press("down", "down")
        assert table.selected_request == "c"
        app.open_source("prefix_caching")
        await _opened(app, pilot)
        assert table.selected_row == 0 and app.selected == table.selected_request


async def test_description_screen_shows_the_scenario_description():
    app = DebuggerApp("never_fits")
    async with app.run_test(size=(100, 30)) as pilot:
        await _opened(app, pilot)
        scenario = app.session.recording.scenario
        app.push_screen(DescriptionScreen(scenario.name, scenario.description, app.run_settings))
        await pilot.pause()
        body = _text(app.screen.query_one("#description-body"))
        assert body.startswith("A request that can never fit.")
