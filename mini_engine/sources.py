"""The one loader of what a user names: a scenario file, a bundled scenario's name, or a
recording (.jsonl, or a file without .yaml/.yml that starts like one). The CLI and the
debugger (tui) both open their argument here.

    source = open_source("kv_preemption")      # or "my.yaml", or "run.jsonl"
    source.name                                # "kv_preemption": the scenario's name
    source.scenario                            # the Scenario (a recording carries its own)
    source.loaded                              # the Recording a .jsonl file held, else None
    rec = source.recording(progress=update)    # that Recording, or the scenario recorded now

Bad input raises a `MiniEngineError` with a one-line message naming file, line and field
(`ScenarioError` for a scenario, `RecordingError` for a .jsonl file), never anything else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable

from mini_engine.errors import MiniEngineError
from mini_engine.files.read import open_input
from mini_engine.recording.format import FORMAT
from mini_engine.recording.limits import MAX_RECORDING_BYTES
from mini_engine.recording.store import Recording
from mini_engine.scenarios.spec import Scenario

RECORDING_SUFFIX = ".jsonl"
SCENARIO_SUFFIXES = (".yaml", ".yml")
# How a recording's first line starts, whatever the JSON spacing.
RECORDING_START = re.compile(rb'\s*\{\s*"format"\s*:\s*"' + re.escape(FORMAT.encode()) + rb'"')
RECORD_BATCH = 256  # steps recorded between two progress calls

Progress = Callable[[int], None]  # called with the number of steps done so far


def is_recording_path(arg: str | os.PathLike) -> bool:
    """True when `arg` names a recording rather than a scenario: by its suffix (.jsonl),
    or, for a file named otherwise (no suffix, .txt, but not .yaml or .yml), by its
    first line, a recording's header."""
    text = str(arg)
    if text.endswith(RECORDING_SUFFIX):
        return True
    if text.endswith(SCENARIO_SUFFIXES) or not os.path.isfile(text):
        return False
    try:  # the scenario loader reports any problem with the file
        with open_input(text, what="a file", max_bytes=MAX_RECORDING_BYTES) as f:
            return RECORDING_START.match(f.read(200)) is not None
    except MiniEngineError:
        return False


def open_scenario(arg: str | os.PathLike) -> Scenario:
    """A scenario file's path or a bundled scenario's name (`hello`, `hello.yaml`) -> Scenario."""
    from mini_engine.scenarios.catalog import resolve_scenario
    from mini_engine.scenarios.loader import load_scenario
    return load_scenario(resolve_scenario(arg))


@dataclass(frozen=True)
class Source:
    """An opened argument: its scenario, and the recording when it was a .jsonl file."""

    arg: str  # as the user gave it: what a reload opens again
    scenario: Scenario
    loaded: Recording | None = None  # None: a scenario, recorded on demand

    @property
    def is_recording(self) -> bool:
        return self.loaded is not None

    @property
    def name(self) -> str:
        """The name to show: the scenario's `name`."""
        return self.scenario.name

    def expected_steps(self, until: int | None = None) -> int | None:
        """How many steps `recording(until)` will hold, when known in advance (a progress
        bar's total): `until`, else the recording's length or the scenario's expect block."""
        if self.loaded is not None:
            return self.loaded.num_steps
        if until is not None:
            return until
        expect = self.scenario.expect
        return expect.total_steps if expect is not None else None

    def recording(self, until: int | None = None, progress: Progress | None = None) -> Recording:
        """The loaded recording (whole), or the scenario recorded now: at most `until` steps,
        calling `progress(steps_done)` every RECORD_BATCH steps."""
        if self.loaded is not None:
            return self.loaded
        return record_scenario(self.scenario, until, progress)


def open_source(arg: str | os.PathLike) -> Source:
    """Open a scenario file, a bundled scenario's name or a .jsonl recording; recording a
    scenario is left to `Source.recording()` (it may take a while: the caller shows progress)."""
    text = os.fsdecode(os.fspath(arg))
    if is_recording_path(text):
        from mini_engine.recording.jsonl import load_jsonl
        rec = load_jsonl(text)
        return Source(text, rec.scenario, rec)
    return Source(text, open_scenario(text))


def record_scenario(scenario: Scenario, until: int | None = None,
                    progress: Progress | None = None) -> Recording:
    """Record a scenario's run (its first `until` steps when given), reporting progress."""
    from mini_engine.recording.recorder import record
    return record(scenario, progress, RECORD_BATCH, until)


def as_recording(source: Recording | Scenario | Source) -> Recording:
    """What the exports read: a Recording as given, or a Scenario / Source recorded now."""
    if isinstance(source, Recording):
        return source
    if isinstance(source, Scenario):
        return record_scenario(source)
    if isinstance(source, Source):
        return source.recording()
    raise TypeError(f"expected a Recording, a Scenario or a Source, got {type(source).__name__}")


__all__ = ["RECORDING_SUFFIX", "SCENARIO_SUFFIXES", "Source", "as_recording", "is_recording_path", "open_scenario",
           "open_source", "record_scenario"]
