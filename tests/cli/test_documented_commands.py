"""Every command the documentation shows runs as written.

Sources: README.md (each ```console block's `$ ` lines, with the output shown under them;
the `mini-engine` / `python -m tui` parts of ```bash blocks; inline `mini-engine ...` code
spans, where a bare `mini-engine` is a name, not a command) and the `examples:` epilog of every command's `--help`. Each runs in-process, in a
fresh directory holding `scenarios/` (the bundled scenarios, as in a checkout), and must exit
0, or the code written after it as `# exit N`. Where an example shows output, the output
must match (`...` stands for any lines). Spans with placeholders (SCENARIO, [--until STEP],
...) are syntax, not commands: their command and options must exist. The `tui` command
starts the real app headless and quits once the recording is done and the screen drawn.
"""

from __future__ import annotations

import glob
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

import mini_engine.cli as cli
from mini_engine.cli import main

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
SCENARIOS = REPO / "mini_engine" / "scenarios"
PROGRAMS = (("mini-engine",), ("python", "-m", "tui"))
# Shell steps of the README's set-up lines: they build the environment this test runs in
# (or run this very suite), so they are listed here rather than run.
SETUP_STEPS = {"python3 -m venv .venv", ". .venv/bin/activate", "pip install -e .",
               "pip install -e '.[test]'", "python -m pytest -q"}
PLACEHOLDER = re.compile(r"\[|\.\.\.|\b[A-Z][A-Z_]*\b")
EXIT_NOTE = re.compile(r"\s+#\s*exit\s+(\d+)\s*$")


@dataclass(frozen=True)
class Example:
    where: str  # "README.md:142" or "mini-engine run --help"
    command: str
    exit_code: int = 0
    output: tuple[str, ...] | None = None  # the output shown under it, if any


# ----------------------------------------------------------------------------- README

def _fenced_blocks(lines: list[str]):
    """(language, first line number, body lines) of each ``` block."""
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, start = lines[i][3:].strip(), i + 1
            end = next(j for j in range(start, len(lines)) if lines[j].startswith("```"))
            yield lang, start + 1, lines[start:end]
            i = end
        i += 1


def _console_examples(first: int, body: list[str]) -> list[Example]:
    examples: list[Example] = []
    for offset, line in enumerate(body):
        if not line.startswith("$ "):
            continue
        output = []
        for after in body[offset + 1:]:
            if after.startswith("$ "):
                break
            output.append(after)
        command, code = _exit_note(line[2:])
        examples.append(Example(f"README.md:{first + offset}", command, code, tuple(output)))
    return examples


def _exit_note(command: str) -> tuple[str, int]:
    note = EXIT_NOTE.search(command)
    return (command[:note.start()], int(note.group(1))) if note else (command, 0)


def _is_program(command: str) -> bool:
    words = command.split()
    return any(tuple(words[:len(p)]) == p for p in PROGRAMS)


def readme_examples() -> tuple[list[Example], list[Example], list[str]]:
    """(runnable commands, syntax templates, set-up steps) shown in README.md."""
    lines = README.read_text(encoding="utf-8").splitlines()
    runnable: list[Example] = []
    templates: list[Example] = []
    setup: list[str] = []
    in_fence = set()
    for lang, first, body in _fenced_blocks(lines):
        in_fence.update(range(first - 2, first + len(body)))
        if lang == "console":
            runnable += _console_examples(first, body)
        elif lang in ("bash", "sh"):
            for offset, line in enumerate(body):
                for step in (s.strip() for s in line.split("#")[0].split("&&")):
                    if _is_program(step):
                        runnable.append(Example(f"README.md:{first + offset}", step))
                    elif step:
                        setup.append(step)
    for number, line in enumerate(lines, 1):
        if number - 1 in in_fence:
            continue
        for span in re.findall(r"`([^`]+)`", line.replace("\\|", "|")):
            if _is_program(span) and tuple(span.split()) not in PROGRAMS:  # not a bare name
                example = Example(f"README.md:{number}", span)
                (templates if PLACEHOLDER.search(span) else runnable).append(example)
    return runnable, templates, setup


# ----------------------------------------------------------------------------- --help

def help_text(capsys, *argv: str) -> str:
    assert main([*argv, "--help"]) == 0
    return capsys.readouterr().out


def help_examples(text: str, where: str) -> list[Example]:
    """The command lines under the `examples:` heading of one help text."""
    lines = text.splitlines()
    if "examples:" not in lines:
        return []
    found = []
    for line in lines[lines.index("examples:") + 1:]:
        if not line.startswith("  "):
            break
        found.append(Example(where, line.strip()))
    return found


# ----------------------------------------------------------------------------- running

@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    (tmp_path / "scenarios").symlink_to(SCENARIOS, target_is_directory=True)
    # `replay --help` names committed captures by their path in the repository.
    (tmp_path / "tests" / "data").mkdir(parents=True)
    (tmp_path / "tests" / "data" / "vllm_captures").symlink_to(
        REPO / "tests" / "data" / "vllm_captures", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def headless_tui(monkeypatch) -> list[str]:
    """DebuggerApp.run starts the app headless and quits once it has recorded and drawn;
    returns the scenario names the app showed."""
    import tui.app

    shown: list[str] = []
    real_run = tui.app.DebuggerApp.run

    async def look_and_quit(pilot) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        session = pilot.app.session
        if session is not None and session.recording.complete:
            shown.append(session.recording.scenario.name)
        pilot.app.exit()

    def run_headless(app, *args, **kwargs):
        result = real_run(app, headless=True, size=(120, 36), auto_pilot=look_and_quit)
        assert app.return_code == 0, f"the app failed: return code {app.return_code}"
        return result

    monkeypatch.setattr(tui.app.DebuggerApp, "run", run_headless)
    return shown


def run_example(example: Example, capsys, request) -> tuple[int, list[str]]:
    """Run one documented command in-process: (exit code, stdout + stderr lines)."""
    argv = []
    for word in shlex.split(example.command):
        matches = sorted(glob.glob(word)) if any(c in word for c in "*?[") else []
        argv += matches or [word]
    is_tui = argv[:2] == ["mini-engine", "tui"] or argv[:3] == ["python", "-m", "tui"]
    if is_tui and "--help" not in argv:
        request.getfixturevalue("headless_tui")  # the app starts headless, then quits
    capsys.readouterr()
    if argv[0] == "mini-engine":
        code = main(argv[1:])
    else:
        assert argv[:3] == ["python", "-m", "tui"], example
        from tui.__main__ import main as tui_main
        code = tui_main(argv[3:])
    out, err = capsys.readouterr()
    return code, [line.rstrip() for line in (out + err).splitlines()]


def output_matches(shown: tuple[str, ...], actual: list[str]) -> bool:
    pattern = "".join(r"(?:[^\n]*\n)*?" if line.strip() == "..." else
                      re.escape(line.rstrip()) + r"\n" for line in shown)
    return re.fullmatch(pattern, "".join(line + "\n" for line in actual)) is not None


def failures(examples: list[Example], capsys, request) -> list[str]:
    """Run the examples in order (later ones may read what earlier ones wrote)."""
    problems = []
    for example in examples:
        code, lines = run_example(example, capsys, request)
        if code != example.exit_code:
            problems.append(f"{example.where}: `{example.command}` exited {code}, expected "
                            f"{example.exit_code}: {lines[-3:]}")
        elif example.output and not output_matches(example.output, lines):
            problems.append(f"{example.where}: `{example.command}` printed {lines}, the "
                            f"documentation shows {list(example.output)}")
    return problems


# ----------------------------------------------------------------------------- tests

def test_readme_commands_run_as_written(capsys, workdir, request):
    runnable, _, _ = readme_examples()
    assert len(runnable) >= 10  # the extraction found the README's commands
    assert failures(runnable, capsys, request) == []
    # `mini-engine tui` (Quick start) really started the app and showed the default scenario
    assert "hello" in request.getfixturevalue("headless_tui")


def test_readme_console_output_is_checked():
    # Control: the console blocks' output is extracted and compared, `...` included.
    runnable, _, _ = readme_examples()
    shown = [e for e in runnable if e.output]
    assert any("..." in e.output for e in shown)
    assert all(not output_matches(e.output, ["something else"]) for e in shown)
    assert output_matches(("a", "...", "d"), ["a", "b", "c", "d"])
    assert output_matches(("a", "...", "b"), ["a", "b"])
    assert not output_matches(("a", "b"), ["a", "b", "c"])


def test_readme_setup_steps_are_the_known_ones():
    _, _, setup = readme_examples()
    assert set(setup) == SETUP_STEPS


def test_readme_syntax_lines_name_real_commands_and_options(capsys):
    _, templates, _ = readme_examples()
    assert len(templates) >= 7
    names = {command.NAME for command in cli.COMMANDS}
    for template in templates:
        words = template.command.split()
        if words[0] != "mini-engine" or words[1] == "COMMAND":
            continue
        assert words[1] in names, template
        options = set(re.findall(r"--[a-z][a-z-]*", help_text(capsys, words[1])))
        used = set(re.findall(r"--[a-z][a-z-]*", template.command))
        assert used <= options | {"--help"}, template


@pytest.mark.parametrize("name", [command.NAME for command in cli.COMMANDS])
def test_help_examples_run_as_written(name, capsys, workdir, request):
    examples = help_examples(help_text(capsys, name), f"mini-engine {name} --help")
    assert examples, f"`mini-engine {name} --help` shows no examples"
    assert all(e.command.startswith(f"mini-engine {name} ") or e.command == f"mini-engine {name}"
               or name == "export" for e in examples)  # export's replays what it wrote
    assert failures(examples, capsys, request) == []
    if name == "tui":  # each example really started the app on its scenario
        assert request.getfixturevalue("headless_tui") == ["hello", "kv_preemption"]


def test_top_level_help_examples_run_as_written(capsys, workdir, request):
    assert main(["--help"]) == 0
    examples = help_examples(capsys.readouterr().out, "mini-engine --help")
    assert [e.command for e in examples] == list(cli.EXAMPLES)
    assert failures(examples, capsys, request) == []
    assert request.getfixturevalue("headless_tui") == ["kv_preemption"]


def test_a_failing_example_is_reported(capsys, workdir, request):
    # Control: the runner sees a wrong exit code and wrong output.
    bad = [Example("x", "mini-engine trace hello --set max_num_batched_tokens=4"),
           Example("y", "mini-engine validate hello", 0, ("ok hello (2 requests)",))]
    assert [p.split(":")[0] for p in failures(bad, capsys, request)] == ["x", "y"]
