"""The words every view uses for why a request waits and how it finished: one table.

Why one table: the TUI, the CLI, the README and the JSONL once had three spellings of
the same reason (`kv blocks` / `kv_cache`, `preempt step` / `preemption`). Here each
reason has ONE key, the string the engine emits and the JSONL stores (a saved
recording keeps reading the same way), and its `label` IS that key: a display shows
`kv_cache`, never a second name for it. `summary` is the one-line gloss
(`recording.codes.WAITING_REASONS`, where the recording's codes are defined), and
`explanation` the long form a user opens one key away: what happened in schedule()
and which setting or event changes it.

Public API (the TUI imports these): `WAIT_REASONS: dict[str, Reason]` (every waiting
reason, in `codes.REASON_LIST` order), `ADMISSION_STOP_REASONS` (the subset the
engine's AdmissionStopped.reason takes: the step panel's "admission stopped: ..."),
`FINISH_REASONS: dict[str, Reason]` keyed by the finished status name (label: stop,
length, abort, ignored), `wait_label(key)`, `finish_label(status)` and `explain(key)`.
"""

from __future__ import annotations

from dataclasses import dataclass

from mini_engine.recording.codes import REASON_LIST, WAITING_REASONS


@dataclass(frozen=True)
class Reason:
    """One word of the vocabulary: `key` (stored and shown), `label` (what a display
    prints: the key itself), `summary` (one line) and `explanation` (a paragraph)."""

    key: str
    label: str
    summary: str
    explanation: str


_WAIT_DETAIL = {
    "not_arrived": "Its arrival_step is later than this step: the scenario adds it with "
                   "add_request once that many steps have run.",
    "just_arrived": "add_request queued it after this step's schedule() had run (or this "
                    "is step 0, before any schedule()). The next step's schedule() is the "
                    "first to consider it.",
    "preempted": "schedule() needed KV blocks for a running request and found none free, "
                 "so it preempted this one (the lowest-priority / last-admitted running "
                 "request): its blocks were freed and its computed tokens are lost. It "
                 "waits at the front of the queue and recomputes its prompt and outputs "
                 "when resumed. More num_gpu_blocks, fewer max_num_seqs or shorter "
                 "requests avoid it.",
    "budget": "The step's token budget (max_num_batched_tokens) was used up by running "
              "requests and earlier admissions before this request's turn. Raise "
              "max_num_batched_tokens, or lower long_prefill_token_threshold so prefills "
              "take smaller chunks.",
    "max_num_seqs": "max_num_seqs requests were already running: admitting one more "
                    "would exceed the limit. It is admitted when a running request "
                    "finishes or is preempted.",
    "kv_cache": "allocate_slots found too few free KV blocks for this request's "
                "prompt (after its prefix-cache hits). Admission stops at it: FCFS "
                "never skips the head. It runs once running requests finish and free "
                "their blocks; more num_gpu_blocks or prefix caching help.",
    "preemption": "schedule() preempted a running request in this step (the cache was "
                  "full), and a step that preempts admits nobody from the waiting "
                  "queue: vLLM's rule, so the freed blocks go to the running requests.",
    "head_of_line": "It is behind the head of the waiting queue, which could not be "
                    "admitted (its own reason says why). FCFS admits in order, so "
                    "nothing behind the head runs until the head does.",
    "budget_unchunked": "Chunked prefill is off (enable_chunked_prefill: false), and its "
                        "whole prompt does not fit in the token budget left in this step: "
                        "a prompt is then scheduled in one piece or not at all.",
    "priority": "Under the priority policy it is behind a more urgent request (lower "
                "priority value) that could not be admitted; admission stops there.",
}

WAIT_REASONS: dict[str, Reason] = {
    key: Reason(key, key, WAITING_REASONS[key], _WAIT_DETAIL[key]) for key in REASON_LIST}
# The values of recording.format.StopReason (a test checks), without importing pydantic.
ADMISSION_STOP_REASONS = ("budget", "max_num_seqs", "kv_cache", "budget_unchunked", "preemption")

FINISH_REASONS: dict[str, Reason] = {
    "FINISHED_STOPPED": Reason(
        "FINISHED_STOPPED", "stop", "it sampled EOS or one of its stop tokens",
        "It sampled its EOS token (unless ignore_eos) or a stop_token_id, after at least "
        "min_tokens outputs. vLLM's finish_reason 'stop'."),
    "FINISHED_LENGTH": Reason(
        "FINISHED_LENGTH", "length", "it reached max_tokens (or max_model_len)",
        "It produced max_tokens outputs, or its sequence reached max_model_len. vLLM's "
        "finish_reason 'length'."),
    "FINISHED_LENGTH_CAPPED": Reason(
        "FINISHED_LENGTH_CAPPED", "length", "it reached max_tokens (vllm_compat's name)",
        "The length stop as vLLM-compatible mode (engine.vllm_compat) names it: the same "
        "finish_reason 'length'."),
    "FINISHED_ABORTED": Reason(
        "FINISHED_ABORTED", "abort", "a scenario event aborted it",
        "An `abort` event of the scenario ended it after that step: its blocks were freed "
        "and it never finishes on its own. vLLM's finish_reason 'abort'."),
    "FINISHED_IGNORED": Reason(
        "FINISHED_IGNORED", "ignored", "it can never fit: ended at add_request",
        "Its prompt needs more KV blocks than the whole cache has (or is longer than "
        "max_model_len), so waiting could never help. add_request finishes it at once, "
        "before the next step, with a stop reason saying why; the next engine.step() "
        "reports it finished. vLLM would leave it waiting forever."),
}


def wait_label(key: str) -> str:
    """What a display prints for a waiting reason (an unknown key is shown as it is)."""
    reason = WAIT_REASONS.get(key)
    return reason.label if reason is not None else key


def finish_label(status: str) -> str:
    """stop / length / abort / ignored for a finished status name (others unchanged)."""
    reason = FINISH_REASONS.get(status)
    return reason.label if reason is not None else status


def explain(key: str) -> str:
    """`label: summary. explanation` for a waiting reason or a finished status, or ''."""
    reason = WAIT_REASONS.get(key) or FINISH_REASONS.get(key)
    if reason is None:
        return ""
    return f"{reason.label}: {reason.summary}. {reason.explanation}"


__all__ = ["ADMISSION_STOP_REASONS", "FINISH_REASONS", "Reason", "WAIT_REASONS", "explain",
           "finish_label", "wait_label"]
