"""`mini-engine list` (bundled scenarios with the gist of their descriptions) and
did-you-mean for a mistyped bundled name (issue 9, "missing, and expected")."""

from __future__ import annotations

from mini_engine.cli import main
from mini_engine.cli.listing import gist
from mini_engine.scenarios.catalog import bundled_names

BUNDLED = ("abort, chunked_prefill, continuous_batching, eos_vs_length, hello, kv_preemption, "
           "large_workload, max_num_seqs, never_fits, preemption_thrash, prefix_caching, "
           "priority, starved_budget")


def test_list_shows_every_bundled_scenario_with_its_first_sentence(capsys):
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == ""
    assert [line.split()[0] for line in lines] == bundled_names()
    assert lines[0] == "abort                An abort in the middle of decoding."
    assert "kv_preemption        KV-cache exhaustion and recompute preemption." in lines
    assert ("chunked_prefill      Chunked prefill with long_prefill_token_threshold 2, as in "
            "the lab...") in lines
    assert all(len(line) <= 21 + 100 for line in lines)


def test_gist_keeps_a_short_first_sentence_and_marks_every_cut():
    assert gist("One. Two.") == "One."
    assert gist("First line\nsecond line") == "First line"
    assert gist("Plain words " * 20, limit=40) == "Plain words Plain words Plain words..."
    assert gist("A rather long opening clause here: then more words " * 3, limit=60) == (
        "A rather long opening clause here...")
    assert gist("") == ""


def test_a_mistyped_bundled_name_gets_a_did_you_mean(capsys):
    assert main(["run", "kv_preemptoin"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"kv_preemptoin: no such file or bundled scenario; did you mean "
                   f"'kv_preemption'? (bundled: {BUNDLED})\n")


def test_did_you_mean_for_every_command_taking_a_scenario(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for argv, code in ((["validate", "helo"], 1), (["check", "helo.yaml"], 1),
                       (["export", "helo", "--jsonl", "out.jsonl"], 2)):
        assert main(argv) == code, argv
        assert "did you mean 'hello'?" in capsys.readouterr().err, argv
    assert list(tmp_path.iterdir()) == []


def test_no_suggestion_when_nothing_is_close(capsys):
    assert main(["run", "zzzz"]) == 2
    assert capsys.readouterr().err == (
        f"zzzz: no such file or bundled scenario (bundled: {BUNDLED})\n")
