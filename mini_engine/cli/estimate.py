"""How big a run will be, said before it starts: a scenario with `arrival_step: 1000000000`
or `max_tokens: 100000000` is legal but records for hours, growing by megabytes a second,
so `run` and `export` warn on stderr (steps, requests, approximate MB) instead of sitting
silent. The numbers are estimates from the scenario alone, without running the engine.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from mini_engine.cli.common import PROG, say
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import Source

# Warn when a run is estimated above either (large_workload, the biggest bundled
# scenario: ~23,000 steps, ~110 MB recorded, stays below both).
WARN_STEPS = 100_000
WARN_MB = 500
# What a recording holds in memory, measured on large_workload (111 MB for 23,136 steps
# and 287,307 scheduled entries): about this much per step plus this much per entry.
BYTES_PER_STEP = 1_000
BYTES_PER_ENTRY = 350


@dataclass(frozen=True)
class RunSize:
    steps: int  # about how many steps the run takes (a lower bound if nothing is preempted)
    requests: int
    megabytes: float  # about how much the recording holds in memory

    @property
    def large(self) -> bool:
        return self.steps > WARN_STEPS or self.megabytes > WARN_MB


def estimate(scenario: Scenario, until: int | None = None) -> RunSize:
    """The run's size from its requests: each decodes one token per step after it arrives
    (at most max_tokens, and never past max_model_len), every step fits at most
    max_num_batched_tokens tokens and max_num_seqs sequences, and the run lasts at least
    until the last arrival or event."""
    cfg = scenario.engine
    last_event = max((e.step for e in scenario.events), default=0)
    ends, tokens, decodes = [last_event], 0, 0
    for spec in scenario.requests:
        prompt = (len(spec.prompt_token_ids) if spec.prompt_token_ids is not None
                  else len((spec.prompt or "").encode("utf-8")))
        outputs = max(1, min(spec.sampling_params.max_tokens, cfg.max_model_len - prompt))
        ends.append(spec.arrival_step + outputs)
        tokens += prompt + outputs
        decodes += outputs
    steps = max(max(ends), -(-tokens // cfg.max_num_batched_tokens),
                -(-decodes // cfg.max_num_seqs))
    if until is not None:
        steps = min(steps, until)
    entries = min(decodes + len(scenario.requests), steps * cfg.max_num_seqs)
    megabytes = (steps * BYTES_PER_STEP + entries * BYTES_PER_ENTRY) / 1e6
    return RunSize(steps, len(scenario.requests), megabytes)


def warn_if_large(source: Source, until: int | None = None, hint: str = "") -> RunSize | None:
    """Say on stderr how big the run will be when it is large (`hint`: what else the user
    can do); a loaded recording is already bounded by its file: never warned about."""
    if source.is_recording:
        return None
    size = estimate(source.scenario, until)
    if size.large:
        say(f"{PROG}: warning: {source.name}: a large run: about {size.steps:,} steps, "
            f"{size.requests:,} request{'s' if size.requests != 1 else ''}, ~{size.megabytes:,.0f} MB to record (Ctrl-C stops "
            f"it{hint})", sys.stderr)
    return size
