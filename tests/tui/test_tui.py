"""Behaviour tests for the Textual step debugger (tui/), driven headless with Pilot.

They assert on the app's state (the session's cursor and StepState, widget attributes,
the screen stack), never on screen text; the snapshots in test_snapshots.py cover the
look. Expected steps are derived from the recording itself (its event index, or a scan
of `Recording.seek` states), not from the session method under test.
"""

from __future__ import annotations

import itertools
import shutil

import pytest
from textual.widgets import DataTable, Input, Static

from mini_engine.recording.recorder import Recorder

from mini_engine.recording.store import Recording
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario
from mini_engine.recording.jsonl import save_jsonl
from pinned_app import pinned_app
from tui.app import PLAY_SPEEDS
from tui.keymap import KEYMAP, OTHER_ACTIONS
from tui.screens.breakpoints import BreakpointsScreen
from tui.screens.detail import RequestDetailScreen
from tui.screens.error import ErrorScreen
from tui.screens.goto import GotoScreen
from tui.screens.help import HelpScreen
from tui.screens.prompt import PromptScreen
from tui.widgets.bars import HeaderBar, StatusBar
from tui.widgets.kv_map import KVMap
from tui.widgets.queues import QueuePanel
from tui.widgets.request_table import RequestTable
from tui.widgets.step_panel import StepPanel
from tui.widgets.timeline import Timeline

SIZE = (120, 36)
STATUS_CHANGE_KINDS = ("arrival", "admission", "resume", "preemption", "finish", "abort", "ignore")


# ----------------------------------------------------------------------------- helpers

_recordings: dict[str, Recording] = {}


def recording(name: str) -> Recording:
    """A complete recording of a bundled scenario, computed once per test session
    (independently of the app, for expected values)."""
    if name not in _recordings:
        recorder = Recorder(load_scenario(resolve_scenario(name)))
        while recorder.advance(10_000):
            pass
        _recordings[name] = recorder.recording
    return _recordings[name]


async def ready(app, pilot) -> None:
    """Wait for the background recording to finish and the screen to settle."""
    await app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


def view(app) -> tuple:
    """What the main panels render at the cursor: the table's visible lines (as segments),
    the queues, the step panel, the KV map and the header, as plain comparable values."""
    def text(widget) -> tuple:
        content = widget.content if isinstance(widget, Static) else widget.render()
        return (content.plain, tuple(content.spans)) if hasattr(content, "plain") else (str(content),)

    table = app.query_one(RequestTable)
    kv = app.query_one(KVMap)
    return (
        tuple(tuple(table.render_line(y)) for y in range(table.scrollable_content_region.height)),
        table.border_title,
        tuple((p.border_title, text(p)) for p in app.query(QueuePanel)),
        (app.query_one(StepPanel).border_title, text(app.query_one(StepPanel))),
        tuple(tuple(kv.render_line(y)) for y in range(kv.scrollable_content_region.height)),
        text(app.query_one("#header")),
    )


def status_changes(rec: Recording, request_id: str) -> list[int]:
    """Steps where `request_id`'s status differs from the step before (PENDING before step 0)."""
    out, before = [], "PENDING"
    for s in range(rec.num_steps + 1):
        now = rec.seek(s).status_name(request_id)
        if now != before:
            out.append(s)
        before = now
    return out


def edges(rec: Recording, predicate) -> list[int]:
    """Steps where predicate(state) turns true (conditions are edge-triggered; before
    step 0 counts as false)."""
    out, before = [], False
    for s in range(rec.num_steps + 1):
        now = bool(predicate(rec.seek(s)))
        if now and not before:
            out.append(s)
        before = now
    return out


open_app = pinned_app


# ----------------------------------------------------------------------------- stepping


async def test_stepping_forward_then_back_returns_the_same_state():
    rec = recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.session.recording.complete and app.session.recording.num_steps == rec.num_steps
        await press(pilot, "right")
        start_state, start_view = app.session.state(), view(app)
        assert app.session.cursor == 1 and start_state == rec.seek(1)

        await press(pilot, "right", "right", "right")
        assert app.session.cursor == 4
        forward_view = view(app)
        assert app.session.state() == rec.seek(4)
        await press(pilot, "left", "left", "left")
        assert app.session.cursor == 1
        assert app.session.state() == start_state == rec.seek(1)
        assert view(app) == start_view

        await press(pilot, "shift+right")
        assert app.session.cursor == 11 and app.session.state() == rec.seek(11)
        await press(pilot, "shift+left")
        assert app.session.cursor == 1 and view(app) == start_view

        # Renders at a step don't depend on the path: step 4 reached backwards looks the same.
        await press(pilot, "end")
        assert app.session.cursor == rec.num_steps
        assert app.session.state() == rec.seek(rec.num_steps)
        app.go(4)
        await pilot.pause()
        assert view(app) == forward_view
        await press(pilot, "home", "left")  # clamps at step 0
        assert app.session.cursor == 0 and app.session.state() == rec.seek(0)


async def test_goto_equals_stepping_and_previews_while_typing():
    rec = recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await press(pilot, "right", "right", "right", "right", "right")
        stepped_state, stepped_view = app.session.state(), view(app)
        assert app.session.cursor == 5 and stepped_state == rec.seek(5)
        await press(pilot, "home")

        await press(pilot, "colon")
        assert isinstance(app.screen, GotoScreen)
        await press(pilot, "5", "enter")
        assert not isinstance(app.screen, GotoScreen)
        assert app.session.cursor == 5
        assert app.session.state() == stepped_state
        assert view(app) == stepped_view

        # Live preview: the cursor follows the digits; escape returns to the origin.
        await press(pilot, "colon", "1")
        assert isinstance(app.screen, GotoScreen) and app.session.cursor == 1
        assert app.query_one(Timeline).cursor == 1
        await press(pilot, "7")
        assert app.session.cursor == 17 and app.session.state() == rec.seek(17)
        await press(pilot, "9")  # 179 clamps to the last step
        assert app.session.cursor == rec.num_steps
        await press(pilot, "escape")
        assert not isinstance(app.screen, GotoScreen)
        assert app.session.cursor == 5 and view(app) == stepped_view


# ----------------------------------------------------------------------------- timeline


async def test_clicking_the_timeline_moves_the_cursor_to_the_clicked_step():
    rec = recording("preemption_thrash")
    app = open_app("preemption_thrash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        timeline = app.query_one(Timeline)
        assert timeline.num_steps == rec.num_steps + 1
        assert timeline.cell_width == 1  # 66 steps in 118 cells: one cell per step
        x0 = int(timeline.scroll_x)
        for k in (17, 3, 40):
            assert await pilot.click(Timeline, offset=(1 + k, 1))
            await pilot.pause()
            assert app.session.cursor == x0 + k == timeline.cursor
            assert app.session.state() == rec.seek(x0 + k)
        # The marker row scrubs too; the border does not.
        assert await pilot.click(Timeline, offset=(1 + 9, 2))
        await pilot.pause()
        assert app.session.cursor == x0 + 9
        assert await pilot.click(Timeline, offset=(1 + 20, 0))  # top border
        await pilot.pause()
        assert app.session.cursor == x0 + 9


async def test_clicking_wide_timeline_cells():
    """Short runs get cells up to 3 wide: any column of a cell selects its step."""
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        timeline = app.query_one(Timeline)
        cw = timeline.cell_width
        assert cw == 3  # 24 steps in 118 cells
        for step, col in ((7, 0), (12, cw - 1), (20, 1)):
            assert await pilot.click(Timeline, offset=(1 + step * cw + col, 1))
            await pilot.pause()
            assert app.session.cursor == step


async def test_dragging_the_timeline_scrubs():
    app = open_app("preemption_thrash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        timeline = app.query_one(Timeline)
        x0 = int(timeline.scroll_x)
        assert await pilot.mouse_down(Timeline, offset=(1 + 5, 1))
        await pilot.pause()
        assert app.session.cursor == x0 + 5
        await pilot.hover(Timeline, offset=(1 + 12, 1))
        await pilot.pause()
        assert app.session.cursor == x0 + 12
        await pilot.hover(Timeline, offset=(1 + 30, 2))
        await pilot.pause()
        assert app.session.cursor == x0 + 30
        await pilot.mouse_up(Timeline, offset=(1 + 30, 2))
        await pilot.pause()
        # After the button is released, moving the mouse no longer scrubs.
        await pilot.hover(Timeline, offset=(1 + 50, 1))
        await pilot.pause()
        assert app.session.cursor == x0 + 30


# ----------------------------------------------------------------------------- breakpoints


def _status_is(rid: str, name: str):
    return lambda st: st.status_name(rid) == name


BREAKPOINT_CASES = [
    # (scenario, breakpoint text, expected hit steps from the recording)
    ("kv_preemption", "preemption", lambda rec: list(rec.event_steps("preemption"))),
    ("kv_preemption", "finish", lambda rec: list(rec.event_steps("finish"))),
    ("preemption_thrash", "admission", lambda rec: list(rec.event_steps("admission"))),
    ("priority", "kv_full", lambda rec: list(rec.event_steps("kv_full"))),
    ("kv_preemption", "status b", lambda rec: status_changes(rec, "b")),
    ("kv_preemption", "kv_cache_usage > 0.5",
     lambda rec: edges(rec, lambda st: st.metrics.kv_cache_usage_perc > 0.5)),
    ("preemption_thrash", "waiting > 1", lambda rec: edges(rec, lambda st: len(st.waiting) > 1)),
    ("kv_preemption", "c.status == RUNNING", lambda rec: edges(rec, _status_is("c", "RUNNING"))),
]


@pytest.mark.parametrize("scenario,text,expected", BREAKPOINT_CASES,
                         ids=[c[1].replace(" ", "") for c in BREAKPOINT_CASES])
async def test_breakpoint_stops_where_it_should_in_both_directions(scenario, text, expected):
    rec = recording(scenario)
    hits = expected(rec)
    assert hits, "the scenario should hit this breakpoint"
    # Sanity of the independent derivations where two exist.
    if text == "preemption":
        assert hits == [s for s in range(1, rec.num_steps + 1)
                        if rec.seek(s).num_preemptions.sum() > rec.seek(s - 1).num_preemptions.sum()]
    if text == "finish":
        assert hits == [s for s in range(1, rec.num_steps + 1)
                        if len(rec.seek(s).finished) > len(rec.seek(s - 1).finished)]
    app = open_app(scenario)
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.add_breakpoint(text)
        await pilot.pause()
        assert [bp.text for bp in app.session.breakpoints] == [text]

        forward = []
        for _ in range(len(hits) + 1):  # one press more than hits: the last one stays put
            await press(pilot, "c")
            if forward and app.session.cursor == forward[-1]:
                break
            forward.append(app.session.cursor)
        assert forward == [s for s in hits if s > 0]
        assert app.session.state() == rec.seek(forward[-1])

        await press(pilot, "end")
        last = rec.num_steps
        backward = []
        for _ in range(len(hits) + 1):
            await press(pilot, "C")
            if app.session.cursor == (backward[-1] if backward else last):
                break
            backward.append(app.session.cursor)
        assert backward == [s for s in reversed(hits) if s < last]
        # Each stop is marked on the timeline.
        assert set(hits) <= app.query_one(Timeline).hits or "." in text


async def test_breakpoints_screen_adds_and_removes():
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await press(pilot, "b")
        assert isinstance(app.screen, BreakpointsScreen)
        field = app.screen.query_one(Input)
        field.focus()  # the dialog opens with its (empty) list focused
        field.value = "preemption"
        await press(pilot, "enter")
        field.value = "waiting >"  # bad: an error in the dialog, nothing added
        await press(pilot, "enter")
        assert [bp.text for bp in app.session.breakpoints] == ["preemption"]
        await press(pilot, "escape")
        assert not isinstance(app.screen, BreakpointsScreen)
        assert app.query_one(Timeline).hits == set(recording("kv_preemption").event_steps("preemption"))
        await press(pilot, "c")
        assert app.session.cursor == recording("kv_preemption").event_steps("preemption")[0]


async def test_a_combination_of_breakpoints_stops_at_the_nearest():
    rec = recording("preemption_thrash")
    hits = sorted(set(rec.event_steps("finish"))
                  | set(edges(rec, lambda st: st.metrics.kv_cache_usage_perc >= 1.0)))
    app = open_app("preemption_thrash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.add_breakpoint("finish")
        app.add_breakpoint("kv_cache_usage >= 1.0")
        app.go(hits[2] - 1)
        await press(pilot, "c")
        assert app.session.cursor == hits[2]
        await press(pilot, "c")
        assert app.session.cursor == hits[3]
        await press(pilot, "C", "C")
        assert app.session.cursor == hits[1]


async def test_play_stops_at_a_breakpoint_and_at_the_end():
    rec = recording("kv_preemption")
    preemptions = rec.event_steps("preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.speed_index = len(PLAY_SPEEDS) - 1  # 64 steps/s

        async def play_until_stopped() -> None:
            await press(pilot, "space")
            for _ in range(100):
                if not app.playing:
                    return
                await pilot.pause(0.05)
            raise AssertionError("play did not stop")

        app.add_breakpoint("preemption")
        await play_until_stopped()
        assert app.session.cursor == preemptions[0]
        await play_until_stopped()
        assert app.session.cursor == preemptions[1]
        assert app.session.state() == rec.seek(preemptions[1])
        # Without a breakpoint ahead, play runs to the last step and stops there.
        await play_until_stopped()
        assert app.session.cursor == rec.num_steps and not app.playing

        # Space pauses a running play.
        await press(pilot, "home")
        app.speed_index = 0  # 1 step/s: the pause comes first
        await press(pilot, "space")
        assert app.playing
        await press(pilot, "space")
        assert not app.playing and app.session.cursor <= 1


# ----------------------------------------------------------------------------- jumps


async def test_p_and_P_jump_between_preemptions():
    rec = recording("preemption_thrash")
    preemptions = [s for s in range(1, rec.num_steps + 1)
                   if rec.seek(s).num_preemptions.sum() > rec.seek(s - 1).num_preemptions.sum()]
    assert len(preemptions) >= 3
    app = open_app("preemption_thrash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await press(pilot, "p")
        assert app.session.cursor == preemptions[0]
        await press(pilot, "p")
        assert app.session.cursor == preemptions[1]
        app.go(preemptions[-1])
        await press(pilot, "p")  # none later: stays
        assert app.session.cursor == preemptions[-1]
        await press(pilot, "P")
        assert app.session.cursor == preemptions[-2]
        app.go(preemptions[0])
        await press(pilot, "P")  # none earlier: stays
        assert app.session.cursor == preemptions[0]
        assert app.query_one(Timeline).cursor == preemptions[0]


async def test_the_bars_follow_the_app_state_they_are_bound_to():
    """Play, speed, the event kind and the selection are reactive app state: the header
    and the status line redraw from them, with no refresh call from the key handlers."""
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        header, status = app.query_one(HeaderBar), app.query_one(StatusBar)
        app.speed_index = 0  # 1 step/s: the keys below come first
        await press(pilot, "space")
        assert header.playing and "▶ 1/s" in header.render().plain
        await press(pilot, "plus")
        assert header.speed_index == 1 and "▶ 2/s" in header.render().plain
        await press(pilot, "space")
        assert not header.playing and "▶" not in header.render().plain
        await press(pilot, "end")
        assert f"step {app.session.last_step} /" in header.render().plain
        await press(pilot, "e")
        assert status.event_kind == "admission" and "jump to: admission" in status.render().plain
        await press(pilot, "down")
        assert status.selected == app.selected == "b"


async def test_n_and_N_follow_the_kind_chosen_with_e():
    rec = recording("preemption_thrash")
    admissions, finishes = rec.event_steps("admission"), rec.event_steps("finish")
    app = open_app("preemption_thrash")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.event_kind == "preemption"
        await press(pilot, "n")
        assert app.session.cursor == rec.event_steps("preemption")[0]
        await press(pilot, "home", "e")
        assert app.event_kind == "admission"
        await press(pilot, "n", "n")
        assert app.session.cursor == [s for s in admissions if s > 0][1]
        await press(pilot, "N")
        assert app.session.cursor == [s for s in admissions if s > 0][0]
        await press(pilot, "e")
        assert app.event_kind == "finish"
        await press(pilot, "n")
        assert app.session.cursor == finishes[0]
        await press(pilot, "end", "N")
        assert app.session.cursor == finishes[-2]  # the last finish is the last step


async def test_r_and_R_follow_the_selected_request():
    rec = recording("kv_preemption")
    changes_b = [s for s in status_changes(rec, "b") if s > 0]
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        table = app.query_one(RequestTable)
        await press(pilot, "down")
        assert table.selected_request == "b" and app.selected == "b"
        for expected in changes_b[:3]:
            await press(pilot, "r")
            assert app.session.cursor == expected
        await press(pilot, "R")
        assert app.session.cursor == changes_b[1]
        await press(pilot, "up")  # now "a": its next change after this step
        assert app.selected == "a"
        changes_a = status_changes(rec, "a")
        await press(pilot, "r")
        assert app.session.cursor == next(s for s in changes_a if s > changes_b[1])


async def test_bookmarks_set_jump_and_toggle():
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(3)
        await press(pilot, "m")
        app.go(10)
        await press(pilot, "m")
        assert app.session.bookmarks == [3, 10]
        assert app.query_one(Timeline).bookmarks == {3, 10}
        await press(pilot, "home", "apostrophe")
        assert app.session.cursor == 3
        await press(pilot, "apostrophe")
        assert app.session.cursor == 10
        await press(pilot, "apostrophe")  # no later bookmark: stays
        assert app.session.cursor == 10
        await press(pilot, "quotation_mark")
        assert app.session.cursor == 3
        await press(pilot, "m")  # toggles off
        assert app.session.bookmarks == [10]
        assert app.query_one(Timeline).bookmarks == {10}


async def test_filter_narrows_the_table():
    rec = recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(2)
        await press(pilot, "slash")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "running"
        await press(pilot, "enter")
        table = app.query_one(RequestTable)
        state = rec.seek(2)
        running = [rid for rid in state.request_ids if state.status_name(rid) == "RUNNING"]
        assert 0 < len(running) < len(state.request_ids)
        assert [state.request_ids[i] for i in table.order] == running
        assert table.filter_text == "running"

        await press(pilot, "slash")
        app.screen.query_one(Input).value = "c"
        await press(pilot, "enter")
        assert [state.request_ids[i] for i in table.order] == ["c"]
        assert table.selected_request == "c"

        await press(pilot, "slash")
        app.screen.query_one(Input).value = ""
        await press(pilot, "enter")
        assert len(table.order) == len(state.request_ids)


async def test_filter_updates_the_table_count():
    rec = recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(2)
        await press(pilot, "slash")
        app.screen.query_one(Input).value = "running"
        await press(pilot, "enter")
        state = rec.seek(2)
        running = [rid for rid in state.request_ids if state.status_name(rid) == "RUNNING"]
        assert app.query_one(RequestTable).border_title == \
            f"requests ({len(running)}/{len(state.request_ids)})"


# ----------------------------------------------------------------------------- files


BAD_YAML = "name: broken\nengine: [this is not a mapping\n"


async def test_a_bad_file_shows_an_error_and_keeps_the_session(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text(BAD_YAML)
    bad_jsonl = tmp_path / "bad.jsonl"
    bad_jsonl.write_text('{"not": "a recording"}\nnot json at all\n')
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(7)
        await pilot.pause()
        session, rec, before = app.session, app.session.recording, view(app)
        for bad in (bad_yaml, bad_jsonl, tmp_path / "missing.yaml"):
            await app.open_source(str(bad)).wait()  # opens in the background
            await pilot.pause()
            assert isinstance(app.screen, ErrorScreen), bad
            assert app.session is session and app.session.recording is rec
            assert app.session.cursor == 7
            await press(pilot, "escape")
            assert not isinstance(app.screen, ErrorScreen)
            assert view(app) == before
        assert app.source_path == "kv_preemption"


async def test_a_bad_file_from_the_command_palette_keeps_the_session(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text(BAD_YAML)
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(5)
        await pilot.pause()
        session, rec = app.session, app.session.recording
        await press(pilot, "ctrl+p")
        palette = app.screen
        assert type(palette).__name__ == "CommandPalette"
        palette.query_one(Input).value = "Open file"
        for _ in range(40):  # the palette searches in the background
            await pilot.pause(0.05)
            if palette._list_visible:
                break
        await press(pilot, "down", "enter")
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = str(bad_yaml)
        await press(pilot, "enter")
        await ready(app, pilot)  # the file opens in the background
        assert isinstance(app.screen, ErrorScreen)
        assert app.session is session and app.session.recording is rec and app.session.cursor == 5
        await press(pilot, "enter")  # enter closes the dialog too
        assert not isinstance(app.screen, (ErrorScreen, PromptScreen))
        assert app.session is session and app.session.cursor == 5


async def test_reload_keeps_the_step(tmp_path):
    path = tmp_path / "kv.yaml"
    shutil.copy(resolve_scenario("kv_preemption"), path)
    app = open_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.source_path == str(path)
        app.go(7)
        old = app.session.recording
        text = path.read_text().replace("name: kv_preemption", "name: kv_reloaded")
        path.write_text(text.replace("max_tokens: 12", "max_tokens: 14", 1))
        app.action_reload()
        await ready(app, pilot)
        assert app.session.recording is not old and app.session.recording.scenario.name == "kv_reloaded"
        assert app.session.recording.complete and app.session.recording.num_steps != old.num_steps
        assert app.session.cursor == 7
        assert app.query_one(Timeline).cursor == 7
        assert app.session.state() == app.session.recording.seek(7)

        # Reloading a file that went bad keeps the reloaded session.
        session = app.session
        path.write_text(BAD_YAML)
        app.action_reload()
        await ready(app, pilot)
        assert isinstance(app.screen, ErrorScreen)
        assert app.session is session and app.session.cursor == 7


async def test_a_recording_file_opens(tmp_path):
    rec = recording("kv_preemption")
    path = tmp_path / "kv.jsonl"
    save_jsonl(rec, path)
    app = open_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.session.recording.complete and app.session.recording.num_steps == rec.num_steps
        await press(pilot, "p")
        assert app.session.cursor == rec.event_steps("preemption")[0]
        assert app.session.state() == rec.seek(app.session.cursor)


# ----------------------------------------------------------------------------- layout


LEAVES = ("#header", "#requests", "#step-panel", "#kv-map", "#waiting", "#running", "#finished",
          "#timeline", "#status", "Footer")


def _regions(app) -> dict[str, tuple]:
    """(laid-out region, visible region) of each displayed panel, from the compositor."""
    out = {}
    for name in LEAVES:
        widget = app.query_one(name)
        if widget.display:
            geometry = app.screen.find_widget(widget)
            out[name] = (geometry.region, geometry.region.intersection(geometry.clip))
    return out


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 36)])
async def test_layout_has_no_overlaps(size):
    app = open_app("kv_preemption")
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        app.go(10)  # a busy step: the step panel is at its tallest
        await pilot.pause()
        regions = _regions(app)
        for name in ("#header", "#requests", "#timeline", "#status", "Footer"):
            assert name in regions and regions[name][1].area, f"{name} hidden at {size}"
        screen = app.screen.region
        for name, (_, visible) in regions.items():
            assert screen.contains_region(visible), f"{name} {visible} off screen {screen}"
        for (a, (_, ra)), (b, (_, rb)) in itertools.combinations(regions.items(), 2):
            assert not ra.overlaps(rb), f"{a} {ra} overlaps {b} {rb} at {size}"


@pytest.mark.parametrize("size", [
    (80, 24), (100, 30), (120, 36)])
async def test_no_panel_is_clipped(size):
    app = open_app("kv_preemption")
    async with app.run_test(size=size) as pilot:
        await ready(app, pilot)
        app.go(10)
        await pilot.pause()
        for name, (laid_out, visible) in _regions(app).items():
            assert laid_out == visible, f"{name} laid out at {laid_out}, visible {visible}"


async def test_80x24_is_usable():
    rec = recording("kv_preemption")
    app = open_app("kv_preemption")
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(app, pilot)
        for name in ("#header", "#requests", "#step-panel", "#waiting", "#running", "#finished",
                     "#timeline", "#status", "Footer"):
            widget = app.query_one(name)
            assert widget.display and widget.region.area, name
        # The timeline keeps at least its cell row and marker row.
        assert app.query_one(Timeline).scrollable_content_region.height >= 2
        await press(pilot, "right", "right")
        assert app.session.cursor == 2 and app.session.state() == rec.seek(2)
        await press(pilot, "p")
        assert app.session.cursor == rec.event_steps("preemption")[1]
        assert await pilot.click(Timeline, offset=(1 + 4 * app.query_one(Timeline).cell_width, 1))
        await pilot.pause()
        assert app.session.cursor == 4


async def test_the_large_workload_opens_at_once():
    """The UI is live while the recording is computed in its worker. (Pilot's idle waits
    time out at 1 s while the worker thread keeps the CPU busy, so this test polls
    with short sleeps and simulates the key instead of using pilot.press.)"""
    app = open_app("large_workload")
    async with app.run_test(size=SIZE) as pilot:
        timeline = app.query_one(Timeline)
        for _ in range(100):
            await pilot.pause(0.02)
            if timeline.num_steps and timeline.region.area:
                break
        assert not app.session.recording.complete
        assert app.session is not None and app.session.cursor == 0
        first = timeline.num_steps
        assert first > 0
        app.simulate_key("right")  # the UI answers while the recording goes on
        for _ in range(50):
            await pilot.pause(0.02)
            if app.session.cursor == 1:
                break
        assert app.session.cursor == 1 and timeline.cursor == 1
        await pilot.pause(0.2)
        assert timeline.num_steps > first
        assert not app.session.recording.complete


# ----------------------------------------------------------------------------- screens


async def test_help_lists_every_binding():
    app = open_app("hello")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        bound = {binding.id for bindings in app._bindings.key_to_bindings.values()
                 for binding in bindings}
        assert {k.id for k in KEYMAP} <= bound
        await press(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        assert len(rows) == len(KEYMAP) + len(OTHER_ACTIONS)
        for spec, (group, keys, what) in zip(KEYMAP, rows):
            assert (group, what) == (spec.group, spec.help), spec.id
            assert len(keys.split()) == len(spec.keys.split(",")), spec.id
        assert rows[len(KEYMAP):] == list(OTHER_ACTIONS)
        await press(pilot, "escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_detail_opens_for_the_selected_request():
    app = open_app("kv_preemption")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(10)
        await press(pilot, "down", "down")
        assert app.selected == "c"
        await press(pilot, "d")
        assert isinstance(app.screen, RequestDetailScreen)
        assert app.screen.request_id == "c" and app.screen.step == 10
        await press(pilot, "escape")
        assert not isinstance(app.screen, RequestDetailScreen)
        await press(pilot, "up", "enter")
        assert isinstance(app.screen, RequestDetailScreen) and app.screen.request_id == "b"
