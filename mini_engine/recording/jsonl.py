"""JSONL recordings, format v2 (format.py): save a run's emitted stream, load it back.

Saving writes what the engine emitted, frame by frame: a recording made by mini_engine
is deterministic, so its stream is produced again by replaying its scenario (the
header holds it) rather than kept in memory. Loading validates each line (pydantic,
strict) and feeds it to the same `RecordingBuilder` a live run uses, so a loaded
recording compares equal to the original. Lines are read and written one at a time;
a file is written to a temporary name and renamed, so a failed save leaves nothing
half-written. Every problem is one `RecordingError` line naming file, line and field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import IO, Callable, Iterator

from pydantic import ValidationError

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.events import (EngineStep, ScheduleView, StepStats, event_from_dict,
                                       event_to_dict)
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.errors import MiniEngineError
from mini_engine.recording.format import (FORMAT, VERSION, FinalLine, Header, Step,
                                          recording_json_schema)
from mini_engine.recording.recorder import RecordingBuilder, emitted_frames
from mini_engine.recording.store import Recording
from mini_engine.scenarios.spec import (Expect, GenerateSpec, ModelSpec, RequestSpec, Scenario,
                                        ScenarioEvent)
from mini_engine.version import __version__

__all__ = ["FORMAT", "VERSION", "RecordingError", "iter_lines", "load_jsonl",
           "recording_json_schema", "save_jsonl"]


class RecordingError(MiniEngineError):
    """A JSONL recording that cannot be loaded; str() is one line: path:line: what."""

    title = "Recording error"

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(message, path=path, line=line)


# ----------------------------------------------------------------------------- header

def _plain(value):
    """Tuples as lists, recursively (JSON's shape)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def header_dict(sc: Scenario) -> dict:
    """The header line of a recording of `sc`."""
    requests = []
    for r in sc.requests:
        d = {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}
        d["sampling_params"] = dataclasses.asdict(r.sampling_params)
        requests.append(_plain(d))
    return {
        "format": FORMAT, "version": VERSION,
        "producer": {"name": "mini-engine", "version": __version__},
        "engine": sc.engine.to_dict(), "requests": requests,
        "scenario": _plain({
            "name": sc.name, "description": sc.description,
            "model": dataclasses.asdict(sc.model),
            "events": [dataclasses.asdict(e) for e in sc.events],
            "expect": dataclasses.asdict(sc.expect) if sc.expect is not None else None,
            "source": sc.source,
            "generate": dataclasses.asdict(sc.generate) if sc.generate is not None else None}),
    }


def scenario_from_header(h: Header) -> Scenario:
    d = h.scenario
    gen = d.get("generate")
    if gen is not None:
        gen = GenerateSpec(**{**gen, "prompt_len": tuple(gen["prompt_len"]),
                              "max_tokens": tuple(gen["max_tokens"])})
    requests = []
    for r in h.requests:
        fields = r.model_dump()
        fields["sampling_params"] = SamplingParams(**fields["sampling_params"])
        if fields["prompt_token_ids"] is not None:
            fields["prompt_token_ids"] = tuple(fields["prompt_token_ids"])
        requests.append(RequestSpec(**fields))
    return Scenario(
        name=d["name"], description=d["description"], engine=EngineConfig(**h.engine),
        model=ModelSpec(**d["model"]), requests=tuple(requests),
        events=tuple(ScenarioEvent(**e) for e in d["events"]),
        expect=Expect(**d["expect"]) if d.get("expect") is not None else None,
        source=d.get("source"), generate=gen)


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


def _engine_step(s: Step) -> EngineStep:
    return EngineStep(
        step=s.step, req_ids=tuple(rid for rid, _, _ in s.scheduled),
        num_scheduled_tokens=tuple(n for _, n, _ in s.scheduled),
        total_num_scheduled_tokens=sum(n for _, n, _ in s.scheduled),
        sampled=tuple(t for _, _, t in s.scheduled),
        events=tuple(event_from_dict(e.model_dump()) for e in s.events), num_before=0,
        finished=tuple(s.finished), at_schedule=ScheduleView(**s.at_schedule.model_dump()),
        stats=StepStats(**s.stats.model_dump()))


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ----------------------------------------------------------------------------- save

def iter_lines(rec: Recording, progress: Callable[[int], None] | None = None) -> Iterator[str]:
    """The recording's JSONL lines (newline included), its run replayed up to its last frame."""
    yield _dumps(header_dict(rec.scenario)) + "\n"
    frame = -1
    for frame, (step, after) in enumerate(emitted_frames(rec.scenario)):
        if frame > rec.num_steps:
            break
        yield _dumps(step_dict(step, after, frame)) + "\n"
        if progress is not None and frame % 256 == 0:
            progress(frame)
    yield _dumps({"final": {"num_steps": rec.num_steps, "complete": rec.complete}}) + "\n"


def save_jsonl(recording: Recording, path_or_file: str | os.PathLike | IO[str],
               progress: Callable[[int], None] | None = None) -> None:
    """Write the recording (header, one line per frame, final line); atomically to a path."""
    if not isinstance(path_or_file, (str, os.PathLike)):
        path_or_file.writelines(iter_lines(recording, progress))
        return
    target = os.fspath(path_or_file)
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=".jsonl",
                               dir=os.path.dirname(os.path.abspath(target)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.writelines(iter_lines(recording, progress))
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- load

def load_jsonl(path: str | os.PathLike) -> Recording:
    """Rebuild a Recording from a JSONL file without the engine; RecordingError if it's bad."""
    name = os.fspath(path)
    try:
        f = open(name, "r", encoding="utf-8")
    except IsADirectoryError:
        raise RecordingError(name, None, "is a directory, not a recording file") from None
    except FileNotFoundError:
        raise RecordingError(name, None, "no such file") from None
    except OSError as e:
        raise RecordingError(name, None, f"cannot open: {e.strerror}") from None
    with f:
        try:
            return _read(name, f)
        except UnicodeDecodeError:
            raise RecordingError(name, None, "not a text file (invalid UTF-8)") from None


def _validate(model, name: str, lineno: int, line: str):
    """Parse one line with `model`; the first defect as `file:line: field: message`."""
    if not line.endswith("\n"):
        raise RecordingError(name, lineno, "truncated line (no newline at the end)")
    try:
        return model.model_validate_json(line)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "json_invalid":
            raise RecordingError(name, lineno, f"invalid JSON: {err['msg']}") from None
        raise RecordingError(name, lineno, f"{where}: {err['msg']}" if where
                             else err["msg"]) from None


def _check_header(name: str, line: str) -> Header:
    try:
        first = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordingError(name, 1, f"invalid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(first, dict) or first.get("format") != FORMAT:
        got = first.get("format") if isinstance(first, dict) else type(first).__name__
        raise RecordingError(name, 1, f"not a mini-engine recording (format is {got!r}, "
                                      f"expected {FORMAT!r})")
    if first.get("version") != VERSION:
        raise RecordingError(name, 1, f"unsupported recording version {first.get('version')!r}: "
                                      f"this tool reads version {VERSION} (record the scenario "
                                      f"again with `mini-engine export SCENARIO --jsonl OUT`)")
    return _validate(Header, name, 1, line)


def _read(name: str, f: IO[str]) -> Recording:
    first = f.readline()
    if not first:
        raise RecordingError(name, 1, "empty file: expected a mini-engine-recording header")
    header = _check_header(name, first)
    try:
        scenario = scenario_from_header(header)
    except (MiniEngineError, ValueError, TypeError, KeyError) as e:
        raise RecordingError(name, 1, f"bad header: {e}") from None
    builder = RecordingBuilder(scenario)
    lineno = 1
    for line in f:
        lineno += 1
        if line.startswith('{"final"'):
            return _finish(name, lineno, line, f, builder)
        step = _validate(Step, name, lineno, line)
        _add_frame(name, lineno, builder, step)
    raise RecordingError(name, lineno, f"truncated: ends after step "
                                       f"{builder.recording.num_steps} without the final line")


def _add_frame(name: str, lineno: int, builder: RecordingBuilder, step: Step) -> None:
    expected = builder.recording.num_steps + 1
    if step.step != expected:
        raise RecordingError(name, lineno, f"step: expected {expected}, found {step.step}")
    if step.step > 0 and (step.stats is None or step.at_schedule is None):
        raise RecordingError(name, lineno, "stats: a step after 0 needs stats and at_schedule")
    try:
        after = tuple(event_from_dict(e.model_dump()) for e in step.after)
        if step.step == 0:
            builder.begin(after)
        else:
            builder.add_step(_engine_step(step), after)
    except (KeyError, ValueError, IndexError, TypeError) as e:
        raise RecordingError(name, lineno, f"inconsistent step {step.step}: "
                                           f"{type(e).__name__}: {e}") from None


def _finish(name: str, lineno: int, line: str, f: IO[str], builder: RecordingBuilder) -> Recording:
    final = _validate(FinalLine, name, lineno, line).final
    rec = builder.recording
    if final.num_steps != rec.num_steps:
        raise RecordingError(name, lineno, f"final.num_steps: says {final.num_steps}, "
                                           f"the file has {rec.num_steps}")
    if f.readline():
        raise RecordingError(name, lineno + 1, "unexpected data after the final line")
    if final.complete:
        builder.finish()
    return rec
