"""JSONL recordings, format v2 (format.py): save a run's emitted stream, load it back.

Saving writes what the engine emitted, frame by frame: a recording made by mini_engine
is deterministic, so its stream is produced again by replaying its scenario (the
header holds it) rather than kept in memory; a file is written through
`files.write.atomic_write`, so a failed save leaves nothing half-written.

Loading reads the file through `files.read.open_input` (regular files only, at most
MAX_RECORDING_BYTES) one line at a time (at most MAX_LINE_BYTES each, never the whole
file), validates each line (format.py: strict types and bounds), checks it against
the header and the frames before it (checks.py), and feeds it to the same
`RecordingBuilder` a live run uses, so a loaded recording compares equal to the
original. Every problem is one `RecordingError` line, `FILE:LINE: field: message`.
"""

from __future__ import annotations

import json
import os
from itertools import islice
from typing import IO, BinaryIO, Callable, Iterator

from pydantic import ValidationError

from mini_engine.engine.events import (EVENT_TYPES, EngineStep, ScheduleView, StepStats,
                                       event_to_dict)
from mini_engine.errors import MiniEngineError
from mini_engine.files.read import InputFileError, display_name, format_size, open_input
from mini_engine.files.write import atomic_write
from mini_engine.recording.checks import FrameChecker
from mini_engine.recording.format import (FORMAT, VERSION, FinalLine, Header, Step,
                                          recording_json_schema)
from mini_engine.recording.header import Defect, header_dict, scenario_from_header, show
from mini_engine.recording.limits import MAX_LINE_BYTES, MAX_RECORDING_BYTES
from mini_engine.recording.recorder import RecordingBuilder, emitted_frames
from mini_engine.recording.store import Recording

__all__ = ["FORMAT", "MAX_LINE_BYTES", "MAX_RECORDING_BYTES", "VERSION", "RecordingError",
           "header_dict", "iter_lines", "load_jsonl", "recording_json_schema", "save_jsonl"]

_MAX_MESSAGE = 300  # characters of a validation message kept in an error line


class RecordingError(MiniEngineError):
    """A JSONL recording that cannot be loaded; str() is one line: path:line: field: what."""

    title = "Recording error"

    def __init__(self, path: str, line: int | None, message: str,
                 field: str | None = None) -> None:
        super().__init__(message, path=path, line=line, field=field)


# ----------------------------------------------------------------------------- lines

def step_dict(step: EngineStep | None, after: tuple, frame: int) -> dict:
    """One frame's line: the engine's record of the step (none for frame 0) and what followed."""
    line: dict = {"step": frame}
    if step is not None:
        line["scheduled"] = [list(entry) for entry in zip(step.req_ids, step.num_scheduled_tokens,
                                                           step.sampled)]
        line["events"] = [event_to_dict(e) for e in step.events]
        line["finished"] = list(step.finished)
        line["at_schedule"] = step.at_schedule._asdict()
        line["stats"] = step.stats._asdict()
    line["after"] = [event_to_dict(e) for e in after]
    return line


def _event(line):
    """A validated event line as the engine's event (lists as tuples; no dump round trip)."""
    return EVENT_TYPES[line.kind](**{k: tuple(v) if type(v) is list else v
                                     for k, v in vars(line).items()})


def _engine_step(s: Step) -> EngineStep:
    req_ids, num_tokens, sampled = zip(*s.scheduled) if s.scheduled else ((), (), ())
    return EngineStep(
        step=s.step, req_ids=req_ids, num_scheduled_tokens=num_tokens,
        total_num_scheduled_tokens=sum(num_tokens), sampled=sampled,
        events=tuple(map(_event, s.events)), num_before=0, finished=tuple(s.finished),
        at_schedule=ScheduleView(**vars(s.at_schedule)), stats=StepStats(**vars(s.stats)))


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ----------------------------------------------------------------------------- save

def iter_lines(rec: Recording, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The recording's JSONL lines (newline included), its run replayed up to its last frame."""
    yield _dumps(header_dict(rec.scenario)) + "\n"
    frame = -1
    frames = islice(emitted_frames(rec.scenario), rec.num_steps + 1)
    for frame, (step, after) in enumerate(frames):
        yield _dumps(step_dict(step, after, frame)) + "\n"
        if progress is not None and frame % 256 == 0:
            progress(frame)
    # The frames written (a recording from another producer may replay shorter).
    complete = rec.complete and frame == rec.num_steps
    yield _dumps({"final": {"num_steps": frame, "complete": complete}}) + "\n"


def save_jsonl(recording: Recording, path_or_file: str | os.PathLike | IO[str],
               progress: Callable[[int], None] | None = None, *, force: bool = False) -> None:
    """Write the recording (header, one line per frame, final line) to an open text file,
    or all-or-nothing to a path (`atomic_write`: an existing file is replaced only with
    `force`, else `OutputExistsError`)."""
    if not isinstance(path_or_file, (str, os.PathLike)):
        path_or_file.writelines(iter_lines(recording, progress))
        return
    with atomic_write(path_or_file, force=force) as f:
        f.writelines(iter_lines(recording, progress))


# ----------------------------------------------------------------------------- load

def load_jsonl(path: str | os.PathLike) -> Recording:
    """Rebuild a Recording from a JSONL file without the engine; RecordingError if it's bad."""
    try:
        with open_input(path, what="a recording", max_bytes=MAX_RECORDING_BYTES) as f:
            return _Reader(display_name(path), f).read()
    except InputFileError as e:
        raise RecordingError(e.path, e.line, e.message, e.field) from None
    except _CaptureFile:
        return load_capture_recording(path)


def load_capture_recording(path: str | os.PathLike) -> Recording:
    """A capture of a real vLLM server (capture_open.py): its replay, verified field by field."""
    from mini_engine.recording.capture_open import open_capture
    name = display_name(path)
    return open_capture(path, lambda line, message, field: RecordingError(
        name, line, message, field))[1]


class _CaptureFile(Exception):
    """The header says `"kind": "capture"`: read by capture_open, not line by line here."""


def _short_field(loc: tuple) -> str:
    return ".".join(show(p, 40)[1:-1] if isinstance(p, str) and len(p) > 40 else str(p)
                    for p in loc)


def _validation_error(name: str, lineno: int, e: ValidationError) -> RecordingError:
    err = e.errors(include_url=False, include_input=False)[0]
    msg = err["msg"]
    if len(msg) > _MAX_MESSAGE:
        msg = msg[:_MAX_MESSAGE] + "..."
    if err["type"] == "json_invalid":
        return RecordingError(name, lineno, f"invalid JSON: {msg.removeprefix('Invalid JSON: ')}")
    return RecordingError(name, lineno, msg, _short_field(err["loc"]) or None)


def _is_final(line: str) -> bool:
    head = line.lstrip()
    return head.startswith("{") and head[1:].lstrip().startswith('"final"')


class _Reader:
    """One pass over a recording file: lines in, a Recording out."""

    def __init__(self, name: str, f: BinaryIO) -> None:
        self.name = name
        self.f = f
        self.lineno = 0

    def error(self, message: str, field: str | None = None,
              line: int | None = -1) -> RecordingError:
        return RecordingError(self.name, self.lineno if line == -1 else line, message, field)

    def next_line(self) -> str | None:
        """The next line (with its newline), None at the end of the file."""
        raw = self.f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return None
        self.lineno += 1
        if len(raw) > MAX_LINE_BYTES:
            raise self.error(f"line longer than {format_size(MAX_LINE_BYTES)} "
                             f"(MAX_LINE_BYTES): not a recording this tool can read")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.error(f"not UTF-8 text (invalid byte 0x{raw[e.start]:02x} at byte "
                             f"{e.start + 1} of the line)") from None
        if not line.endswith("\n"):
            raise self.error("truncated line (no newline at the end)")
        return line

    def validate(self, model, line: str):
        try:
            return model.model_validate_json(line)
        except ValidationError as e:
            raise _validation_error(self.name, self.lineno, e) from None

    def read(self) -> Recording:
        first = self.next_line()
        if first is None:
            raise self.error("empty file: expected a mini-engine-recording header", line=1)
        header = self.header(first)
        try:
            scenario = scenario_from_header(header)
        except Defect as e:
            raise self.error(e.message, e.field) from None
        builder = RecordingBuilder(scenario)
        checker = FrameChecker(scenario)
        while True:
            line = self.next_line()
            if line is None:
                raise self.error(f"truncated: ends after step {builder.recording.num_steps} "
                                 f"without the final line")
            if _is_final(line):
                return self.finish(line, builder, checker)
            self.add_frame(self.validate(Step, line), builder, checker)

    def header(self, line: str) -> Header:
        try:
            first = json.loads(line)
        except RecursionError:
            raise self.error("invalid JSON: nested too deeply") from None
        except ValueError as e:
            reason = (f"{e.msg} at column {e.colno}" if isinstance(e, json.JSONDecodeError)
                      else " ".join(str(e).split())[:_MAX_MESSAGE])
            raise self.error(f"invalid JSON: {reason}") from None
        if not isinstance(first, dict) or first.get("format") != FORMAT:
            got = first.get("format") if isinstance(first, dict) else type(first).__name__
            got = show(got) if isinstance(got, str) else repr(got)[:60]
            raise self.error(f"not a mini-engine recording (format is {got}, "
                             f"expected {FORMAT!r})")
        version = first.get("version")
        if version != VERSION or isinstance(version, bool):
            raise self.error(f"unsupported recording version {repr(version)[:40]}: this tool "
                             f"reads version {VERSION} (record the scenario again with "
                             f"`mini-engine export SCENARIO --jsonl OUT`)")
        if first.get("kind") == "capture":
            raise _CaptureFile()
        return self.validate(Header, line)

    def add_frame(self, step: Step, builder: RecordingBuilder, checker: FrameChecker) -> None:
        expected = builder.recording.num_steps + 1
        if step.step != expected:
            raise self.error(f"expected {expected}, found {step.step}", "step")
        try:
            checker.check(step)
        except Defect as e:
            raise self.error(e.message, e.field) from None
        try:
            after = tuple(map(_event, step.after))
            if step.step == 0:
                builder.begin(after)
            else:
                builder.add_step(_engine_step(step), after)
        except (KeyError, ValueError, IndexError, TypeError) as e:  # a check missed something
            raise self.error(f"inconsistent step {step.step}: {type(e).__name__}: "
                             f"{' '.join(str(e).split())[:_MAX_MESSAGE]}") from None

    def finish(self, line: str, builder: RecordingBuilder, checker: FrameChecker) -> Recording:
        final = self.validate(FinalLine, line).final
        rec = builder.recording
        if final.num_steps != rec.num_steps:
            raise self.error(f"says {final.num_steps}, the file has {rec.num_steps}",
                             "final.num_steps")
        try:
            checker.check_final(final.complete)
        except Defect as e:
            raise self.error(e.message, e.field) from None
        if self.f.read(1):
            raise self.error("unexpected data after the final line", line=self.lineno + 1)
        if final.complete:
            builder.finish()
        return rec
