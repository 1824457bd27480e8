"""vLLM-compatible mode (`EngineConfig.vllm_compat`): the three lab differences switched off.

By default the engine follows the lab in three places where vLLM 0.33 differs (README
"Where we follow the lab instead of vLLM 0.33"). With `vllm_compat` the scheduler does
what vLLM 0.33 does (vllm/v1/core/sched/scheduler.py, v1/engine/core.py):

1. `long_prefill_token_threshold` is ignored while at most one request is eligible:
   `schedule()` counts `num_eligible_reqs = num_running + num_waiting` when it starts
   (preempted requests wait, so they count) and clamps with the threshold only
   `if num_eligible_reqs > 1` -- a lone request has nobody to starve. The count is
   taken once per step, so a companion arriving later turns the threshold on from its
   arrival step, and the last companion finishing turns it off from the next step.
   See `long_prefill_threshold`.
2. The length stop is named FINISHED_LENGTH_CAPPED (finish reason "length"):
   `length_status`.
3. The trailing step: vLLM's EngineCore steps while `scheduler.has_requests()`, that is
   while requests are unfinished *or* finished ids still wait to be shipped in the next
   SchedulerOutput; so after the last finish one more step runs, schedules nothing and
   carries those ids. The scheduler's `has_unfinished_requests()` (the run loop's
   condition) answers `has_requests()` in this mode.

Each is decided once per step (or per run), never per request.
"""

from __future__ import annotations

from mini_engine.engine.request import RequestStatus


def length_status(vllm_compat: bool) -> RequestStatus:
    """The status of a request stopped by `max_tokens` or `max_model_len`."""
    return RequestStatus.FINISHED_LENGTH_CAPPED if vllm_compat else RequestStatus.FINISHED_LENGTH


def long_prefill_threshold(threshold: int, vllm_compat: bool, num_eligible: int) -> int:
    """This step's prefill cap per request (0: none), from the setting and the number of
    requests running or waiting when `schedule()` starts. The lab always applies it."""
    return 0 if vllm_compat and num_eligible <= 1 else threshold
