"""`mini-engine replay`: the diff's report, the scenario it writes, and a divergent capture."""

from __future__ import annotations

import os

from mini_engine.cli import main

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "vllm_captures")


def test_replay_of_a_committed_capture_matches(capsys):
    assert main(["replay", os.path.join(DATA, "d_memory_pressure.jsonl")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "divergences: none (every captured field matches, step by step)"
    assert out[2] == "steps: vLLM 24, mini_engine 24; preemptions: vLLM 2, mini_engine 2"
    assert out[4].split() == ["r0", "1", "/", "1", "12", "LENGTH_CAPPED", "/", "12",
                              "LENGTH_CAPPED"]


def test_scenario_out_writes_a_scenario_that_passes_check(tmp_path, capsys):
    out = tmp_path / "replay.yaml"
    assert main(["replay", os.path.join(DATA, "q_eos_and_stop_tokens.jsonl"),
                 "--scenario-out", str(out)]) == 0
    capsys.readouterr()
    assert main(["check", str(out)]) == 0
    assert capsys.readouterr().out.startswith("PASS replay of ")


def test_a_divergent_capture_shows_the_first_divergence_and_exits_1(tmp_path, capsys):
    lines = open(os.path.join(DATA, "d_memory_pressure.jsonl")).read().splitlines(True)
    lines[3] = lines[3].replace('"scheduled":{"r0":1,"r1":1}', '"scheduled":{"r1":1,"r0":1}')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines))
    assert main(["replay", str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == ("first divergence: step 3: scheduled: vLLM [('r1', 1), ('r0', 1)], "
                      "mini_engine [('r0', 1), ('r1', 1)]")
    assert out[5].startswith(">     3  r1:1 r0:1")
