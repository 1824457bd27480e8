"""The lab: `trace_request` drives the engine by hand and photographs the request after each step."""

from __future__ import annotations

from typing import NamedTuple

from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.sampling_params import SamplingParams


class Event(NamedTuple):
    request_id: str
    status: str
    num_computed_tokens: int
    num_tokens: int


def snapshot(engine: LLMEngine, finished) -> list[Event]:
    """Every running request, then the ones `step()` just finished (they left `running`)."""
    return [Event(r.request_id, r.status.name, r.num_computed_tokens, r.num_tokens)
            for r in [*engine.scheduler.running, *finished]]


def trace_request(prompt: str, max_tokens: int = 4, **engine_kwargs) -> list[Event]:
    """The lab's recipe: one greedy, ignore-EOS request, one snapshot per step."""
    engine = LLMEngine(**engine_kwargs)
    engine.add_request("req-0", prompt,
                       SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True))
    events: list[Event] = []
    while engine.scheduler.has_unfinished_requests():
        events.extend(snapshot(engine, engine.step()))
    return events
