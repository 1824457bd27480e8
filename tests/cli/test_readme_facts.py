"""What the README and `mini-engine --help` state about scenarios and commands is true
(issue 9, defects 12, 14 and 15): the YAML example labelled kv_preemption is the bundled
file, the table of scenario keys says which are required as the schema does, and the
commands said to take a .jsonl recording are exactly those that do."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import mini_engine.cli as cli
from mini_engine.cli import main
from mini_engine.scenarios.catalog import resolve_scenario

README = Path(__file__).resolve().parents[2] / "README.md"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_readme_yaml_example_is_the_bundled_kv_preemption_file():
    blocks = re.findall(r"^```yaml\n(.*?)^```$", readme(), re.M | re.S)
    labelled = [b for b in blocks if b.startswith("name: kv_preemption\n")]
    assert labelled == [resolve_scenario("kv_preemption").read_text(encoding="utf-8")]


def test_the_readme_says_which_scenario_keys_are_required(capsys):
    rows = re.findall(r"^\| `([a-z_]+)` \| (yes|no|yes, unless `[a-z]+`) \| .+ \|$", readme(),
                      re.M)
    table = dict(rows)
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(table) == set(schema["properties"])
    required = {key for key, need in table.items() if need == "yes"}
    assert required == set(schema["required"]) == {"name", "description"}
    assert table["requests"] == "yes, unless `generate`"
    assert table["generate"] == "yes, unless `requests`"


def claimed_recording_commands(text: str) -> set[str]:
    found = re.search(r"((?:`\w+`,?\s+)+and\s+`\w+`)\s+also\s+take", text)
    assert found, "no sentence saying which commands take a .jsonl recording"
    return set(re.findall(r"`(\w+)`", found.group(1)))


def scenario_commands(capsys) -> set[str]:
    """Commands whose usage line takes a SCENARIO or FILE."""
    names = set()
    for command in cli.COMMANDS:
        assert main([command.NAME, "--help"]) == 0
        usage = capsys.readouterr().out.split("\n\n")[0]
        if re.search(r"\b(SCENARIO|FILE)\b", usage):
            names.add(command.NAME)
    return names


def test_help_and_readme_name_every_command_taking_a_recording(capsys):
    assert main(["--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    expected = scenario_commands(capsys)
    assert expected >= {"run", "export", "check", "validate", "tui"}
    assert claimed_recording_commands(help_text) == expected
    assert claimed_recording_commands(" ".join(readme().split())) == expected


@pytest.mark.parametrize("argv", [["run", "{rec}"], ["check", "{rec}"], ["validate", "{rec}"],
                                  ["export", "{rec}", "--perfetto", "{tmp}/t.json"]])
def test_each_command_said_to_take_a_recording_does(argv, tmp_path, capsys):
    rec = tmp_path / "h.jsonl"
    assert main(["export", "hello", "--jsonl", str(rec)]) == 0
    capsys.readouterr()
    args = [a.format(rec=rec, tmp=tmp_path) for a in argv]
    assert main(args) == 0, capsys.readouterr().err
    if argv[0] == "validate":
        assert capsys.readouterr().out == "ok hello (1 request; a recording of 4 steps)\n"


def test_every_command_is_in_the_readme_table():
    for command in cli.COMMANDS:
        assert f"| `mini-engine {command.NAME}" in readme(), command.NAME
