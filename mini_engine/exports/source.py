"""The recording an export reads: a `Recording` as given, or a `Scenario` recorded now."""

from __future__ import annotations

from mini_engine.recording.store import Recording, record
from mini_engine.scenarios.spec import Scenario


def as_recording(source: Recording | Scenario) -> Recording:
    if isinstance(source, Scenario):
        return record(source)
    if isinstance(source, Recording):
        return source
    raise TypeError(f"expected a Recording or a Scenario, got {type(source).__name__}")
