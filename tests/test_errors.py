"""MiniEngineError: one base for every user-facing error, one line each."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mini_engine.errors as errors
from mini_engine.errors import MiniEngineError, error_line


@pytest.mark.parametrize("kwargs, text", [
    ({}, "bad"),
    ({"path": "a.yaml"}, "a.yaml: bad"),
    ({"path": "a.yaml", "line": 3}, "a.yaml:3: bad"),
    ({"path": "a.yaml", "line": 3, "field": "requests[0].id"}, "a.yaml:3: requests[0].id: bad"),
    ({"field": "max_num_seqs"}, "max_num_seqs: bad"),
    ({"line": 7}, "line 7: bad"),
])
def test_str_is_path_line_field_message(kwargs, text):
    err = MiniEngineError("bad", **kwargs)
    assert str(err) == text
    assert err.one_line() == text
    assert (err.message, err.path, err.line, err.field) == (
        "bad", kwargs.get("path"), kwargs.get("line"), kwargs.get("field"))


def test_str_is_one_line_and_keeps_other_spacing():
    err = MiniEngineError("first line\n   second  line\r\nthird", path="x")
    assert str(err) == "x: first line second  line third"
    assert err.one_line() == "x: first line second line third"


def test_where():
    assert MiniEngineError("m").where is None
    assert MiniEngineError("m", path="p").where == "p"
    assert MiniEngineError("m", path="p", line=2).where == "p:2"


SUBCLASS_CASES = [
    # (how the error is made, its exact str(), its where)
    (lambda: errors.ConfigError("max_num_seqs", "must be a positive integer, got 0"),
     "max_num_seqs: must be a positive integer, got 0", None),
    (lambda: errors.ScenarioError("missing  key\n'x'", "s.yaml", 4, "requests[1]"),
     "s.yaml:4: requests[1]: missing key 'x'", "s.yaml:4"),
    (lambda: errors.ScenarioError("no name"), "<string>: no name", "<string>"),
    (lambda: errors.RecordingError("r.jsonl", 5, "invalid JSON"), "r.jsonl:5: invalid JSON",
     "r.jsonl:5"),
    (lambda: errors.RecordingError("r.jsonl", None, "no such file"), "r.jsonl: no such file",
     "r.jsonl"),
    (lambda: errors.BreakpointError("empty breakpoint"), "empty breakpoint", None),
    (lambda: errors.ConditionError("step >", 6, "expected a value"),
     "expected a value at column 7: step >", None),
    (lambda: errors.UsageError("--set x: expected key=value"), "--set x: expected key=value",
     None),
]


@pytest.mark.parametrize("make, text, where", SUBCLASS_CASES)
def test_every_user_facing_error_derives_from_the_base(make, text, where):
    err = make()
    assert isinstance(err, MiniEngineError)
    assert str(err) == text
    assert err.where == where
    assert err.title != MiniEngineError.title  # each kind has its own dialog title


def test_subclasses_keep_their_attributes():
    cfg = errors.ConfigError("policy", "must be 'fcfs' or 'priority', got 'x'")
    assert (cfg.field, cfg.message) == ("policy", "must be 'fcfs' or 'priority', got 'x'")
    assert isinstance(cfg, ValueError)  # callers that catch ValueError still do
    cond = errors.ConditionError("a ==", 4, "expected a value")
    assert (cond.text, cond.position, cond.message) == ("a ==", 4, "expected a value")
    rec = errors.RecordingError("r.jsonl", 2, "oops")
    assert (rec.path, rec.line, rec.message) == ("r.jsonl", 2, "oops")


def test_the_subclass_table_names_every_subclass_in_its_module():
    import importlib
    for name, module in errors.SUBCLASSES.items():
        cls = getattr(importlib.import_module(module), name)
        assert getattr(errors, name) is cls
        assert issubclass(cls, MiniEngineError)
    with pytest.raises(AttributeError):
        errors.NoSuchError  # noqa: B018


def test_error_line_for_any_exception():
    assert error_line(errors.ScenarioError("x  y", "a.yaml", 1)) == "a.yaml:1: x y"
    missing = FileNotFoundError(2, "No such file or directory", "gone.yaml")
    assert error_line(missing) == "gone.yaml: No such file or directory"
    assert error_line(ValueError("two\nlines")) == "two lines"
    assert error_line(KeyError()) == "KeyError"


def test_importing_errors_loads_no_subclass_module():
    # The subclasses are looked up on first use: `mini_engine.errors` adds only itself
    # to what the package already loads (it must not pull in the CLI, the loader, ...).
    probe = ("import sys, mini_engine; before = set(sys.modules); import mini_engine.errors; "
             "print(sorted(set(sys.modules) - before))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() in ("['mini_engine.errors']", "[]")
