"""The breakpoints dialog (issue 9): typos are refused with a did-you-mean, out-of-range
literals are warned about, `90%` is accepted; the list shows on/off, when/while and hit
counts; `e`/space, `w` and delete act on the selected one; `c` and play follow them."""

from __future__ import annotations

from textual.widgets import DataTable, Input, Static

from mini_engine.recording.recorder import Recorder
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario
from pinned_app import pinned_app
from tui.app import PLAY_SPEEDS
from tui.screens.breakpoints import BreakpointsScreen

SIZE = (120, 36)


def full_recording(name: str):
    recorder = Recorder(load_scenario(resolve_scenario(name)))
    while recorder.advance(10_000):
        pass
    return recorder.recording


open_app = pinned_app


async def open_dialog(app, pilot) -> BreakpointsScreen:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("b")
    await pilot.pause()
    assert isinstance(app.screen, BreakpointsScreen)
    return app.screen


async def submit(pilot, screen: BreakpointsScreen, text: str) -> None:
    field = screen.query_one(Input)
    field.focus()
    field.value = text
    await pilot.press("enter")
    await pilot.pause()


def shown(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


async def test_a_typo_is_refused_with_a_did_you_mean():
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialog(app, pilot)
        await submit(pilot, screen, "kv_cache_usge > 0.9")
        assert shown(screen, "#bp-error") == ("unknown name 'kv_cache_usge'; did you mean "
                                              "kv_cache_usage? at column 1: "
                                              "kv_cache_usge > 0.9")
        assert app.session.breakpoints == []
        assert screen.query_one(Input).value == "kv_cache_usge > 0.9"  # kept, to fix it


async def test_an_out_of_range_literal_is_added_with_a_warning_and_a_percent_is_accepted():
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_dialog(app, pilot)
        await submit(pilot, screen, "kv_cache_usage > 90")
        assert shown(screen, "#bp-warning") == (
            "warning: kv_cache_usage is 0..1, so 90 is out of range; the screen shows "
            "percent: write 90% or 0.9")
        assert shown(screen, "#bp-error") == ""
        await submit(pilot, screen, "kv_cache_usage > 50%")
        assert shown(screen, "#bp-warning") == ""
        assert [bp.text for bp in app.session.breakpoints] == ["kv_cache_usage > 90",
                                                               "kv_cache_usage > 50%"]
        assert screen.rows()[0][3] == "0 / 0"
        assert int(screen.rows()[1][3].split(" / ")[1]) > 0


async def test_the_list_shows_modes_and_hit_counts_and_its_keys_act_on_the_selection():
    rec = full_recording("kv_preemption")
    preemptions = rec.event_steps("preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.go(preemptions[0])
        screen = await open_dialog(app, pilot)
        await submit(pilot, screen, "preemption")
        await submit(pilot, screen, "while kv_cache_usage > 50%")
        while_steps = app.session.breakpoint_steps(1)
        so_far = sum(s <= preemptions[0] for s in while_steps)
        assert screen.rows() == [
            ("●", "event", "preemption", f"1 / {len(preemptions)}"),
            ("●", "while", "kv_cache_usage > 50%", f"{so_far} / {len(while_steps)}")]
        # A space typed in the field is a space, not the on/off key.
        field = screen.query_one(Input)
        await pilot.press("x", "space", "y")
        assert field.value == "x y"
        field.value = ""

        table = screen.query_one(DataTable)
        table.focus()
        await pilot.press("down", "w")  # the condition becomes "when"
        await pilot.pause()
        assert app.session.breakpoints[1].mode == "when"
        assert screen.rows()[1][1] == "when"
        await pilot.press("up", "e")  # preemption off
        await pilot.pause()
        assert screen.rows()[0][0] == "○" and not app.session.breakpoints[0].enabled
        await pilot.press("w")  # an event has no mode: said, nothing changes
        await pilot.pause()
        assert "has no when/while mode" in shown(screen, "#bp-error")
        await pilot.press("space")  # on again
        await pilot.pause()
        assert app.session.breakpoints[0].enabled
        await pilot.press("e", "down", "delete")  # preemption off; the condition deleted
        await pilot.pause()
        assert [(bp.text, bp.enabled) for bp in app.session.breakpoints] == [
            ("preemption", False)]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, BreakpointsScreen)
        # Disabled: continue finds nothing and the timeline has no hit marks.
        app.go(0)
        await pilot.press("c")
        await pilot.pause()
        assert app.session.cursor == 0
        assert app.session.hit_steps() == set()


async def test_continue_stops_at_every_step_of_a_while_breakpoint():
    rec = full_recording("kv_preemption")
    holds = [s for s in range(1, rec.num_steps + 1) if rec.seek(s).metrics.kv_cache_usage_perc > 0.5]
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.add_breakpoint("while kv_cache_usage > 50%")
        stops = []
        for _ in range(len(holds) + 1):
            await pilot.press("c")
            await pilot.pause()
            if stops and stops[-1] == app.session.cursor:
                break
            stops.append(app.session.cursor)
        assert stops == holds


async def test_play_stops_at_a_request_field_condition_and_not_at_a_disabled_one():
    rec = full_recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.add_breakpoint("c.status == RUNNING")
        expected = app.session.breakpoint_steps(0)
        assert expected == [s for s in range(rec.num_steps + 1)
                            if rec.seek(s).status_name("c") == "RUNNING"
                            and (s == 0 or rec.seek(s - 1).status_name("c") != "RUNNING")]
        assert set(expected) <= app.session.hit_steps()  # marked on the timeline too
        app.speed_index = len(PLAY_SPEEDS) - 1

        async def play_until_stopped() -> None:
            await pilot.press("space")
            for _ in range(200):  # waits for play to stop; the bound only catches a hang
                if not app.playing:
                    return
                await pilot.pause(0.05)
            raise AssertionError("play did not stop")

        app.go(expected[0] - 1)
        await play_until_stopped()
        assert app.session.cursor == expected[0]
        app.session.set_enabled(0, False)
        app.go(expected[0] - 1)
        await play_until_stopped()  # runs through to the end
        assert app.session.cursor == rec.num_steps
