"""How big a recording may get, and a cheap estimate of a run's length before it starts.

A scenario can describe a run that never ends in practice (a request arriving at step
10**9, or one generating 10**9 tokens with `ignore_eos`); recording it would grow the
recording by about 1-5 KB a step until memory runs out. So a run is recorded for at most
MAX_RECORDED_STEPS steps: the recorder stops there with a `StepLimitError`, and `record()`
refuses at once a run whose `estimate_min_steps` is already beyond it. A JSONL file is
refused above MAX_RECORDING_BYTES, a line above MAX_LINE_BYTES, and a frame number above
MAX_RECORDED_STEPS (no producer may write what this tool could not record).

The bundled `large_workload` scenario (about 23,000 steps, 29 MB as JSONL) is far below
every limit.
"""

from __future__ import annotations

from mini_engine.errors import MiniEngineError
from mini_engine.scenarios.spec import Scenario

__all__ = ["MAX_LINE_BYTES", "MAX_RECORDED_STEPS", "MAX_RECORDING_BYTES", "StepLimitError",
           "estimate_min_steps"]

MAX_RECORDED_STEPS = 1_000_000  # engine steps in one recording (frames 0..MAX_RECORDED_STEPS)
MAX_RECORDING_BYTES = 1024 ** 3  # a JSONL recording file: 1 GiB
MAX_LINE_BYTES = 64 * 1024 ** 2  # one JSONL line (the header holds every prompt): 64 MiB


class StepLimitError(MiniEngineError):
    """A run longer than MAX_RECORDED_STEPS: recorded up to the limit and no further."""

    title = "Run too long"

    def __init__(self, scenario: Scenario, detail: str) -> None:
        super().__init__(
            f"{scenario.name}: {detail}; a recording holds at most {MAX_RECORDED_STEPS:,} steps "
            f"(MAX_RECORDED_STEPS): record fewer with --until STEPS, or shorten the scenario",
            path=scenario.source)


def estimate_min_steps(scenario: Scenario) -> int:
    """A lower bound on the steps the scenario's run takes (0 when nothing is certain).

    Cheap (one pass over the requests, no engine): the run lasts at least until its last
    arrival, and a request that must generate k tokens (`ignore_eos`, no stop tokens, a
    prompt that fits) samples at most one token per step, so it is still running k steps
    after it arrives, unless an abort event ends it earlier. Meant for a warning before a
    long run and for refusing a run that could never fit under MAX_RECORDED_STEPS.
    """
    cfg = scenario.engine
    cache_tokens = cfg.num_usable_blocks * cfg.block_size
    aborts: dict[str, int] = {}
    for event in scenario.events:
        if event.action == "abort" and event.request_id is not None:
            aborts[event.request_id] = min(event.step, aborts.get(event.request_id, event.step))
    bound = 0
    for r in scenario.requests:
        end = r.arrival_step
        sp = r.sampling_params
        if sp.ignore_eos and not sp.stop_token_ids:
            n = (len(r.prompt_token_ids) if r.prompt_token_ids is not None
                 else len(r.prompt.encode("utf-8")) if r.prompt is not None else 0)
            # Fewer tokens can be certain if the sequence reaches max_model_len or outgrows
            # the whole cache (the scheduler then ignores it); keep a margin of one.
            certain = min(sp.max_tokens, cfg.max_model_len - n, cache_tokens - n) - 1
            if n < cfg.max_model_len and certain > 0:
                end += certain
        if r.request_id in aborts:
            end = max(r.arrival_step, min(end, aborts[r.request_id]))
        bound = max(bound, end)
    return bound
