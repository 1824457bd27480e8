"""Every error mini_engine shows to a user, and how to show any exception on one line.

`MiniEngineError(message, path=None, line=None, field=None)` is the one base class
(defined in engine/errors.py so the engine's own `ConfigError` can derive from it);
`str()` is one line, `path:line: field: message`. Its subclasses live next to the code
that raises them and are importable from here too (looked up on first use, so that
importing this module loads none of those packages):

    ConfigError        engine/config.py       an engine setting the engine cannot run with
    ConfigTypeError    engine/config.py       ... of the wrong type (also a TypeError)
    ArgumentError      engine/errors.py       a bad argument to the engine's API (a ValueError)
    ArgumentTypeError  engine/errors.py       ... of the wrong type (also a TypeError)
    ModelError         engine/errors.py       a pluggable model that misbehaved in a step
    ScenarioError      scenarios/error.py     a bad scenario file or bundled name
    RecordingError     recording/jsonl.py     a JSONL recording that cannot be loaded
    StepLimitError     recording/limits.py    a run longer than MAX_RECORDED_STEPS
    InputFileError     files/read.py          a file that can't or mustn't be read
    OutputFileError    files/write.py         a file that can't or mustn't be written
    OutputExistsError  files/write.py         ... because it exists (overwrite with force)
    BreakpointError    debug/session.py       a breakpoint the debugger can't use
    ConditionError     debug/conditions.py    a breakpoint condition that doesn't parse
    KeymapError        debug/keymap_config.py a keymap.toml the debugger can't use
    UsageError         cli/common.py          bad command-line input found after parsing
    CommandLineError   cli/common.py          ... found by argparse (an option, a missing name)
"""

from __future__ import annotations

import importlib

from mini_engine.engine.errors import MiniEngineError, join_lines

SUBCLASSES = {
    "ConfigError": "mini_engine.engine.config",
    "ConfigTypeError": "mini_engine.engine.config",
    "ArgumentError": "mini_engine.engine.errors",
    "ArgumentTypeError": "mini_engine.engine.errors",
    "ModelError": "mini_engine.engine.errors",
    "ScenarioError": "mini_engine.scenarios.error",
    "RecordingError": "mini_engine.recording.jsonl",
    "StepLimitError": "mini_engine.recording.limits",
    "InputFileError": "mini_engine.files.read",
    "OutputFileError": "mini_engine.files.write",
    "OutputExistsError": "mini_engine.files.write",
    "BreakpointError": "mini_engine.debug.session",
    "ConditionError": "mini_engine.debug.conditions",
    "KeymapError": "mini_engine.debug.keymap_config",
    "UsageError": "mini_engine.cli.common",
    "CommandLineError": "mini_engine.cli.common",
}

__all__ = ["MiniEngineError", "error_line", *SUBCLASSES]


def __getattr__(name: str):
    """`from mini_engine.errors import ScenarioError`: import its module on first use."""
    module = SUBCLASSES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def error_line(error: BaseException) -> str:
    """Any exception as one line of text for a user: a MiniEngineError as it is, an
    OSError as `filename: reason` (the name as files.read.display_name shows it: escaped,
    a long one shortened), anything else as its message (or its type's name)."""
    if isinstance(error, MiniEngineError):
        return error.one_line()
    text = " ".join(str(error).split())
    if isinstance(error, OSError) and error.filename is not None:
        from mini_engine.files.read import display_name  # it imports this module
        return f"{display_name(error.filename)}: {error.strerror or text}"
    return text or type(error).__name__
