"""Recordings: a seekable timeline of a run, built only from what an engine emits.

`codes` (the stored codes and their names), `records` (the immutable values handed
out), `store` (`Recording`: keyframes, deltas, seek, the event index), `analysis`
(lifecycles, per-request metrics), `recorder` (`RecordingBuilder` from engine
events; `Recorder`/`record` for a live run), `jsonl` (format v2 on disk).
"""

from mini_engine.recording.codes import (BLOCK_STATE_NAMES, EVENT_KINDS, PENDING, STATUS_NAMES,
                                         STEP_KIND_NAMES, WAITING_REASONS)
from mini_engine.recording.records import (Happening, RequestMetrics, RequestState, StepDelta,
                                           StepMetrics, StepRecord, StepState, Summary)
from mini_engine.recording.recorder import Recorder, RecordingBuilder, record
from mini_engine.recording.store import Recording

__all__ = ["BLOCK_STATE_NAMES", "EVENT_KINDS", "Happening", "PENDING", "Recorder", "Recording",
           "RecordingBuilder", "RequestMetrics", "RequestState", "STATUS_NAMES", "STEP_KIND_NAMES",
           "StepDelta", "StepMetrics", "StepRecord", "StepState", "Summary", "WAITING_REASONS",
           "record"]
