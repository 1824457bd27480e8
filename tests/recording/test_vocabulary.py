"""One vocabulary for why a request waits and how it finished (issue 9, defect 7: the TUI
said `kv blocks` / `preempt step` where the CLI and the JSONL said `kv_cache` /
`preemption`). Every view takes its words from mini_engine.recording.vocabulary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from mini_engine.cli import main
from mini_engine.engine.request import RequestStatus
from mini_engine.recording.codes import REASON_LIST, WAITING_REASONS
from mini_engine.recording.format import StopReason
from mini_engine.recording.vocabulary import (ADMISSION_STOP_REASONS, FINISH_REASONS,
                                              WAIT_REASONS, explain, finish_label, wait_label)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_waiting_reason_has_one_spelling_its_stored_key():
    assert tuple(WAIT_REASONS) == REASON_LIST
    for key, reason in WAIT_REASONS.items():
        assert reason.key == key and reason.label == key  # no second name for it
        assert reason.summary == WAITING_REASONS[key]
        assert reason.explanation and "\n" not in reason.explanation
    assert wait_label("kv_cache") == "kv_cache" and wait_label("nonsense") == "nonsense"


def test_admission_stop_reasons_are_the_jsonl_values_and_waiting_reasons():
    assert ADMISSION_STOP_REASONS == get_args(StopReason)
    assert set(ADMISSION_STOP_REASONS) <= set(WAIT_REASONS)


def test_every_finished_status_has_a_label():
    finished = {s.name for s in RequestStatus if s.name.startswith("FINISHED")}
    assert set(FINISH_REASONS) == finished
    assert {finish_label(s) for s in finished} == {"stop", "length", "abort", "ignored"}
    assert finish_label("FINISHED_IGNORED") == "ignored" and finish_label("RUNNING") == "RUNNING"


def test_explain_gives_label_summary_and_explanation():
    text = explain("preemption")
    assert text.startswith("preemption: a preemption happened this step")
    assert "admits nobody" in text
    assert explain("FINISHED_IGNORED").startswith("ignored: it can never fit")
    assert explain("nonsense") == ""


def test_readme_lists_every_reason_with_its_summary():
    rows = dict(re.findall(r"^\| `([a-z_]+)` \| (.+?) \|$", README.read_text(), re.M))
    for key, reason in WAIT_REASONS.items():
        assert rows.get(key) == reason.summary, key


def test_run_help_lists_every_reason_the_table_shows(capsys):
    assert main(["run", "--help"]) == 0
    text = capsys.readouterr().out
    for key, reason in WAIT_REASONS.items():
        if key != "not_arrived":  # a request not arrived yet is in no queue
            assert f"  {key:<17} {reason.summary}" in text
