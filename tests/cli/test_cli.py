"""The `mini-engine` command line: main(argv) in-process (capsys), plus the installed
console script through a real subprocess. Outputs are pinned exactly for `hello`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import HELLO_LOG

from mini_engine import __version__
from mini_engine.cli import main
from mini_engine.recording.jsonl import load_jsonl
from mini_engine.recording.recorder import record
from mini_engine.scenarios.catalog import resolve_scenario
from mini_engine.scenarios.loader import load_scenario

HELLO_TABLE = [
    "step  scheduled  budget  running  waiting (why)  finished      KV           notes",
    "   1  req-0:+5p  5/2048  req-0    -              -             0.0% 1/4095",
    "   2  req-0:+1   1/2048  req-0    -              -             0.0% 1/4095",
    "   3  req-0:+1   1/2048  req-0    -              -             0.0% 1/4095",
    "   4  req-0:+1   1/2048  -        -              req-0:length  0.0% 0/4095",
]


HELLO_TRACE = [
    "Event(request_id='req-0', status='RUNNING', num_computed_tokens=5, num_tokens=6)",
    "Event(request_id='req-0', status='RUNNING', num_computed_tokens=6, num_tokens=7)",
    "Event(request_id='req-0', status='RUNNING', num_computed_tokens=7, num_tokens=8)",
    "Event(request_id='req-0', status='FINISHED_LENGTH', num_computed_tokens=8, num_tokens=9)",
]

GOOD = """\
name: tiny
description: two short requests
requests:
  - {id: a, prompt: "abcd", max_tokens: 3, ignore_eos: true}
  - {id: b, prompt: "efgh", max_tokens: 2, ignore_eos: true}
expect:
  statuses: {a: FINISHED_LENGTH, b: FINISHED_LENGTH}
  total_steps: 3
  num_preemptions: 0
"""

WRONG_EXPECT = """\
name: wrong
description: an expect block that does not match the run
requests:
  - {id: a, prompt: "abcd", max_tokens: 3, ignore_eos: true}
expect:
  statuses: {a: FINISHED_ABORTED}
  total_steps: 7
  num_preemptions: 1
"""

NO_EXPECT = """\
name: loose
description: no expect block
requests:
  - {id: a, prompt: "abcd", max_tokens: 1}
"""

BAD = """\
name: bad
description: a wrong type
requests:
  - id: a
    prompt: "abcd"
    max_tokens: "5"
"""


def run(capsys, *argv: str) -> tuple[int, list[str], list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def assert_one_line_error(err: list[str]) -> None:
    assert len(err) == 1, err
    assert "Traceback" not in err[0]


# ----------------------------------------------------------------------------- basics

def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out == [f"mini-engine {__version__}"]


@pytest.mark.parametrize("argv", [[], ["run"], ["validate"], ["export"], ["trace"], ["schema"],
                                  ["check"], ["tui"], ["list"]])
def test_help_everywhere(capsys, argv):
    code, out, err = run(capsys, *argv, "--help")
    assert code == 0
    assert out[0].startswith("usage: mini-engine")
    assert err == []


@pytest.mark.parametrize("argv", [[], ["run"], ["nope"], ["run", "hello", "--format", "xml"],
                                  ["run", "hello", "--until", "x"], ["export", "hello"],
                                  ["export", "hello", "--jsonl", "a", "--perfetto", "./a"],
                                  ["run", "hello", "--stats-interval", "0"]])
def test_usage_errors_are_one_line_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == []
    assert_one_line_error(err)
    assert err[0].startswith("mini-engine")


# ----------------------------------------------------------------------------- run

def test_run_table_hello(capsys):
    code, out, err = run(capsys, "run", "hello")
    assert (code, out, err) == (0, HELLO_TABLE, [])


def test_run_table_is_the_default_and_takes_a_path(capsys):
    path = str(resolve_scenario("hello"))
    code, out, _ = run(capsys, "run", path, "--format", "table")
    assert code == 0 and out == HELLO_TABLE


def test_run_log_hello(capsys):
    code, out, err = run(capsys, "run", "hello", "--format", "log")
    assert (code, out, err) == (0, HELLO_LOG, [])


def test_run_log_stats_interval(capsys):
    code, out, _ = run(capsys, "run", "hello", "--format", "log", "--stats-interval", "2")
    assert code == 0
    assert [line[:12] for line in out] == ["Iteration(1)", "Iteration(2)", "Engine 000: ",
                                           "Iteration(3)", "Iteration(4)", "Engine 000: "]


def test_run_until(capsys):
    code, out, _ = run(capsys, "run", "kv_preemption", "--until", "2")
    assert code == 0
    assert len(out) == 3
    assert out[2].split()[-4:] == ["c(preempted)", "-", "75.0%", "6/8"]
    code, out, _ = run(capsys, "run", "kv_preemption", "--until", "0")
    assert code == 0 and len(out) == 1  # the header only


def test_run_jsonl_loads_back_equal(capsys, tmp_path):
    code, out, _ = run(capsys, "run", "kv_preemption", "--format", "jsonl")
    assert code == 0
    assert json.loads(out[0])["format"] == "mini-engine-recording"
    path = tmp_path / "kv.jsonl"
    path.write_text("\n".join(out) + "\n")
    assert load_jsonl(path) == record(load_scenario(resolve_scenario("kv_preemption")))


def test_run_replays_a_recording(capsys, tmp_path):
    out_path = str(tmp_path / "hello.jsonl")
    assert run(capsys, "export", "hello", "--jsonl", out_path)[0] == 0
    code, out, _ = run(capsys, "run", out_path)
    assert code == 0 and out == HELLO_TABLE
    code, out, _ = run(capsys, "run", out_path, "--format", "log")
    assert code == 0 and out == HELLO_LOG


def test_run_missing_scenario(capsys):
    code, out, err = run(capsys, "run", "no_such_scenario")
    assert code == 2 and out == []
    assert_one_line_error(err)
    assert err[0].startswith("no_such_scenario: no such file or bundled scenario (bundled: ")


def test_run_bad_scenario_and_bad_recording(capsys, tmp_path):
    code, _, err = run(capsys, "run", write(tmp_path, "bad.yaml", BAD))
    assert code == 2
    assert err == [f"{tmp_path / 'bad.yaml'}:6: requests[0].max_tokens: expected an integer, "
                   f"got '5' (a string)"]
    code, _, err = run(capsys, "run", write(tmp_path, "bad.jsonl", "{not json\n"))
    assert code == 2
    assert_one_line_error(err)
    assert err[0].startswith(f"{tmp_path / 'bad.jsonl'}:1: ")


# ----------------------------------------------------------------------------- validate

def test_validate_good_files(capsys, tmp_path):
    code, out, err = run(capsys, "validate", write(tmp_path, "good.yaml", GOOD),
                         str(resolve_scenario("hello")))
    assert (code, out, err) == (0, ["ok tiny (2 requests)", "ok hello (1 request)"], [])


def test_validate_bad_files(capsys, tmp_path):
    good = write(tmp_path, "good.yaml", GOOD)
    bad = write(tmp_path, "bad.yaml", BAD)
    empty = write(tmp_path, "empty.yaml", "")
    code, out, err = run(capsys, "validate", good, bad, empty, str(tmp_path),
                         str(tmp_path / "missing.yaml"))
    assert code == 1
    assert out == ["ok tiny (2 requests)"]
    assert len(err) == 4 and not any("Traceback" in line for line in err)
    assert err[0] == f"{bad}:6: requests[0].max_tokens: expected an integer, got '5' (a string)"
    assert err[1].startswith(f"{empty}: the file is empty")
    assert err[2] == (f"{tmp_path}: is a directory, not a regular file; a scenario must be a "
                      "regular file")
    assert err[3].startswith(f"{tmp_path / 'missing.yaml'}: no such file")


def test_validate_every_bundled_scenario(capsys):
    from mini_engine.scenarios.catalog import bundled_scenarios
    paths = [str(p) for p in bundled_scenarios()]
    code, out, err = run(capsys, "validate", *paths)
    assert code == 0 and err == [] and len(out) == len(paths)


# ----------------------------------------------------------------------------- check

def test_check_pass(capsys, tmp_path):
    code, out, err = run(capsys, "check", "hello", write(tmp_path, "good.yaml", GOOD))
    assert code == 0 and err == []
    assert out == ["PASS hello", "PASS tiny", "2 passed, 0 failed"]


def test_check_fail(capsys, tmp_path):
    code, out, err = run(capsys, "check", write(tmp_path, "wrong.yaml", WRONG_EXPECT))
    assert code == 1 and err == []
    assert out == ["FAIL wrong: statuses.a: expected FINISHED_ABORTED, got FINISHED_LENGTH; "
                   "total_steps: expected 7, got 3; num_preemptions: expected 1, got 0"]


def test_check_mixed_and_errors(capsys, tmp_path):
    code, out, err = run(capsys, "check", "hello", write(tmp_path, "wrong.yaml", WRONG_EXPECT),
                         write(tmp_path, "bad.yaml", BAD))
    assert code == 1
    assert out[0] == "PASS hello" and out[1].startswith("FAIL wrong: ")
    assert out[2] == "1 passed, 1 failed, 1 error"
    assert_one_line_error(err)


def test_check_without_expect_fails_unless_allowed(capsys, tmp_path):
    loose = write(tmp_path, "loose.yaml", NO_EXPECT)
    code, out, _ = run(capsys, "check", loose)
    assert code == 1
    assert out == ["FAIL loose: no expect block, nothing to check (add one, or pass "
                   "--allow-missing)"]
    code, out, _ = run(capsys, "check", "--allow-missing", loose, "hello")
    assert code == 0
    assert out == ["SKIP loose: no expect block", "PASS hello", "1 passed, 0 failed, 1 skipped"]


def test_check_bundled_preemption_scenarios(capsys):
    code, out, _ = run(capsys, "check", "kv_preemption", "preemption_thrash", "abort")
    assert code == 0 and out[-1] == "3 passed, 0 failed"


def test_check_a_recording(capsys, tmp_path):
    path = str(tmp_path / "kv.jsonl")
    run(capsys, "export", "kv_preemption", "--jsonl", path)
    code, out, _ = run(capsys, "check", path)
    assert code == 0 and out == ["PASS kv_preemption"]


# ----------------------------------------------------------------------------- trace

def test_trace_is_the_lab(capsys):
    code, out, err = run(capsys, "trace", "hello", "--max-tokens", "4")
    assert (code, out, err) == (0, HELLO_TRACE, [])


def test_trace_with_settings(capsys):
    from mini_engine import trace_request
    code, out, _ = run(capsys, "trace", "hello world", "--max-tokens", "2",
                       "--set", "max_num_batched_tokens=4", "--set", "max_num_seqs=2",
                       "--set", "enable_prefix_caching=false")
    assert code == 0
    expected = trace_request("hello world", max_tokens=2, max_num_batched_tokens=4,
                             max_num_seqs=2, enable_prefix_caching=False)
    assert out == [str(e) for e in expected]
    assert out[0] == ("Event(request_id='req-0', status='RUNNING', num_computed_tokens=4, "
                      "num_tokens=11)")


@pytest.mark.parametrize("setting, message", [
    ("max_num_seqs=x", "mini-engine: error: --set max_num_seqs=x: max_num_seqs must be an "
                       "integer, got 'x'"),
    ("max_num_seqs=true", "mini-engine: error: --set max_num_seqs=true: max_num_seqs must be "
                          "an integer, got True"),
    ("enable_chunked_prefill=2", "mini-engine: error: --set enable_chunked_prefill=2: "
                                 "enable_chunked_prefill must be true or false, got 2"),
    ("max_num_seq=2", "mini-engine: error: --set max_num_seq=2: unknown engine setting "
                      "'max_num_seq'; did you mean 'max_num_seqs'?"),
    ("max_num_seqs", "mini-engine: error: --set 'max_num_seqs': expected key=value"),
    ("max_num_seqs=[1, 2]", "mini-engine: error: --set max_num_seqs=[1, 2]: expected a single "
                            "value, not a YAML list"),
    ("max_num_seqs=4096", "mini-engine: error: --set: max_num_batched_tokens: (2048) must be "
                          ">= max_num_seqs (4096)"),
    ("policy=lifo", "mini-engine: error: --set: policy: must be 'fcfs' or 'priority', "
                    "got 'lifo'"),
])
def test_trace_set_errors(capsys, setting, message):
    code, out, err = run(capsys, "trace", "hello", "--set", setting)
    assert code == 2 and out == []
    assert err == [message]


def test_trace_bad_values(capsys):
    code, _, err = run(capsys, "trace", "hello", "--max-tokens", "0")
    assert code == 2 and err == ["mini-engine: error: --max-tokens must be >= 1, got 0"]
    code, _, err = run(capsys, "trace", "")
    assert code == 2
    assert_one_line_error(err)


# ----------------------------------------------------------------------------- schema / export

def test_schema_is_json(capsys):
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads("\n".join(out))
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"name", "description", "requests"} <= set(schema["properties"])


def test_schema_recording(capsys):
    jsonl = pytest.importorskip("mini_engine.recording.jsonl")
    if not hasattr(jsonl, "recording_json_schema"):
        pytest.skip("recording_json_schema() is not in mini_engine.recording.jsonl yet")
    code, out, err = run(capsys, "schema", "--recording")
    assert (code, err) == (0, [])
    assert json.loads("\n".join(out)) == jsonl.recording_json_schema()


def test_export_perfetto(capsys, tmp_path):
    path = tmp_path / "kv.json"
    code, out, _ = run(capsys, "export", "kv_preemption", "--perfetto", str(path))
    assert code == 0 and out[0].startswith(f"wrote {path} (Chrome trace, 23 steps, ")
    doc = json.loads(path.read_text())
    names = {e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}
    assert names == {"steps", "a", "b", "c"}


def test_export_jsonl(capsys, tmp_path):
    path = tmp_path / "hello.jsonl"
    code, out, _ = run(capsys, "export", "hello", "--jsonl", str(path))
    assert code == 0 and out == [f"wrote {path} (JSONL recording, 4 steps)"]
    assert load_jsonl(path) == record(load_scenario(resolve_scenario("hello")))
    assert not (tmp_path / "hello.jsonl.tmp").exists()


def test_export_to_a_bad_place(capsys, tmp_path):
    code, _, err = run(capsys, "export", "hello", "--perfetto", str(tmp_path / "no" / "x.json"))
    assert code == 2
    assert err == [f"{tmp_path / 'no' / 'x.json'}: directory '{tmp_path / 'no'}' does not exist"]
    code, _, err = run(capsys, "export", "hello", "--jsonl", str(tmp_path))
    assert code == 2 and err == [f"{tmp_path}: is a directory; give a file name"]


# ----------------------------------------------------------------------------- tui, signals

def test_tui_loads_the_file_first_and_passes_it_on(monkeypatch):
    import tui.app

    seen = []

    class FakeApp:
        def __init__(self, source=None, path=None):
            seen.append((type(source).__name__, getattr(source, "name", None), path))

        def run(self):
            seen.append("ran")

    monkeypatch.setattr(tui.app, "DebuggerApp", FakeApp)
    assert main(["tui", "kv_preemption"]) == 0
    assert main(["tui"]) == 0
    assert seen == [("Scenario", "kv_preemption", "kv_preemption"), "ran",
                    ("Scenario", "hello", "hello"), "ran"]


def test_tui_with_a_bad_file_exits_2_before_the_ui_starts(capsys, monkeypatch, tmp_path):
    import tui.app

    monkeypatch.setattr(tui.app, "DebuggerApp", None)  # would crash if reached
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    code, out, err = run(capsys, "tui", str(bad))
    assert code == 2
    assert err == [f"{bad}:1: description: missing required key 'description'"]


def test_python_m_tui_opens_the_source_first(capsys, monkeypatch, tmp_path):
    import tui.app
    from tui.__main__ import main as tui_main

    seen = []

    class FakeApp:
        def __init__(self, source=None, path=None):
            seen.append((type(source).__name__, source.name, path))

        def run(self):
            seen.append("ran")

    monkeypatch.setattr(tui.app, "DebuggerApp", FakeApp)
    assert tui_main(["kv_preemption"]) == 0
    assert tui_main([]) == 0
    assert seen == [("Scenario", "kv_preemption", "kv_preemption"), "ran",
                    ("Scenario", "hello", "hello"), "ran"]
    capsys.readouterr()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert tui_main([str(bad)]) == 2
    assert capsys.readouterr().err == f"{bad}:1: description: missing required key " \
                                      f"'description'\n"
    assert tui_main(["a", "b"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["python -m tui: error: expected at most one SOURCE, got a b "
                   "(see 'python -m tui --help')"]
    assert tui_main(["--help"]) == 0
    assert capsys.readouterr().out.startswith("usage: python -m tui [SOURCE]")
    assert len(seen) == 4  # no app started for the bad calls


def test_every_command_is_one_module():
    import mini_engine.cli as cli
    from mini_engine.cli import build_parser
    minimal_args = {"run": ["hello"], "validate": ["a.yaml"], "export": ["hello", "--jsonl", "o"],
                    "trace": ["hi"], "schema": [], "check": ["hello"], "tui": [], "list": [],
                    "replay": ["x.jsonl"]}
    # `list` lives in listing.py: a submodule named `list` would shadow the builtin in the
    # package's namespace (importing it binds mini_engine.cli.list).
    modules = {"list": "listing"}
    assert [command.NAME for command in cli.COMMANDS] == list(minimal_args)
    for command in cli.COMMANDS:
        assert command.__name__ == f"mini_engine.cli.{modules.get(command.NAME, command.NAME)}"
        args = build_parser().parse_args([command.NAME, *minimal_args[command.NAME]])
        assert (args.command, args.func) == (command.NAME, command.cmd)


@pytest.mark.parametrize("argv, code", [
    (["run", "no_such_scenario"], 2),
    (["run", "{tmp}/bad.jsonl"], 2),
    (["run", "{tmp}/bad.yaml", "--format", "log"], 2),
    (["run", "{tmp}/bad.jsonl", "--format", "jsonl", "--until", "1"], 2),
    (["export", "{tmp}/bad.yaml", "--perfetto", "{tmp}/out.json"], 2),
    (["export", "hello", "--jsonl", "{tmp}/no/dir/out.jsonl"], 2),
    (["trace", "hi", "--set", "nope=1"], 2),
    (["trace", "hi", "--max-tokens", "0"], 2),
    (["schema", "--bogus"], 2),
    (["tui", "{tmp}/bad.jsonl"], 2),
    (["validate", "{tmp}/bad.yaml"], 1),
    (["check", "{tmp}/bad.yaml"], 1),
])
def test_every_command_reports_bad_input_on_one_line(capsys, tmp_path, argv, code):
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "bad.jsonl").write_text("{}\n")
    got, out, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert got == code
    assert_one_line_error(err)


@pytest.mark.parametrize("make_error, line", [
    (lambda e: e.ScenarioError("bad key", "a.yaml", 3, "requests[0]"),
     "a.yaml:3: requests[0]: bad key"),
    (lambda e: e.RecordingError("r.jsonl", 2, "invalid JSON"), "r.jsonl:2: invalid JSON"),
    (lambda e: e.ConfigError("max_num_seqs", "must be >= 1"),
     "mini-engine: error: max_num_seqs: must be >= 1"),
    (lambda e: e.BreakpointError("empty breakpoint"), "mini-engine: error: empty breakpoint"),
    (lambda e: e.UsageError("two\nlines"), "mini-engine: error: two lines"),
    (lambda e: e.MiniEngineError("plain"), "mini-engine: error: plain"),
    (lambda e: FileNotFoundError(2, "No such file or directory", "x.yaml"),
     "mini-engine: error: x.yaml: No such file or directory"),
], ids=["scenario", "recording", "config", "breakpoint", "usage", "base", "oserror"])
def test_any_user_error_from_a_command_is_one_line_exit_2(capsys, monkeypatch, make_error, line):
    import mini_engine.cli.schema as schema_command
    from mini_engine import errors

    def fails(args):
        raise make_error(errors)

    monkeypatch.setattr(schema_command, "cmd", fails)
    assert run(capsys, "schema") == (2, [], [line])


def test_keyboard_interrupt_exits_130_quietly(capsys, monkeypatch):
    import mini_engine.cli.schema as schema_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(schema_command, "cmd", interrupted)
    code, out, err = run(capsys, "schema")
    assert (code, out, err) == (130, [], [])


# ----------------------------------------------------------------------------- subprocess

def _console_script() -> str:
    script = Path(sys.executable).with_name("mini-engine")
    if script.exists():
        return str(script)
    found = shutil.which("mini-engine")
    if found is None:
        pytest.skip("the mini-engine console script is not installed (pip install -e .)")
    return found


def test_console_script_end_to_end(tmp_path):
    exe = _console_script()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([exe, "run", "hello"], capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines() == HELLO_TABLE
    done = subprocess.run([exe, "check", "hello", "kv_preemption"], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0
    assert done.stdout.splitlines() == ["PASS hello", "PASS kv_preemption", "2 passed, 0 failed"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    done = subprocess.run([exe, "validate", str(bad)], capture_output=True, text=True,
                          timeout=60, env=env)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"{bad}:6: requests[0].max_tokens: expected an integer, got '5' " \
                          f"(a string)\n"
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == f"mini-engine {__version__}\n"


def test_console_script_broken_pipe_is_quiet():
    exe = _console_script()
    proc = subprocess.Popen([exe, "run", "large_workload", "--until", "1500"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err
