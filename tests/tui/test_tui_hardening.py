"""The debugger against hostile input (issue 8, classes 11, 12 and 7 for the TUI).

Whatever file is opened from the open dialog or the palette, whatever breakpoint is
typed, the app shows an error dialog and keeps the session it had; user data never
reaches the terminal raw; exports never write outside what the user typed, never
half a file, never over a file without asking; and a crash (a bug) exits non-zero.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Input, Static

from mini_engine.errors import MiniEngineError
from mini_engine.recording.jsonl import load_jsonl, save_jsonl
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.sources import open_source
from pinned_app import pinned_app
from tui.app import DebuggerApp
from tui.screens.breakpoints import BreakpointsScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.error import ErrorScreen
from tui.screens.prompt import PromptScreen
from tui.text import shown

SIZE = (120, 36)
BASE = "kv_preemption"  # the session every hostile open must leave in place
HERE = Path(__file__).parent
HELLO = resolve_scenario("hello").read_text()
EVIL_NAME = "\x1b]0;PWNED\x07[/x] [bold]evil\u202e"
EVIL_IDS = ("r[/]\x1b[31m", "[b]x\u202e")


def make_app(source=BASE) -> DebuggerApp:
    return pinned_app(source)


async def ready(app, pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()


async def open_via_dialog(app, pilot, path: str) -> None:
    """What the palette's "Open file…" does: the open dialog, a path, enter."""
    app.action_open_file()
    await pilot.pause()
    assert isinstance(app.screen, PromptScreen)
    app.screen.query_one(Input).value = path
    await pilot.press("enter")
    await ready(app, pilot)


def error_message(app) -> str:
    assert isinstance(app.screen, ErrorScreen), type(app.screen).__name__
    return str(app.screen.query_one("#error-message", Static).content)


def assert_one_printable_line(text: str) -> None:
    assert text and text.isprintable() and len(text) <= 1000, repr(text[:300])


def scenario_text(name: str = "hello", ids: tuple[str, ...] = ("req-0",), **extra) -> str:
    lines = [f"name: {json.dumps(name)}", "description: d", "requests:"]
    for rid in ids:
        lines += [f"  - id: {json.dumps(rid)}", "    prompt: hello", "    max_tokens: 4",
                  "    ignore_eos: true"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- hostile files

def hostile_files(tmp: Path) -> dict[str, str]:
    """Files no loader may crash on (each read in well under a second by any loader)."""
    files = {
        "deep_yaml_lists.yaml": "name: x\ndescription: d\nrequests: " + "[" * 1000 + "]" * 1000,
        "deep_yaml_maps.yaml": "name: x\ndescription: d\nengine: " + "{a: " * 600 + "1"
                               + "}" * 600,
        "aliases.yaml": "a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                        "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
        "huge_int.yaml": HELLO.replace("max_tokens: 4", "max_tokens: " + "9" * 30),
        "tags.yaml": "name: !!int foo\ndescription: !!bool maybe\n",
        "binary.yaml": "\x00\x01\x02garbage\xff",
        "deep.jsonl": "[" * 100_000 + "]" * 100_000 + "\n",
        "final_list.jsonl": '{"final": [1, 2]}\n',
        "not_json.jsonl": '{"not": "a recording"}\nnot json at all\n',
        "empty.yaml": "",
        "empty.jsonl": "",
    }
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8", errors="surrogateescape")
    (tmp / "bytes.yaml").write_bytes(b"name: \xff\xfe\n")
    (tmp / "a_directory.yaml").mkdir()
    return {name: str(tmp / name) for name in [*files, "bytes.yaml", "a_directory.yaml"]} | {
        "missing": str(tmp / "missing.yaml"),
        "too_long_name": str(tmp / ("x" * 5000 + ".yaml")),
        "nul_in_name": str(tmp / "a\x00b.yaml"),
    }


async def test_each_hostile_file_is_a_dialog_and_the_session_stays(tmp_path):
    paths = hostile_files(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        session, recording = app.session, app.session.recording
        for label, path in paths.items():
            app.go(7)
            await open_via_dialog(app, pilot, path)
            message = error_message(app)
            assert_one_printable_line(message)
            assert app.session is session and app.session.recording is recording, label
            assert app.session.cursor == 7 and app.source_path == BASE
            assert app.activity is None  # the header no longer says "opening"
            await pilot.press("escape")
            await pilot.press("right")  # alive and answering keys
            await pilot.pause()
            assert not isinstance(app.screen, ErrorScreen) and app.session.cursor == 8, label


async def test_an_empty_path_from_the_api_is_a_dialog():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        session = app.session
        await app.open_source("").wait()
        await pilot.pause()
        assert_one_printable_line(error_message(app))
        assert app.session is session


@pytest.mark.parametrize("name", ["-x.yaml", "with space.yaml", "名前.yml", "new\nline.yaml",
                                  os.fsdecode(b"bad\xff.yaml")])
async def test_odd_file_names_open(tmp_path, name):
    path = tmp_path / name
    path.write_text(HELLO)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await open_via_dialog(app, pilot, str(path))
        assert not isinstance(app.screen, ErrorScreen)
        assert app.session.scenario_name == "hello" and app.session.complete
        assert app.source_path == str(path)
        # The open dialog offers the path again only if it can be drawn as it is.
        app.action_open_file()
        await pilot.pause()
        offered = app.screen.query_one(Input).value
        assert offered == (str(path) if shown(str(path)) == str(path) else "")


SPECIAL_FILES_SCRIPT = HERE / "open_hostile.py"


def special_files(tmp: Path) -> list[str]:
    """Files that hang or exhaust memory unless the loaders refuse them."""
    paths = []
    for suffix in (".yaml", ".jsonl"):
        fifo = tmp / f"fifo{suffix}"
        os.mkfifo(fifo)
        paths.append(str(fifo))
        for device in ("/dev/zero", "/dev/urandom"):
            link = tmp / f"{Path(device).name}{suffix}"
            link.symlink_to(device)
            paths.append(str(link))
    big = tmp / "big.yaml"  # just over the 16 MiB limit for a scenario
    with open(big, "w") as f:
        f.write(HELLO.replace("prompt: hello", "prompt: " + "x" * (16 * 2**20)))
    paths.append(str(big))
    lines = io.StringIO()  # a real recording whose header asks for 10**12 KV blocks
    save_jsonl(open_source("hello").recording(), lines)
    header, *rest = lines.getvalue().splitlines(keepends=True)
    header = json.loads(header)
    header["engine"]["num_gpu_blocks"] = 10**12
    (tmp / "blocks.jsonl").write_text(json.dumps(header) + "\n" + "".join(rest))
    paths.append(str(tmp / "blocks.jsonl"))
    return paths


def test_special_files_never_hang_or_eat_memory(tmp_path):
    """In a subprocess limited to 1 GiB of address space and a timeout: a FIFO with no
    writer, links to /dev/zero and /dev/urandom, a file over the size limit."""
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    paths = special_files(tmp_path)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent))
    try:
        done = subprocess.run([sys.executable, str(SPECIAL_FILES_SCRIPT), *paths],
                              capture_output=True, text=True, timeout=600, env=env,
                              preexec_fn=limit_memory, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"timed out; output so far: {e.stdout!r} {e.stderr!r}"[-3000:])
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert not any(r["hang"] for r in results), results[-1]
    assert [r["path"] for r in results] == paths, done.stderr[-3000:]
    assert done.returncode == 0, done.stderr[-3000:]
    for r in results:
        assert not r["hang"] and r["dialog"] and r["same_session"], r
        assert r["cursor"] == 7 and r["responsive"], r
        assert_one_printable_line(r["message"])
        assert shown(Path(r["path"]).name) in r["message"], r


# ----------------------------------------------------------------------------- loading

async def test_a_slow_load_keeps_the_ui_live_and_a_newer_open_wins(tmp_path, monkeypatch):
    """The load runs in a thread: keys work meanwhile and the header says what is opening.
    Of two opens in flight the later one is shown (the earlier result is dropped)."""
    import tui.app

    gate = threading.Event()
    real_load = tui.app._load

    def slow_load(source):
        if "slow" in str(source):
            gate.wait(timeout=120)
        return real_load(source)

    monkeypatch.setattr(tui.app, "_load", slow_load)
    slow = tmp_path / "slow.yaml"
    slow.write_text(HELLO.replace("name: hello", "name: slow"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        session = app.session
        worker = app.open_source(str(slow))
        await pilot.pause()
        assert app.activity == f"opening {slow}"
        header = app.query_one("#header").render().plain
        assert f"(opening {slow}…)" in header
        await pilot.press("right", "right")
        assert app.session is session and app.session.cursor == 2
        app.open_source("hello")  # a newer open, finishing first
        await pilot.pause()
        for w in list(app.workers):
            if w is not worker:
                await w.wait()
        await pilot.pause()
        assert app.session.scenario_name == "hello" and app.activity is None
        gate.set()
        await worker.wait()
        await pilot.pause()
        assert app.session.scenario_name == "hello"  # the older open was dropped


async def test_a_run_that_fails_later_keeps_its_recorded_steps(monkeypatch, tmp_path):
    """An exception while recording (after the first batch) is a dialog; the steps
    recorded so far stay browsable and the header says the recording stopped."""
    from mini_engine.debug.session import DebugSession

    calls = []
    real = DebugSession.record_more

    def failing(self, num_steps):
        calls.append(num_steps)
        if len(calls) == 3:
            raise RuntimeError("the model fell over")
        return real(self, num_steps)

    monkeypatch.setattr(DebugSession, "record_more", failing)
    monkeypatch.setattr("tui.app.RECORD_BATCH", 100)
    app = make_app("large_workload")
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.session.scenario_name == "large_workload"
        assert app.session.last_step == 200 and not app.session.complete
        assert error_message(app) == "large_workload: RuntimeError: the model fell over"
        assert "after step 200" in str(app.screen.query_one("#error-title", Static).content)
        await pilot.press("escape", "end")
        await pilot.pause()
        assert app.session.cursor == 200
        assert "(recording stopped at 200)" in app.query_one("#header").render().plain
        # What was recorded can still be exported (the file says it is incomplete).
        await export_to(app, pilot, str(tmp_path / "part.jsonl"))
        assert not isinstance(app.screen, ErrorScreen)
        part = load_jsonl(tmp_path / "part.jsonl")
        assert part.num_steps == 200 and not part.complete


async def test_a_run_refused_in_its_first_batch_keeps_the_old_session(monkeypatch):
    from mini_engine.debug.session import DebugSession

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        session = app.session

        def refuse(self, num_steps):
            raise MiniEngineError("the engine refuses this run")

        monkeypatch.setattr(DebugSession, "record_more", refuse)
        await app.open_source("hello").wait()
        await pilot.pause()
        assert error_message(app) == "the engine refuses this run"
        assert app.session is session


# ----------------------------------------------------------------------------- breakpoints

BAD_CONDITIONS = ["(" * 250 + "step > 1" + ")" * 250, "step > " + "9" * 5000,
                  "step > " + "9" * 31, "(" * 33 + "step > 1" + ")" * 33,
                  " or ".join(["step > 1"] * 40_000), "step == '[/]'[b]",
                  "\x1b]0;PWNED\x07 == 1", "finish " + "x" * 600]


async def test_bad_breakpoints_typed_in_the_dialog_show_an_error_and_the_app_lives():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, BreakpointsScreen)
        field = screen.query_one(Input)
        for text in BAD_CONDITIONS:
            field.value = text
            await pilot.press("enter")
            shown_error = str(screen.query_one("#bp-error", Static).content)
            assert_one_printable_line(shown_error)
            assert app.session.breakpoints == [], text
        field.value = "step == '[/x]'"  # markup-like text in a good breakpoint
        await pilot.press("enter")
        assert [bp.text for bp in app.session.breakpoints] == ["step == '[/x]'"]
        assert str(screen.query_one(DataTable).get_cell_at(Coordinate(0, 2))) == \
            "step == '[/x]'"
        await pilot.press("escape", "right")
        await pilot.pause()
        assert app.session.cursor == 1


async def test_bad_breakpoints_from_the_palette_show_a_dialog():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        for text in BAD_CONDITIONS:
            app.add_breakpoint(text)
            await pilot.pause()
            assert_one_printable_line(error_message(app))
            await pilot.press("escape")
        await pilot.press("right")
        await pilot.pause()
        assert app.session.cursor == 1 and app.session.breakpoints == []


async def test_a_5000_digit_step_in_go_to_is_ignored():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        app.go(3)
        await pilot.press("colon")
        app.screen.query_one(Input).value = "9" * 5000
        await pilot.pause()
        assert app.session.cursor == 3  # the preview stays at the origin
        await pilot.press("enter")
        await pilot.pause()
        assert app.session.cursor == 3 and app.screen is app.screen_stack[0]


def test_every_status_the_engine_names_has_a_look():
    """A status added to the engine (FINISHED_LENGTH_CAPPED) must not reach the table or
    the queues as a KeyError."""
    from mini_engine.debug.session import STATUS_NAMES
    from tui.widgets.queues import FINISH_LABELS
    from tui.widgets.request_table import SHORT_STATUS, STATUS_COMPONENTS

    assert set(STATUS_NAMES) == set(SHORT_STATUS) == set(STATUS_COMPONENTS)
    assert {s for s in STATUS_NAMES if s.startswith("FINISHED")} == set(FINISH_LABELS)


# ----------------------------------------------------------------------------- user data drawn

async def test_names_and_ids_never_reach_the_terminal_raw(tmp_path):
    """Escape sequences, bidi overrides and markup in a scenario's name and request ids:
    everything on screen (panels, dialogs, the detail view, breakpoints) is printable,
    and nothing is parsed as markup (which would raise MarkupError)."""
    path = tmp_path / "evil.yaml"
    path.write_text(scenario_text(EVIL_NAME, EVIL_IDS))
    app = make_app(str(path))
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        assert app.session.scenario_name == EVIL_NAME  # the data itself is kept as it is
        screens = []
        for keys in ([], ["right", "right"], ["down"], ["enter"], ["escape", "b"]):
            await pilot.press(*keys)
            await pilot.pause()
            if keys == ["escape", "b"]:
                app.screen.query_one(Input).value = f"finish {EVIL_IDS[0]}"
                await pilot.press("enter")
                app.screen.query_one(Input).value = f"status {EVIL_IDS[1]}"
                await pilot.press("enter")
                await pilot.pause()
                assert len(app.session.breakpoints) == 2
            screens.append(app.export_screenshot())
        await pilot.press("escape")
        app.notify("x")  # the app still runs
        for svg in screens:
            for raw in ("\x1b", "\x07", "\u202e"):
                assert raw not in svg
        assert "\\x1b]0;PWNED\\x07[/x] [bold]evil\\u202e" in screens[0].replace("&#160;", " ")
        for text in (app.title, app.sub_title):
            assert text.isprintable()


async def test_the_export_prompt_offers_a_safe_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for name, offered in (("../../../x", "x.jsonl"), (EVIL_NAME, "0_PWNED_x_bold_evil.jsonl"),
                          ("-rf", "rf.jsonl"), ("...", "recording.jsonl"),
                          ("a/b\\c d", "a_b_c_d.jsonl")):
        (tmp_path / "s.yaml").write_text(scenario_text(name))
        app = make_app(str(tmp_path / "s.yaml"))
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            app.action_export_jsonl()
            await pilot.pause()
            assert app.screen.query_one(Input).value == offered, name
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, (ErrorScreen, ConfirmScreen))
        assert sorted(os.listdir(tmp_path / "work")) == [offered]
        assert load_jsonl(tmp_path / "work" / offered).scenario.name == name
        os.unlink(tmp_path / "work" / offered)
    assert sorted(os.listdir(tmp_path)) == ["s.yaml", "work"]  # nothing written outside


# ----------------------------------------------------------------------------- exports

async def export_to(app, pilot, path: str, kind: str = "jsonl") -> None:
    (app.action_export_jsonl if kind == "jsonl" else app.action_export_perfetto)()
    await pilot.pause()
    app.screen.query_one(Input).value = path
    await pilot.press("enter")
    await pilot.pause()


async def test_export_asks_before_overwriting(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("keep me\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await export_to(app, pilot, str(target))
        assert isinstance(app.screen, ConfirmScreen)
        assert str(app.screen.query_one("#confirm-question", Static).content) == \
            f"{target} already exists. Overwrite it?"
        await pilot.press("n")
        assert target.read_text() == "keep me\n"
        await export_to(app, pilot, str(target))
        await pilot.press("enter")  # the focused button is Cancel
        assert target.read_text() == "keep me\n"
        await export_to(app, pilot, str(target))
        await pilot.press("escape")
        assert target.read_text() == "keep me\n" and not isinstance(app.screen, ConfirmScreen)
        await export_to(app, pilot, str(target))
        await pilot.press("y")
        await pilot.pause()
        assert load_jsonl(target).num_steps == app.session.recording.num_steps
        assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and links")
async def test_export_refusals_are_one_line_dialogs(tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")
    (tmp_path / "link.jsonl").symlink_to(victim)
    os.mkfifo(tmp_path / "fifo.jsonl")
    (tmp_path / "dir.jsonl").mkdir()
    cases = {str(tmp_path / "missing" / "x.jsonl"): "does not exist",
             str(read_only / "x.jsonl"): "not writable",
             str(tmp_path / "link.jsonl"): "symbolic link",
             str(tmp_path / "fifo.jsonl"): "not a regular file",
             str(tmp_path / "dir.jsonl"): "is a directory",
             str(tmp_path / "sub") + "/": "names a directory"}
    app = make_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(app, pilot)
            for path, reason in cases.items():
                for kind in ("jsonl", "perfetto"):
                    await export_to(app, pilot, path, kind)
                    message = error_message(app)
                    assert_one_printable_line(message)
                    assert reason in message, (path, message)
                    await pilot.press("escape")
    finally:
        read_only.chmod(0o755)
    assert victim.read_text() == "untouched\n"
    assert os.listdir(read_only) == [] and not (tmp_path / "missing").exists()
    assert sorted(os.listdir(tmp_path)) == ["dir.jsonl", "fifo.jsonl", "link.jsonl", "ro",
                                            "victim.txt"]


async def test_the_header_says_what_is_being_written(tmp_path, monkeypatch):
    target = tmp_path / "x.jsonl"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        seen = []
        real_export = app.session.export

        def spy(kind, path, force=False):
            seen.append(app.query_one("#header").render().plain)
            real_export(kind, path, force=force)

        monkeypatch.setattr(app.session, "export", spy)
        await export_to(app, pilot, str(target))
        assert len(seen) == 1 and f"(writing {target}…)" in seen[0]
        assert app.activity is None and "writing" not in app.query_one("#header").render().plain
        assert load_jsonl(target).num_steps == app.session.recording.num_steps


async def test_a_failing_export_leaves_nothing_behind(tmp_path, monkeypatch):
    import mini_engine.recording.jsonl as jsonl

    def half_then_fail(recording, f):
        f.write('{"half": ')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl, "save_jsonl", half_then_fail)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(app, pilot)
        await export_to(app, pilot, str(tmp_path / "out.jsonl"))
        message = error_message(app)
        assert message == f"{tmp_path / 'out.jsonl'}: cannot write: No space left on device"
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- crashes exit non-zero

@pytest.fixture
def crashing_app(monkeypatch) -> list[str]:
    """DebuggerApp.run runs headless; pressing `?` raises inside the app (a bug). Returns
    the keys each run presses (`?` to crash, `q` to quit normally)."""
    import tui.app

    keys: list[str] = []
    real_run = tui.app.DebuggerApp.run

    def boom(self):
        raise RuntimeError("injected failure")

    async def drive(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(keys.pop(0))

    monkeypatch.setattr(tui.app.DebuggerApp, "action_help", boom)
    monkeypatch.setattr(tui.app.DebuggerApp, "run",
                        lambda app: real_run(app, headless=True, size=SIZE, auto_pilot=drive))
    return keys


def test_a_crash_exits_non_zero_through_python_m_tui(crashing_app, capsys):
    from tui.__main__ import main

    crashing_app.append("q")
    assert main(["hello"]) == 0
    crashing_app.append("question_mark")
    with pytest.raises(SystemExit) as exit_:
        main(["hello"])
    assert exit_.value.code == 1
    assert "injected failure" in capsys.readouterr().err  # Textual's traceback


def test_a_crash_exits_non_zero_through_mini_engine_tui(crashing_app, capsys):
    from mini_engine.cli import main

    crashing_app.append("q")
    assert main(["tui", "hello"]) == 0
    crashing_app.append("question_mark")
    assert main(["tui", "hello"]) == 1
    assert "injected failure" in capsys.readouterr().err


def test_a_crash_exits_non_zero_as_a_process():
    """`python -m tui` in a subprocess (headless, a failure injected): exit status 1."""
    code = textwrap.dedent("""
        import runpy, sys
        import tui.app
        real_run = tui.app.DebuggerApp.run

        def boom(self):
            raise RuntimeError("injected failure")

        async def drive(pilot):
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.press("question_mark")

        tui.app.DebuggerApp.action_help = boom
        tui.app.DebuggerApp.run = lambda app: real_run(app, headless=True, auto_pilot=drive)
        sys.argv = ["tui", "hello"]
        runpy.run_module("tui", run_name="__main__")
    """)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent.parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "RuntimeError" in done.stderr and "injected failure" in done.stderr
