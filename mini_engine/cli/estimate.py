"""How big a run will be, said before it starts. A scenario with `arrival_step: 900000`
or `max_tokens: 900000` is legal but records for many minutes, growing by megabytes a
second, so `run`, `export` and `check` first refuse a run that cannot fit under the
recorder's step limit (MAX_RECORDED_STEPS, from its certain lower bound) and warn on
stderr about a large one (steps, requests, approximate MB) instead of sitting silent.
The numbers come from the scenario alone, without running the engine.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from mini_engine.cli.common import PROG, say
from mini_engine.recording import limits
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
    steps: int  # about how many steps the run takes
    requests: int
    megabytes: float  # about how much the recording holds in memory

    @property
    def large(self) -> bool:
        return self.steps > WARN_STEPS or self.megabytes > WARN_MB


def estimate(scenario: Scenario, until: int | None = None) -> RunSize:
    """The run's size: at least the recorder's certain lower bound (`estimate_min_steps`),
    and about as long as its requests need if each generates its max_tokens (never past
    max_model_len), one token per step after it arrives, with at most
    max_num_batched_tokens tokens and max_num_seqs sequences a step."""
    cfg = scenario.engine
    ends, tokens, decodes = [limits.estimate_min_steps(scenario)], 0, 0
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


def check_run_size(source: Source, until: int | None = None, hint: str = "") -> RunSize | None:
    """Before recording `source` (up to `until` steps): a StepLimitError (one line) if the
    run certainly outgrows MAX_RECORDED_STEPS, else a warning on stderr when it is large
    (`hint`: what else the user can do). A loaded recording is bounded by its file."""
    if source.is_recording:
        return None
    scenario, limit = source.scenario, limits.MAX_RECORDED_STEPS
    if until is None or until > limit:
        at_least = limits.estimate_min_steps(scenario)
        if at_least > limit:  # as record() refuses it: say so before any output
            raise limits.StepLimitError(scenario, f"the run takes at least {at_least:,} steps")
    size = estimate(scenario, until)
    if size.large:
        stops = f"; it stops at the {limit:,}-step limit" if size.steps > limit else ""
        say(f"{PROG}: warning: {source.name}: a large run: about {size.steps:,} steps, "
            f"{size.requests:,} request{'s' if size.requests != 1 else ''}, "
            f"~{size.megabytes:,.0f} MB to record{stops} (Ctrl-C stops it{hint})", sys.stderr)
    return size
