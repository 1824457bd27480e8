"""Issue 8, classes 2, 3 and 4 on the loading side: special files are refused without
blocking or reading them, a file over the size limit is refused before it is read, a
file with too many values stops early, and any file name loads or fails with one
printable line that names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mini_engine.errors import MiniEngineError
from mini_engine.files.read import display_name
from mini_engine.scenarios import yaml_reader
from mini_engine.scenarios.loader import (MAX_SCENARIO_BYTES, ScenarioError, load_scenario,
                                          load_scenario_text)
from mini_engine.sources import open_source

GOOD = "name: t\ndescription: d\nrequests: [{prompt: a}]\n"
NOT_REGULAR = "not a regular file; a scenario must be a regular file"


def error_of(path) -> MiniEngineError:
    with pytest.raises(MiniEngineError) as info:
        open_source(path)
    text = str(info.value)
    assert "\n" not in text and "\x1b" not in text and len(text) < 500
    return info.value


def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    # In a subprocess, so that a blocking open() would fail this test instead of hanging it.
    fifo = tmp_path / "x.yaml"
    os.mkfifo(fifo)
    code = ("import sys\nfrom mini_engine.sources import open_source\n"
            "from mini_engine.errors import MiniEngineError\n"
            "try:\n    open_source(sys.argv[1])\nexcept MiniEngineError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == f"{fifo}: is a FIFO (named pipe), {NOT_REGULAR}\n"


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/full"])
def test_a_device_or_a_link_to_one_is_refused(tmp_path: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    link = tmp_path / "x.yaml"
    link.symlink_to(device)
    for path in (device, str(link)):
        error = error_of(path)
        assert isinstance(error, ScenarioError)
        assert str(error) == f"{path}: is a character device, {NOT_REGULAR}"


def test_a_file_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    assert MAX_SCENARIO_BYTES == 8 * 1024 * 1024
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:  # sparse: nothing is written, and nothing must be read
        f.truncate(16 * 1024 * 1024 + 200_000)
    assert str(error_of(path)) == f"{path}: 16.2 MB is over the 8 MB limit for a scenario"
    with open(path, "wb") as f:
        f.truncate(MAX_SCENARIO_BYTES + 1)
    assert str(error_of(path)) == (f"{path}: 8388609 bytes is over the 8 MB (8388608 bytes) "
                                   f"limit for a scenario")


def test_too_many_requests(monkeypatch) -> None:
    text = "name: t\ndescription: d\nrequests:\n" + "  - {prompt: a}\n" * 100_001
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "x.yaml")
    assert str(info.value) == ("x.yaml:3: requests: more than 100,000 requests (the limit, "
                               "MAX_REQUESTS): use a generate block for large workloads")


def test_too_many_values_stop_the_parse(monkeypatch) -> None:
    monkeypatch.setattr(yaml_reader, "MAX_YAML_NODES", 1000)
    text = GOOD + "x: [" + ", ".join(["1"] * 600) + "]\ny:\n" + "".join(
        f"  - {i}\n" for i in range(600))
    with pytest.raises(ScenarioError) as info:
        load_scenario_text(text, "x.yaml")
    assert str(info.value) == ("x.yaml:392: y[386]: more than 1,000 YAML values (the limit, "
                               "MAX_YAML_NODES): use a generate block for large workloads")


def test_a_large_legal_scenario_loads() -> None:
    # 20,000 requests (1.3 MB); the benchmark measures the 16 MB ones.
    text = "name: big\ndescription: d\nrequests:\n" + "".join(
        f"  - {{id: r{i}, prompt: \"request number {i}\", max_tokens: {1 + i % 7}}}\n"
        for i in range(20_000))
    sc = load_scenario_text(text)
    assert len(sc.requests) == 20_000
    last = sc.requests[-1]
    assert (last.request_id, last.prompt, last.sampling_params.max_tokens) == \
        ("r19999", "request number 19999", 1 + 19999 % 7)


@pytest.mark.parametrize("name", ["with space.yaml", "ünïcödé.yml", "日本語のシナリオ.yaml",
                                  "noext", "x.yml", "-x.yaml", "tab\there.yaml",
                                  "new\nline.yaml"])
def test_odd_file_names_load(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(GOOD, encoding="utf-8")
    assert load_scenario(path).name == "t"
    assert open_source(str(path)).name == "t"


def test_a_name_that_is_not_utf8_loads_and_errors_name_it(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9 \x1b[31m.yaml"
    with open(raw, "wb") as f:
        f.write(GOOD.encode())
    name = os.fsdecode(raw)  # what sys.argv holds
    assert open_source(name).name == "t"
    with open(raw, "wb") as f:
        f.write(b"name: [\n")
    assert str(error_of(name)) == (f"{tmp_path}/caf\\xe9 \\x1b[31m.yaml:2: YAML syntax error: "
                                   f"while parsing a flow node; did not find expected node "
                                   f"content")


def test_a_newline_in_a_name_stays_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.yaml"
    path.write_text("name: t\n", encoding="utf-8")
    assert str(error_of(str(path))) == (f"{tmp_path}/two\\nlines.yaml:1: description: missing "
                                        f"required key 'description'")


def test_empty_and_over_long_names(tmp_path: Path) -> None:
    assert str(error_of("")) == "'': empty file name: give a scenario file or a bundled " \
                                "scenario's name"
    with pytest.raises(ScenarioError) as info:
        load_scenario("")
    assert str(info.value) == "'': empty file name: give the path of a scenario"
    long = str(tmp_path / ("n" * 5000 + ".yaml"))
    error = error_of(long)
    assert str(error).startswith(display_name(long) + ": ")
    with pytest.raises(ScenarioError) as info:
        load_scenario(long)
    assert str(info.value) == f"{display_name(long)}: cannot read: file name too long"


def test_missing_file_directory_and_unreadable(tmp_path: Path) -> None:
    assert str(error_of(tmp_path)) == f"{tmp_path}: is a directory, {NOT_REGULAR}"
    missing = tmp_path / "sub" / "x.yaml"
    assert str(error_of(str(missing))).startswith(f"{missing}: no such file or bundled scenario")
    with pytest.raises(ScenarioError) as info:
        load_scenario(missing)
    assert str(info.value) == f"{missing}: no such file"


def test_a_recording_without_its_suffix_opens_as_a_recording(tmp_path: Path) -> None:
    from mini_engine.recording.jsonl import save_jsonl
    from mini_engine.sources import record_scenario
    rec = record_scenario(load_scenario_text(GOOD, "t.yaml"))
    path = tmp_path / "run"
    save_jsonl(rec, path)
    source = open_source(str(path))
    assert source.is_recording and source.loaded.num_steps == rec.num_steps
    text = tmp_path / "scenario.txt"
    text.write_text(GOOD, encoding="utf-8")
    assert not open_source(str(text)).is_recording
