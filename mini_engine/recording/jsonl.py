"""JSONL recordings: a versioned header line, one line per step (its `StepDelta`), a final line.

Lines are written and read one at a time (never the whole file in memory); loading
replays the deltas through `Recording._apply`, the same code the recorder uses, so
the loaded recording compares equal to the original. Every problem is a one-line
`RecordingError` naming the file, the line and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import IO

import numpy as np

from mini_engine.engine.config import EngineConfig
from mini_engine.errors import MiniEngineError
from mini_engine.recording.store import Happening, Recording, StepDelta, StepMetrics, _ro
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.scenarios.spec import (Expect, GenerateSpec, ModelSpec, RequestSpec, Scenario, ScenarioEvent)

FORMAT = "mini-engine-recording"
VERSION = 1


class RecordingError(MiniEngineError):
    """A JSONL recording that cannot be loaded; str() is one line: path:line: what."""

    title = "Recording error"

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(message, path=path, line=line)


# ----------------------------------------------------------------------------- scenario

def scenario_to_dict(sc: Scenario) -> dict:
    def req(r: RequestSpec) -> dict:
        return {"request_id": r.request_id, "sampling_params": dataclasses.asdict(r.sampling_params),
                "prompt": r.prompt,
                "prompt_token_ids": list(r.prompt_token_ids) if r.prompt_token_ids is not None
                else None, "priority": r.priority, "arrival_step": r.arrival_step}
    return {
        "name": sc.name, "description": sc.description, "engine": sc.engine.to_dict(),
        "model": dataclasses.asdict(sc.model), "requests": [req(r) for r in sc.requests],
        "events": [dataclasses.asdict(e) for e in sc.events],
        "expect": dataclasses.asdict(sc.expect) if sc.expect is not None else None,
        "source": sc.source,
        "generate": dataclasses.asdict(sc.generate) if sc.generate is not None else None,
    }


def scenario_from_dict(d: dict) -> Scenario:
    gen = d.get("generate")
    if gen is not None:
        gen = GenerateSpec(**{**gen, "prompt_len": tuple(gen["prompt_len"]),
                              "max_tokens": tuple(gen["max_tokens"])})
    return Scenario(
        name=d["name"], description=d["description"], engine=EngineConfig(**d["engine"]),
        model=ModelSpec(**d["model"]),
        requests=tuple(RequestSpec(
            request_id=r["request_id"], sampling_params=SamplingParams(**r["sampling_params"]),
            prompt=r["prompt"],
            prompt_token_ids=tuple(r["prompt_token_ids"]) if r["prompt_token_ids"] is not None
            else None, priority=r["priority"], arrival_step=r["arrival_step"])
            for r in d["requests"]),
        events=tuple(ScenarioEvent(**e) for e in d["events"]),
        expect=Expect(**d["expect"]) if d.get("expect") is not None else None,
        source=d.get("source"), generate=gen)


# ----------------------------------------------------------------------------- steps

def delta_to_dict(d: StepDelta) -> dict:
    return {
        "step": d.step,
        "sched": [d.sched_req.tolist(), d.sched_tokens.tolist(), d.sched_kind.tolist()],
        "rows": d.rows.tolist(),
        "tables": [[ri, op, list(blocks)] for ri, op, blocks in d.table_ops],
        "blocks": d.block_changes.tolist(),
        "happened": [h.to_dict() for h in d.happenings],
        "reported": list(d.reported_finished),
        "metrics": dataclasses.asdict(d.metrics),
    }


def delta_from_dict(o: dict) -> StepDelta:
    req, tok, kind = o["sched"]
    rows = np.array(o["rows"], dtype=np.int64).reshape(-1, 7)
    blocks = np.array(o["blocks"], dtype=np.int32).reshape(-1, 2)
    return StepDelta(
        step=int(o["step"]), sched_req=_ro(np.array(req, dtype=np.int32)),
        sched_tokens=_ro(np.array(tok, dtype=np.int32)),
        sched_kind=_ro(np.array(kind, dtype=np.int8)), rows=_ro(rows),
        table_ops=tuple((int(ri), int(op), tuple(b)) for ri, op, b in o["tables"]),
        block_changes=_ro(blocks), happenings=tuple(Happening(**h) for h in o["happened"]),
        reported_finished=tuple(o["reported"]), metrics=StepMetrics(**o["metrics"]))


def _dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ----------------------------------------------------------------------------- save / load

def save_jsonl(recording: Recording, path_or_file: str | os.PathLike | IO[str]) -> None:
    """Write the recording line by line (header, one line per frame, final outputs line)."""
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "w", encoding="utf-8", newline="\n") as f:
            _write(recording, f)
    else:
        _write(recording, path_or_file)


def _write(rec: Recording, f: IO[str]) -> None:
    from mini_engine.version import __version__
    f.write(_dumps({"format": FORMAT, "version": VERSION, "tool_version": __version__,
                    "scenario": scenario_to_dict(rec.scenario),
                    "engine_config": rec.config.to_dict(),
                    "num_steps": rec.num_steps, "complete": rec.complete}) + "\n")
    for d in rec.deltas():
        f.write(_dumps(delta_to_dict(d)) + "\n")
    f.write(_dumps({"final": {"outputs": [list(rec.output_token_ids(r))
                                          for r in rec.request_ids]}}) + "\n")


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


def _parse(name: str, lineno: int, line: str) -> dict:
    if not line.endswith("\n"):
        raise RecordingError(name, lineno, "truncated line (no newline at the end)")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordingError(name, lineno, f"invalid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict):
        raise RecordingError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _read(name: str, f: IO[str]) -> Recording:
    first = f.readline()
    if not first:
        raise RecordingError(name, 1, "empty file: expected a mini-engine-recording header")
    header = _parse(name, 1, first)
    if header.get("format") != FORMAT:
        raise RecordingError(name, 1, f"not a mini-engine recording "
                                      f"(format is {header.get('format')!r}, expected {FORMAT!r})")
    if header.get("version") != VERSION:
        raise RecordingError(name, 1, f"unsupported recording version {header.get('version')!r} "
                                      f"(this tool reads version {VERSION})")
    try:
        scenario = scenario_from_dict(header["scenario"])
    except Exception as e:  # noqa: BLE001 - any malformed field becomes one line
        raise RecordingError(name, 1, f"bad scenario in header: {type(e).__name__}: {e}") from None
    rec = Recording(scenario, tool_version=header.get("tool_version"))
    expected = header.get("num_steps")
    lineno = 1
    final = None
    for line in f:
        lineno += 1
        obj = _parse(name, lineno, line)
        if "final" in obj:
            final = obj["final"]
            break
        try:
            delta = delta_from_dict(obj)
        except Exception as e:  # noqa: BLE001
            raise RecordingError(name, lineno, f"bad step line: {type(e).__name__}: {e}") from None
        if delta.step != rec.num_steps + 1:
            raise RecordingError(name, lineno, f"expected step {rec.num_steps + 1}, "
                                               f"found step {delta.step}")
        try:
            rec._apply(delta)
        except Exception as e:  # noqa: BLE001
            raise RecordingError(name, lineno, f"inconsistent step {delta.step}: "
                                               f"{type(e).__name__}: {e}") from None
    if final is None:
        raise RecordingError(name, lineno, f"truncated: ends after step {rec.num_steps}"
                                           f" without the final line")
    if expected is not None and expected != rec.num_steps:
        raise RecordingError(name, lineno, f"header says {expected} steps, found {rec.num_steps}")
    outputs = final.get("outputs")
    if not isinstance(outputs, list) or len(outputs) != len(rec.request_ids):
        raise RecordingError(name, lineno, "final line: outputs must list one entry per request")
    if f.readline():
        raise RecordingError(name, lineno + 1, "unexpected data after the final line")
    rec._finish({i: tuple(o) for i, o in enumerate(outputs)})
    if not header.get("complete", True):
        rec.complete = False
    return rec
