"""The CLI against hostile names, targets and signals (issue 8, CLI side of classes 4, 7, 9
and 12): control characters in user data never reach the terminal raw; `-x.yaml` needs
`--` and the error says so; export never writes through a link, over a FIFO, into a
missing directory or over a file without --force, and leaves nothing behind when killed;
`run` warns before a huge run, streams its lines and stops quietly on Ctrl-C."""

from __future__ import annotations

import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mini_engine.cli import main
from mini_engine.sources import RECORD_BATCH

# Each of these would act on a terminal: retitle it (OSC), clear it (CSI), ring the bell,
# or start a C1 control sequence; a lone surrogate can't even be encoded for output.
RAW = ("\x1b", "\x07", "\x9b", "\x9d", "\x00", "\r")
EVIL_NAME = "evil\x1b]0;PWNED\x07\x9b31m"
EVIL_ID = "r\x1b]0;X\x07"
EVIL_SCENARIO = f"""\
name: "evil\\e]0;PWNED\\a\\x9b31m"
description: "clears the screen\\e[2J"
requests:
  - {{id: "r\\e]0;X\\a", prompt: "abcd", max_tokens: 2, ignore_eos: true}}
  - {{id: "s\\u009d", prompt: "efgh", max_tokens: 1, ignore_eos: true}}
expect:
  total_steps: 2
"""
# The same file with a field error: its message quotes the evil value.
EVIL_BAD = EVIL_SCENARIO.replace("max_tokens: 1,", 'max_tokens: "\\e]0;PWNED\\a",')
PROJECT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds any subprocess here may take at most (a hang fails, it never waits)
CLI = [sys.executable, "-c", "import sys; from mini_engine.cli import main; sys.exit(main())"]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean(text: str) -> None:
    for ch in RAW:
        assert ch not in text, (ch, text)


@pytest.fixture
def evil(tmp_path) -> Path:
    path = tmp_path / "evil.yaml"
    path.write_text(EVIL_SCENARIO)
    return path


# ----------------------------------------------------------------------------- class 12: output

@pytest.mark.parametrize("argv", [
    ["validate", "{evil}"],
    ["run", "{evil}"],
    ["run", "{evil}", "--format", "log"],
    ["run", "{evil}", "--format", "jsonl"],
    ["check", "{evil}"],
    ["check", "{bad}"],
    ["validate", "{bad}"],
    ["run", "{bad}"],
    ["export", "{evil}", "--jsonl", "{tmp}/e.jsonl"],
    ["export", "{evil}", "--perfetto", "{tmp}/e.json"],
    ["validate", "{tmp}/no\x1b]0;PWNED\x07such.yaml"],
    ["run", "no_such\x1b[2J_scenario"],
    ["run", "hello", "--format", "x\x1b]0;PWNED\x07"],
    ["validate", "-x\x1b]0;PWNED\x07.yaml"],
], ids=lambda argv: " ".join(a.replace("{", "").replace("}", "") for a in argv)[:40])
def test_escape_sequences_never_reach_the_terminal(capsys, tmp_path, evil, argv):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EVIL_BAD)
    code, out, err = run(capsys, *(a.format(evil=evil, bad=bad, tmp=tmp_path) for a in argv))
    assert_clean(out)
    assert_clean(err)
    assert len(err.splitlines()) <= 1


def test_escaped_names_are_shown_readably(capsys, evil):
    assert run(capsys, "validate", str(evil)) == (
        0, "ok evil\\x1b]0;PWNED\\x07\\x9b31m (2 requests)\n", "")
    code, out, _ = run(capsys, "check", str(evil))
    assert out == "PASS evil\\x1b]0;PWNED\\x07\\x9b31m\n"
    code, out, _ = run(capsys, "run", str(evil))
    lines = out.splitlines()
    assert lines[1].split()[1] == "r\\x1b]0;X\\x07:+4p"
    # the table's columns line up on the escaped text
    assert lines[0].index("budget") == lines[1].index("8/2048")


def test_jsonl_on_stdout_stays_the_same_json(capsys, evil):
    code, out, _ = run(capsys, "run", str(evil), "--format", "jsonl")
    assert code == 0
    assert_clean(out)
    header = json.loads(out.splitlines()[0])
    assert header["scenario"]["name"] == EVIL_NAME
    assert [r["request_id"] for r in header["requests"]] == [EVIL_ID, "s\x9d"]


def test_console_script_output_has_no_raw_escapes(evil):
    for argv in (["validate", str(evil)], ["run", str(evil)], ["check", str(evil)]):
        done = subprocess.run([*CLI, *argv], capture_output=True,
                              timeout=TIMEOUT, cwd=PROJECT)
        assert done.returncode == 0, done.stderr
        for ch in RAW:
            assert ch.encode("utf-8") not in done.stdout + done.stderr


# ----------------------------------------------------------------------------- class 4: names

def test_a_file_starting_with_dash_needs_double_dash(capsys, tmp_path, monkeypatch, evil):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-x.yaml").write_text(evil.read_text())
    code, out, err = run(capsys, "validate", "--", "-x.yaml")
    assert code == 0 and out.startswith("ok evil")
    code, out, err = run(capsys, "validate", "-x.yaml")
    assert code == 2 and out == ""
    assert err == ("mini-engine validate: error: the following arguments are required: FILE; to "
                   "name a file that starts with '-', put -- before it (e.g. 'mini-engine "
                   "validate -- -x.yaml') (see 'mini-engine validate --help')\n")
    code, out, err = run(capsys, "run", "hello", "-x.yaml")
    assert code == 2 and "put -- before it" in err and len(err.splitlines()) == 1
    code, out, err = run(capsys, "run", "--until", "1", "--", "-x.yaml")
    assert code == 0 and out.splitlines()[1].split()[1] == "r\\x1b]0;X\\x07:+4p"


def test_an_unknown_option_gets_no_file_hint(capsys):
    code, _, err = run(capsys, "run", "hello", "--untill", "3")
    assert code == 2 and "put --" not in err


def test_help_texts_document_double_dash(capsys):
    assert main(["--help"]) == 0
    assert "put -- before it" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["validate", "run", "check", "export"])
def test_over_long_odd_and_empty_paths_print_one_line(tmp_path, command):
    # A subprocess each: an empty path once hung.
    extra = ["--jsonl", str(tmp_path / "o.jsonl")] if command == "export" else []
    for name in (str(tmp_path / ("x" * 5000)) + ".yaml", str(tmp_path / "a\nb.yaml"), ""):
        done = subprocess.run([*CLI, command, *extra, "--", name], capture_output=True,
                              text=True, timeout=TIMEOUT, cwd=tmp_path)
        assert done.returncode in (1, 2), (name, done.stderr)
        assert done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and len(done.stderr) < 600, done.stderr
        assert_clean(done.stderr.rstrip("\n"))


# ----------------------------------------------------------------------------- class 7 + 12: export

def export(capsys, out: Path | str, *flags: str, scenario: str = "hello"):
    return run(capsys, "export", scenario, "--jsonl", str(out), *flags)


def test_export_refuses_to_overwrite_without_force_and_says_when_it_does(capsys, tmp_path):
    out = tmp_path / "o.jsonl"
    assert export(capsys, out) == (0, f"wrote {out} (JSONL recording, 4 steps)\n", "")
    first = out.read_bytes()
    out.write_text("mine\n")
    code, stdout, err = export(capsys, out)
    assert (code, stdout) == (2, "")
    assert err == f"{out}: already exists; refusing to overwrite it (--force overwrites)\n"
    assert out.read_text() == "mine\n"
    assert export(capsys, out, "--force") == (
        0, f"overwrote {out} (JSONL recording, 4 steps)\n", "")
    assert out.read_bytes() == first
    code, stdout, _ = run(capsys, "export", "hello", "--perfetto", str(out), "--force")
    assert code == 0 and stdout.startswith(f"overwrote {out} (Chrome trace, 4 steps, ")


def test_export_refuses_a_read_only_file_without_force(capsys, tmp_path):
    out = tmp_path / "ro.jsonl"
    out.write_text("keep\n")
    out.chmod(0o444)
    code, _, err = export(capsys, out)
    assert code == 2
    assert err == (f"{out}: already exists and is read-only; refusing to overwrite it "
                   "(--force overwrites)\n")
    assert out.read_text() == "keep\n"


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_never_writes_through_a_symlink(capsys, tmp_path, force):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "o.jsonl"
    link.symlink_to(victim)
    code, _, err = export(capsys, link, *force)
    assert code == 2
    assert err == f"{link}: is a symbolic link; refusing to write through it or replace it\n"
    assert victim.read_text() == "precious\n" and link.is_symlink()


def test_export_ignores_planted_temporary_names(capsys, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "OUT.jsonl"
    for name in ("OUT.tmp", "OUT.jsonl.tmp", ".OUT.jsonl.tmp", "OUT.json.tmp"):
        (tmp_path / name).symlink_to(victim)
    assert export(capsys, out)[0] == 0
    code, _, _ = run(capsys, "export", "hello", "--perfetto", str(tmp_path / "OUT.json"))
    assert code == 0
    assert victim.read_text() == "precious\n"
    assert not out.is_symlink() and out.read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["victim.txt", "OUT.jsonl", "OUT.json", "OUT.tmp", "OUT.jsonl.tmp", ".OUT.jsonl.tmp",
         "OUT.json.tmp"])


def test_export_refuses_a_fifo_even_with_force(tmp_path):
    # A subprocess: were the FIFO opened for writing, it would block with no reader.
    fifo = tmp_path / "o.jsonl"
    os.mkfifo(fifo)
    for flags in ([], ["--force"]):
        done = subprocess.run([*CLI, "export", "hello", "--jsonl", str(fifo), *flags], capture_output=True, text=True,
                              timeout=TIMEOUT, cwd=PROJECT)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr == (f"{fifo}: is not a regular file (a FIFO, device or socket); "
                               "refusing to replace it\n")
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@pytest.mark.parametrize("target, message", [
    ("{tmp}/newdir/", "{tmp}/newdir/: names a directory (ends with '/'); give a file name"),
    ("{tmp}", "{tmp}: is a directory; give a file name"),
    ("{tmp}/missing/o.jsonl", "{tmp}/missing/o.jsonl: directory '{tmp}/missing' does not exist"),
    ("{tmp}/ro/o.jsonl", "{tmp}/ro/o.jsonl: directory '{tmp}/ro' is not writable"),
    ("/dev/null", "/dev/null: is not a regular file (a FIFO, device or socket); refusing to "
                  "replace it"),
])
def test_export_refuses_bad_targets_on_one_line_before_running(capsys, tmp_path, monkeypatch,
                                                              target, message):
    import mini_engine.cli.progress as progress
    monkeypatch.setattr(progress, "record_with_progress", None)  # fails if the run starts
    (tmp_path / "ro").mkdir(mode=0o555)
    code, out, err = export(capsys, target.format(tmp=tmp_path), "--force")
    assert (code, out, err) == (2, "", message.format(tmp=tmp_path) + "\n")
    assert not (tmp_path / "newdir").exists() and list((tmp_path / "ro").iterdir()) == []


# A CLI export whose writer blocks after its first lines, so a test can signal it while the
# temporary file exists, without racing the end of the write.
BLOCKING_EXPORT = textwrap.dedent("""
    import sys, time
    import mini_engine.exports.perfetto as perfetto
    import mini_engine.recording.jsonl as jsonl

    def block(f):
        f.flush()
        while True:  # until a signal ends the process
            time.sleep(0.05)

    def save_jsonl(rec, f, progress=None):
        f.write('{"partial": true}\\n')
        block(f)

    def write_perfetto(rec, f, progress=None):
        f.write('{"traceEvents": [\\n')
        block(f)

    jsonl.save_jsonl = save_jsonl
    perfetto.write_perfetto = write_perfetto
    from mini_engine.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def wait_for(condition, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the export ended ({proc.returncode}) before {what}: "
                        f"{proc.stderr.read()!r}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {what} within {TIMEOUT} s")
        time.sleep(0.02)


@pytest.mark.parametrize("signame, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
@pytest.mark.parametrize("kind", ["--jsonl", "--perfetto"])
def test_a_signal_during_export_leaves_no_temporary_file(tmp_path, signame, code, kind):
    out = tmp_path / "OUT.jsonl"
    out.write_text("old\n")
    proc = subprocess.Popen([sys.executable, "-c", BLOCKING_EXPORT, "export", "kv_preemption",
                             kind, str(out), "--force"], cwd=PROJECT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        def temporary() -> list[Path]:
            return [p for p in tmp_path.iterdir() if p.name != "OUT.jsonl"]
        wait_for(lambda: temporary() and temporary()[0].stat().st_size > 0, proc,
                 "a temporary file")
        proc.send_signal(getattr(signal, signame))
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code
    assert (stdout, stderr) == ("", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["OUT.jsonl"]
    assert out.read_text() == "old\n"


# ----------------------------------------------------------------------------- class 9: long runs

FOREVER = """\
name: forever
description: one request that decodes for 900,000 steps
engine: {max_model_len: 1000000, num_gpu_blocks: 70000}
requests:
  - {id: a, prompt: "abcd", max_tokens: 900000, ignore_eos: true}
"""


def test_a_large_run_is_announced_before_it_starts(capsys, tmp_path, monkeypatch):
    from mini_engine.recording.recorder import Recorder

    def interrupted(self, n=1):
        raise KeyboardInterrupt  # Ctrl-C at the first batch: the warning came before

    monkeypatch.setattr(Recorder, "advance", interrupted)
    path = tmp_path / "forever.yaml"
    path.write_text(FOREVER)
    code, out, err = run(capsys, "run", str(path))
    assert code == 130 and out == ""
    assert err.splitlines() == [
        "mini-engine: warning: forever: a large run: about 900,000 steps, 1 request, ~1,215 MB "
        "to record (Ctrl-C stops it; --until STEP runs fewer)"]
    code, out, err = run(capsys, "run", str(path), "--until", "5")  # small enough: no warning
    assert code == 130 and err == ""


def test_small_runs_are_not_announced(capsys):
    code, _, err = run(capsys, "run", "large_workload", "--until", "300", "--format", "log")
    assert code == 0 and err == ""


@pytest.mark.parametrize("fmt", ["table", "log"])
def test_run_prints_its_first_steps_while_the_run_goes_on(monkeypatch, fmt):
    from mini_engine.recording.recorder import Recorder

    recorded: list[int] = []  # steps recorded after each batch
    real_advance = Recorder.advance

    def advance(self, n=1):
        more = real_advance(self, n)
        recorded.append(self.recording.num_steps)
        return more

    class Out:
        """stdout that notes how many steps were recorded when each line came."""

        def __init__(self):
            self.seen_at: list[int] = []

        def write(self, text):
            self.seen_at.append(recorded[-1])

        def isatty(self):
            return False

    out = Out()
    monkeypatch.setattr(Recorder, "advance", advance)
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["run", "large_workload", "--until", "2000", "--format", fmt]) == 0
    assert recorded[-1] == 2000 and len(recorded) == -(-2000 // RECORD_BATCH)
    assert out.seen_at[0] == RECORD_BATCH  # the first lines came after one batch, not at the end
    assert out.seen_at[-1] == 2000


def first_line(proc: subprocess.Popen) -> str:
    """The first line of proc's stdout, failing (not hanging) if none comes in TIMEOUT."""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(TIMEOUT):
            proc.kill()
            pytest.fail(f"no output within {TIMEOUT} s")
    return proc.stdout.readline()


def test_ctrl_c_on_a_long_run_exits_130_quietly(tmp_path):
    path = tmp_path / "forever.yaml"
    path.write_text(FOREVER)
    proc = subprocess.Popen([*CLI, "run", str(path)], cwd=PROJECT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first_line(proc).startswith("step")  # streamed: the run is under way
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert stderr.splitlines() == [
        "mini-engine: warning: forever: a large run: about 900,000 steps, 1 request, ~1,215 MB "
        "to record (Ctrl-C stops it; --until STEP runs fewer)"]


HUGE = """\
name: huge
description: one request that must generate two million tokens
engine: {max_model_len: 3000000, num_gpu_blocks: 200000}
requests:
  - {id: a, prompt: "abcd", max_tokens: 2000000, ignore_eos: true}
"""
HUGE_LINE = ("{path}: huge: the run takes at least 1,999,999 steps; a recording holds at most "
             "1,000,000 steps (MAX_RECORDED_STEPS): record fewer with --until STEPS, or shorten "
             "the scenario\n")


@pytest.mark.parametrize("argv", [["run", "{path}"], ["run", "{path}", "--format", "jsonl"],
                                  ["export", "{path}", "--jsonl", "{tmp}/h.jsonl"],
                                  ["run", "{path}", "--until", "1000001"]])
def test_a_run_beyond_the_step_limit_is_refused_before_it_starts(capsys, tmp_path, argv):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE)
    code, out, err = run(capsys, *(a.format(path=path, tmp=tmp_path) for a in argv))
    assert (code, out, err) == (2, "", HUGE_LINE.format(path=path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.yaml"]


def test_a_run_beyond_the_step_limit_can_be_cut_with_until(capsys, tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE)
    code, out, err = run(capsys, "run", str(path), "--until", "3", "--format", "log")
    assert code == 0 and err == "" and len(out.splitlines()) == 4
    code, out, err = run(capsys, "export", str(path), "--jsonl", str(tmp_path / "h.jsonl"),
                         "--until", "3")
    assert (code, out, err) == (0, f"wrote {tmp_path / 'h.jsonl'} (JSONL recording, 3 steps)\n",
                                "")
    code, out, err = run(capsys, "export", str(tmp_path / "h.jsonl"), "--until", "2",
                         "--perfetto", str(tmp_path / "h.json"))
    assert (code, out) == (2, "")
    assert err == "mini-engine: error: --until cannot cut a loaded recording\n"


UNCERTAIN = """\
name: uncertain
description: could stop at token 200 at any step, so nothing bounds it up front; never does
model: {rule: constant, value: 7}
requests:
  - {id: a, prompt: abcd, max_tokens: 1000, stop_token_ids: [200]}
"""


def test_a_run_that_reaches_the_step_limit_stops_with_one_line(capsys, monkeypatch, tmp_path):
    import mini_engine.recording.recorder as recorder

    monkeypatch.setattr(recorder, "MAX_RECORDED_STEPS", 300)  # as if the run were endless
    path = tmp_path / "uncertain.yaml"
    path.write_text(UNCERTAIN)
    code, out, err = run(capsys, "run", str(path), "--format", "log")
    assert code == 2
    lines = out.splitlines()
    assert lines[-2].startswith("Iteration(300): ")  # every step up to the limit, streamed
    assert lines[-1].startswith("Engine 000: ")
    assert err == (f"{path}: uncertain: still running after 300 steps; a recording holds at "
                   "most 1,000,000 steps (MAX_RECORDED_STEPS): record fewer with --until STEPS, "
                   "or shorten the scenario\n")
