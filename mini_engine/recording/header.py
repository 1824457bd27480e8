"""A recording's header line: written from a `Scenario`, read back into one.

Reading builds the engine's own objects (`EngineConfig`, `SamplingParams`), so a header
passes exactly the checks a scenario file does; a setting they refuse, two requests
with one id, or an event naming an unknown request is a `Defect` naming the field,
which the loader reports as `FILE:1: field: message`.
"""

from __future__ import annotations

import dataclasses

from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.recording.format import FORMAT, VERSION, Header
from mini_engine.scenarios.spec import (Expect, GenerateSpec, ModelSpec, RequestSpec, Scenario,
                                        ScenarioEvent)
from mini_engine.version import __version__

__all__ = ["Defect", "header_dict", "scenario_from_header", "show"]


class Defect(ValueError):
    """Something wrong in one line of a recording: the dotted `field` and what."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def show(text: str, limit: int = 60) -> str:
    """A user's string quoted for a one-line message, cut short when it is long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} chars)"


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


def _engine_config(h: Header) -> EngineConfig:
    try:
        return EngineConfig(**h.engine.model_dump())
    except ConfigError as e:
        raise Defect(f"engine.{e.field}" if e.field else "engine", e.message) from None
    except (ValueError, TypeError) as e:
        raise Defect("engine", str(e)) from None


def _requests(h: Header) -> tuple[RequestSpec, ...]:
    first_use: dict[str, int] = {}
    specs = []
    for i, r in enumerate(h.requests):
        where = f"requests.{i}"
        if r.request_id in first_use:
            raise Defect(f"{where}.request_id", f"duplicate request id {show(r.request_id)} "
                                                f"(already used by requests.{first_use[r.request_id]})")
        first_use[r.request_id] = i
        if (r.prompt is None) == (r.prompt_token_ids is None):
            raise Defect(where, "give exactly one of prompt or prompt_token_ids")
        try:
            params = SamplingParams(**r.sampling_params.model_dump())
        except (ValueError, TypeError) as e:  # the engine's ArgumentError names the field
            field = getattr(e, "argument", None)
            raise Defect(f"{where}.sampling_params" + (f".{field}" if field else ""),
                         getattr(e, "message", str(e))) from None
        specs.append(RequestSpec(
            request_id=r.request_id, sampling_params=params, prompt=r.prompt,
            prompt_token_ids=tuple(r.prompt_token_ids) if r.prompt_token_ids is not None else None,
            priority=r.priority, arrival_step=r.arrival_step, cache_salt=r.cache_salt))
    return tuple(specs)


def _events(h: Header, known: set[str]) -> tuple[ScenarioEvent, ...]:
    events = []
    for i, e in enumerate(h.scenario.events):
        where = f"scenario.events.{i}"
        if e.action == "abort":
            if e.request_id is None:
                raise Defect(f"{where}.request_id", "an abort names the request to abort")
            if e.request_id not in known:
                raise Defect(f"{where}.request_id", f"unknown request {show(e.request_id)}")
            if e.reset_running_requests:
                raise Defect(f"{where}.reset_running_requests", "only for reset_prefix_cache")
        elif e.request_id is not None:
            raise Defect(f"{where}.request_id", "only an abort names a request")
        events.append(ScenarioEvent(**e.model_dump()))
    return tuple(events)


def scenario_from_header(h: Header) -> Scenario:
    """The scenario a validated header describes; `Defect` for what the engine would refuse."""
    engine = _engine_config(h)
    requests = _requests(h)
    known = {r.request_id for r in requests}
    d = h.scenario
    expect = None
    if d.expect is not None:
        for rid in d.expect.statuses:
            if rid not in known:
                raise Defect("scenario.expect.statuses", f"unknown request {show(rid)}")
        expect = Expect(**d.expect.model_dump())
    gen = None
    if d.generate is not None:
        g = d.generate.model_dump()
        gen = GenerateSpec(**{**g, "prompt_len": tuple(g["prompt_len"]),
                              "max_tokens": tuple(g["max_tokens"])})
    return Scenario(name=d.name, description=d.description, engine=engine,
                    model=ModelSpec(**d.model.model_dump()), requests=requests,
                    events=_events(h, known), expect=expect, source=d.source, generate=gen)
