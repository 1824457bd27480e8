"""Pilot tests for the whole-run overview, timeline zoom and wheel, the charts, the legend
and help screens, and issue 9's defects 2, 6, 11 and 13 (each fails before its fix)."""

from __future__ import annotations

from textual import events
from textual.containers import VerticalScroll

from pinned_app import pinned_app
from tui.play import MAX_PLAY_STRIDE
from tui.screens.help import HelpScreen
from tui.screens.legend import LegendScreen
from tui.widgets.charts import SERIES, Charts
from tui.widgets.overview import Overview, bucket_starts
from tui.widgets.request_table import RequestTable
from tui.widgets.timeline import Timeline

SIZE = (120, 36)
LONG = """name: long
description: one request decoding 600 tokens, for a run longer than the screen
engine:
  block_size: 16
  num_gpu_blocks: 64
requests:
  - id: a
    prompt: "aaaaaaaa"
    max_tokens: 600
    ignore_eos: true
"""


open_app = pinned_app


async def ready(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


def long_scenario(tmp_path) -> str:
    path = tmp_path / "long.yaml"
    path.write_text(LONG)
    return str(path)


async def test_overview_click_and_drag_jump_anywhere_in_the_run(tmp_path):
    app = open_app(long_scenario(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        overview = app.query_one(Overview)
        n = app.session.last_step + 1
        width = overview.content_region.width
        starts = bucket_starts(n, width)
        assert await pilot.click(Overview, offset=(1 + 100, 0))  # +1: left padding
        await pilot.pause()
        assert app.session.cursor == starts[100]
        await pilot.mouse_down(Overview, offset=(1 + 10, 0))
        await pilot.hover(Overview, offset=(1 + 50, 1))
        await pilot.mouse_up(Overview, offset=(1 + 50, 1))
        await pilot.pause()
        assert app.session.cursor == starts[50]
        # The window the timeline shows is what the overview marks.
        view = app.query_one(Timeline).view
        assert overview.window == (view.first_step, view.end_step)
        assert view.first_step <= app.session.cursor < view.end_step


async def test_zoom_folds_steps_into_cells_and_clicks_follow(tmp_path):
    app = open_app(long_scenario(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        timeline = app.query_one(Timeline)
        await pilot.press("z", "z")
        await pilot.pause()
        assert timeline.steps_per_cell == 4
        assert timeline.num_cells == -(-(app.session.last_step + 1) // 4)
        assert await pilot.click(Timeline, offset=(1 + 30, 1))
        await pilot.pause()
        assert app.session.cursor == (int(timeline.scroll_x) + 30) * 4
        await pilot.press("Z")
        await pilot.pause()
        assert timeline.steps_per_cell == 2
        await pilot.press("Z", "Z")  # never below one step per cell
        await pilot.pause()
        assert timeline.steps_per_cell == 1


async def test_the_wheel_scrolls_the_timeline_not_the_cursor(tmp_path):
    app = open_app(long_scenario(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        timeline = app.query_one(Timeline)
        assert timeline.scroll_x == 0
        timeline.post_message(events.MouseScrollDown(timeline, 10, 1, 0, 1, 0, False, False,
                                                     False))
        await pilot.pause()
        assert timeline.scroll_x == 8 and app.session.cursor == 0
        assert app.query_one(Overview).window[0] == 8
        timeline.post_message(events.MouseScrollUp(timeline, 10, 1, 0, -1, 0, False, False,
                                                   False))
        await pilot.pause()
        assert timeline.scroll_x == 0


async def test_charts_line_up_with_the_timeline_and_read_the_cursor(tmp_path):
    app = open_app(long_scenario(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        charts = app.query_one(Charts)
        assert not charts.display
        await pilot.press("v")
        await pilot.pause()
        assert charts.display
        app.go(40)
        await pilot.pause()
        timeline = app.query_one(Timeline)
        assert charts.view == timeline.view
        assert charts.region.x == timeline.region.x and charts.region.width == timeline.region.width
        summary = app.session.recording.summary()
        kv = summary.kv_cache_usage_perc[40]
        assert f"KV {kv:.0%}" in str(charts.border_title)
        assert f"running {summary.num_requests_running[40]}" in str(charts.border_title)
        rows = charts.bar_rows()
        assert len(rows) == len(SERIES) and all(len(r) == timeline.view.width for r in rows)


async def test_defect_6_a_timeline_click_keeps_the_table_keys():
    """Defect 6: after a click on the timeline, up/down still move the table selection,
    the focus (on the table) is visible, and the step keys work."""
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        table = app.query_one(RequestTable)
        assert app.focused is table
        assert await pilot.click(Timeline, offset=(1 + 3 * app.query_one(Timeline).cell_width, 1))
        await pilot.pause()
        assert app.session.cursor == 3
        assert app.focused is table and table.has_focus
        before = app.selected
        await pilot.press("down")
        await pilot.pause()
        assert app.selected != before
        await pilot.press("right")
        await pilot.pause()
        assert app.session.cursor == 4


async def test_defect_2_progress_after_the_timeline_is_gone():
    """Defect 2: a progress report arriving when the timeline is no longer in the DOM
    (the screen being torn down) must not fail the recording worker."""
    app = open_app("large_workload")
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            await pilot.pause(0.02)
            if app.session is not None:
                break
        assert app.session is not None and not app.session.complete
        await app.query_one(Timeline).remove()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.complete and app.is_running


async def test_defect_11_play_reaches_the_speed_shown():
    """Defect 11: when ticks come late (a slow redraw), play moves several steps per
    tick, so the steps per second reached are the speed in the header."""
    app = open_app("preemption_thrash")
    now = [0.0]
    app.pacer.clock = lambda: now[0]
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.speed_index = 6  # 64 steps/s
        app.playing = True
        now[0] = 0.125  # one tick, 125 ms late: 8 steps are due
        app._tick()
        assert app.session.cursor == 8
        now[0] = 10.0  # a long stall: at most MAX_PLAY_STRIDE steps at once
        app._tick()
        assert app.session.cursor == 8 + MAX_PLAY_STRIDE
        app.playing = False


async def test_defect_13_help_fits_at_120_columns_and_lists_mouse_and_palette():
    app = open_app("hello")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        groups = {group for group, _, _ in screen.rows}
        assert {"Mouse", "Palette"} <= groups
        scroll = screen.query_one(VerticalScroll)
        assert scroll.max_scroll_x == 0
        table = screen.query_one("#key-table")
        assert table.region.right <= scroll.region.right


async def test_legend_opens_with_i():
    app = open_app("hello")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, LegendScreen)
        assert len(app.screen.tables()) == 4
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, LegendScreen)


async def test_overview_colours_columns_by_preemption_density(tmp_path):
    """On a long run nearly every column holds a preemption: the busiest half are red,
    the rest that have one orange, and columns without any keep the KV colour."""
    import numpy as np

    app = open_app(long_scenario(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        overview = app.query_one(Overview)
        width = overview.content_region.width
        n = width * 4  # four steps per column
        preemptions = np.zeros(n, np.int64)
        preemptions[0:4] = 1  # column 0: 4, the busiest
        preemptions[4] = 1  # column 1: 1 (under half of 4)
        preemptions[8:10] = 1  # column 2: 2 (half: dense)
        overview.set_run(np.full(n, 0.5), preemptions)
        _, cells = overview.columns()
        styles = [style for _, style in cells[:4]]
        assert styles == [overview.part_style("overview--preemption"),
                          overview.part_style("overview--preemption-some"),
                          overview.part_style("overview--preemption"),
                          overview.part_style("overview--kv")]
