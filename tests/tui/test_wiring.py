"""Pilot tests for the app's wiring of issue 9's pieces: the KV block detail on a click,
the scenario's description (I, and its first sentence when the first run opens), the
one wait vocabulary in the status line, the selection kept on a reload, breakpoint
warnings, labels and the all-disabled case, the help's breakpoint rows, the table
opening active-first on a run of more than 50 requests, and the user's keymap file."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.widgets import Static

import tui.app
from mini_engine.scenarios.catalog import resolve_scenario
from tui.app import DebuggerApp
from tui.keymap import help_rows
from tui.screens.block import BlockScreen
from tui.screens.description import DescriptionScreen
from tui.screens.error import ErrorScreen
from tui.screens.legend import LegendScreen
from tui.view_actions import first_line
from tui.widgets.kv_map import KVMap
from tui.widgets.request_table import RequestTable


class NotedApp(DebuggerApp):
    """The debugger, keeping every notification it shows."""

    CSS_PATH = str(Path(tui.app.__file__).with_name("app.tcss"))

    def notify(self, message, *, title="", severity="information", **kw) -> None:
        self.notes = [*getattr(self, "notes", []), (message, title, severity)]
        super().notify(message, title=title, severity=severity, **kw)


async def opened(app, pilot, step: int | None = None) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    if step is not None:
        app.go(step)
        await pilot.pause()


async def test_a_click_on_a_kv_block_opens_its_detail():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot, 5)
        assert await pilot.click(KVMap, offset=(1 + 3, 1))  # +1: the border
        await pilot.pause()
        assert isinstance(app.screen, BlockScreen)
        assert (app.screen.block_id, app.screen.step) == (3, 5)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, BlockScreen)


async def test_shift_i_shows_the_description_and_i_the_legend():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        await pilot.press("I")
        await pilot.pause()
        assert isinstance(app.screen, DescriptionScreen)
        text = app.screen.text.plain
        assert text.startswith("KV-cache exhaustion and recompute preemption.")
        assert text.rstrip().endswith(app.run_settings)
        await pilot.press("escape", "i")
        await pilot.pause()
        assert isinstance(app.screen, LegendScreen)


async def test_the_first_run_opens_with_its_description_s_first_sentence():
    app = NotedApp("kv_preemption")
    app.announce_description = True  # headless apps do not announce unless asked
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        assert app.notes == [("KV-cache exhaustion and recompute preemption.",
                              "kv_preemption (I: more)", "information")]
        app.open_source("hello")  # a later run opens without a note
        await opened(app, pilot)
        assert len(app.notes) == 1 and app.run_name == "hello"


async def test_headless_runs_open_without_a_note():
    app = NotedApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        assert app.announce_description is False and getattr(app, "notes", []) == []


def test_first_line_is_the_first_sentence_cut_with_a_mark():
    assert first_line("One. Two.\nThree") == "One."
    assert first_line("\n\n  Why it waits\nmore") == "Why it waits"
    assert first_line(None) == "" and first_line("") == ""
    long = first_line("word " * 40)
    assert long.endswith("…") and len(long) <= 100 and "wor…" not in long


async def test_the_status_line_names_the_wait_reason_by_its_key():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot, 12)
        app.query_one(RequestTable).select_request("b")
        await pilot.pause()
        assert app.selected == "b"
        assert app.selected_waits == "kv_cache"  # the vocabulary's label: the stored key


async def test_a_reload_keeps_the_selected_request_and_another_scenario_does_not(tmp_path):
    path = tmp_path / "kv.yaml"
    shutil.copy(resolve_scenario("kv_preemption"), path)
    app = DebuggerApp(str(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot, 12)
        app.query_one(RequestTable).select_request("c")
        await pilot.pause()
        assert app.selected == "c"
        app.action_reload()
        await opened(app, pilot)
        assert app.session.cursor == 12
        assert app.selected == "c" and app.query_one(RequestTable).selected_request == "c"
        app.open_source("max_num_seqs")  # a different scenario: its first row
        await opened(app, pilot)
        assert app.selected == "long-1"


async def test_a_breakpoint_with_a_warning_says_so():
    app = NotedApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        app.add_breakpoint("kv_cache_usage > 90")
        await pilot.pause()
        bp = app.session.breakpoints[0]
        assert bp.warnings
        assert app.notes[-1] == ("; ".join(bp.warnings), "", "warning")
        app.add_breakpoint("preemption")  # no warning, no note
        await pilot.pause()
        assert len(app.notes) == 1


async def test_the_status_line_shows_a_condition_with_its_mode():
    app = DebuggerApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        app.add_breakpoint("while kv_cache_usage > 50%")
        step = app.session.breakpoint_steps(0)[1]  # a step where it holds (not the first)
        app.go(step)
        await pilot.pause()
        label = app.session.breakpoints[0].label
        assert label.startswith("while kv_cache_usage")
        assert app.breakpoint_hits == (label,)


async def test_continue_with_every_breakpoint_disabled_says_so():
    app = NotedApp("kv_preemption")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        app.add_breakpoint("preemption")
        app.session.set_enabled(0, False)
        await pilot.press("c")
        await pilot.pause()
        assert app.session.cursor == 0
        assert app.notes[-1][0] == "all breakpoints are disabled: press b to switch one on"
        app.session.set_enabled(0, True)
        await pilot.press("c")
        await pilot.pause()
        assert app.session.cursor == app.session.recording.event_steps("preemption")[0]


def test_help_lists_the_breakpoint_syntax_and_the_dialog_keys():
    rows = {keys: what for group, keys, what in help_rows() if group == "Break list"}
    assert "90% = 0.9" in rows["b, then type"]
    assert "while" in rows["when / while"] and "when" in rows["when / while"]
    assert set(rows) >= {"e space", "w", "delete", "tab"}
    assert ("View", "I", "About this scenario (its description: what to look at)") in help_rows()


def many_requests(tmp_path, count: int = 60) -> Path:
    """A scenario of `count` short requests, four running at a time."""
    lines = ["name: many", "description: Many short requests, four seats.",
             "engine:", "  max_num_seqs: 4", "requests:"]
    for i in range(count):
        lines += [f"  - id: r{i:02d}", '    prompt: "hi"', "    max_tokens: 3",
                  "    ignore_eos: true"]
    path = tmp_path / "many.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_run_of_more_than_50_requests_opens_active_first(tmp_path):
    app = DebuggerApp(str(many_requests(tmp_path)))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot, 11)  # r12-r15 run, r16... wait, r00-r11 are done
        table = app.query_one(RequestTable)
        state = app.session.state()
        assert table.active_first
        running, waiting = list(state.running), list(state.waiting)
        assert running and waiting and state.request_ids[0] not in running  # r00 is done
        shown = [state.request_ids[i] for i in table.order]
        assert shown[:len(running)] == sorted(running, key=state.request_ids.index)
        assert shown[len(running):len(running) + len(waiting)] == sorted(
            waiting, key=state.request_ids.index)
        # The selection stays on the request (r00, selected at step 0), not on the row the
        # reordering moved another request into.
        assert app.selected == table.selected_request == "r00"
        assert shown[table.selected_row] == "r00"


async def test_a_run_of_50_requests_opens_in_scenario_order(tmp_path):
    app = DebuggerApp(str(many_requests(tmp_path, 50)))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot, 12)
        table = app.query_one(RequestTable)
        assert not table.active_first and list(table.order) == list(range(50))


async def test_the_keymap_file_remaps_keys_and_the_help_shows_them(tmp_path):
    (tmp_path / "keymap.toml").write_text('next-preemption = "ctrl+n"\n')
    app = DebuggerApp("kv_preemption")
    app.keymap_file = str(tmp_path / "keymap.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        assert app.key_overrides == {"next-preemption": "ctrl+n"}
        await pilot.press("p")  # no longer bound
        await pilot.pause()
        assert app.session.cursor == 0
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.session.cursor == app.session.recording.event_steps("preemption")[0]
        await pilot.press("question_mark")
        await pilot.pause()
        assert ("Events", "ctrl+n", "Next preemption") in app.screen.rows


async def test_a_bad_keymap_file_is_a_dialog_and_the_default_keys_stay(tmp_path):
    (tmp_path / "keymap.toml").write_text('# mine\nstep-forwrd = "j"\n')
    app = DebuggerApp("kv_preemption")
    app.keymap_file = str(tmp_path / "keymap.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        assert isinstance(app.screen, ErrorScreen)
        text = " ".join(str(w.render()) for w in app.screen.query(Static))
        assert "keymap.toml:2" in text and "step-forwrd" in text and "step-forward" in text
        await pilot.press("escape")
        await pilot.pause()
        assert app.key_overrides == {}
        await pilot.press("p")
        await pilot.pause()
        assert app.session.cursor == app.session.recording.event_steps("preemption")[0]


async def test_no_keymap_file_changes_nothing(tmp_path):
    app = DebuggerApp("hello")
    app.keymap_file = str(tmp_path / "absent" / "keymap.toml")
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(app, pilot)
        assert app.key_overrides == {} and not isinstance(app.screen, ErrorScreen)
