"""Open a capture as a Recording: its replay on mini_engine, verified against every captured field.

A capture holds vLLM's decisions but not the events a Recording is built from (which
blocks were hashed, why a request waited), so opening one runs its replay scenario
(capture_load.replay_scenario) on mini_engine in vllm_compat mode and checks that run
step by step against the capture (capture_diff): scheduled tokens, admissions,
preemptions, finishes, queues, block tables, free blocks, KV usage, prefix-cache
stats. When they all agree the replay's Recording is what vLLM did, field for field,
and the viewer, `run`, `check` and the exports read it; when they don't, the capture
is refused with its first divergence (`mini-engine replay FILE` shows them all).
"""

from __future__ import annotations

import os

from mini_engine.recording.capture_diff import divergences
from mini_engine.recording.capture_load import Capture, load_capture, replay_scenario
from mini_engine.recording.recorder import record
from mini_engine.recording.store import Recording


def open_capture(path: str | os.PathLike, error) -> tuple[Capture, Recording]:
    """(the capture, its verified Recording); `error(line, message, field)` builds the exception."""
    cap = load_capture(path, error)
    if not cap.steps:
        raise error(1, "the capture has no step: nothing to show", None)
    rec = record(replay_scenario(cap), until=len(cap.steps) if not cap.complete else None)
    first = divergences(cap, rec, limit=1)
    if first:
        d = first[0]
        raise error(d.step + 1, f"vLLM {_short(d.vllm)}, mini_engine's replay "
                                f"{_short(d.mini_engine)} at step {d.step}: a capture opens as "
                                f"its verified replay (see `mini-engine replay {cap.path}`)",
                    d.field)
    return cap, rec


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:120] + "..."
