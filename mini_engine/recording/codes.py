"""The small integer codes a recording stores, and the names and explanations behind them.

Status codes are RequestStatus values (0 = PENDING: not arrived yet). Every name a
user sees (why a request waits, what a step was, what a block is) is defined here
once, with its long explanation, so the TUI, the CLI and the JSONL all agree.
"""

from __future__ import annotations

import numpy as np

from mini_engine.engine.request import RequestStatus

PENDING = 0  # status code of a request that has not arrived yet
STATUS_NAMES = ("PENDING",) + tuple(s.name for s in RequestStatus)  # index = code
STATUS_CODE = {name: code for code, name in enumerate(STATUS_NAMES)}
WAITING, RUNNING, PREEMPTED = (int(RequestStatus.WAITING), int(RequestStatus.RUNNING),
                               int(RequestStatus.PREEMPTED))
FINISHED_MIN = int(RequestStatus.FINISHED_STOPPED)
ABORTED, IGNORED = int(RequestStatus.FINISHED_ABORTED), int(RequestStatus.FINISHED_IGNORED)

# Scheduled-entry kinds.
DECODE, PREFILL_CHUNK, PREFILL_LAST = 0, 1, 2
ENTRY_KIND_NAMES = ("decode", "prefill", "prefill_last")

# Per-block states for the KV map (block 0 is vLLM's reserved null block).
BLOCK_FREE, BLOCK_IN_USE, BLOCK_CACHED_FREE, BLOCK_SHARED, BLOCK_NULL = 0, 1, 2, 3, 4
BLOCK_STATE_NAMES = ("free", "in_use", "cached_free", "shared", "null")

# Timeline step kinds.
STEP_IDLE, STEP_PREFILL, STEP_DECODE, STEP_MIXED, STEP_PREEMPTION = 0, 1, 2, 3, 4
STEP_KIND_NAMES = ("idle", "prefill", "decode", "mixed", "preemption")

# Block-table operations.
OP_SET, OP_APPEND, OP_CLEAR = 0, 1, 2

EVENT_KINDS = ("arrival", "admission", "resume", "preemption", "finish", "abort", "ignore",
               "first_token", "chunk", "kv_full", "any")

WAITING_REASONS: dict[str, str] = {
    "not_arrived": "has not arrived yet (its arrival_step is later)",
    "just_arrived": "arrived after this step's schedule(); the next step considers it",
    "preempted": "was preempted in this step: its KV blocks were freed, it will recompute",
    "budget": "the step's token budget (max_num_batched_tokens) was used up",
    "max_num_seqs": "max_num_seqs requests are already running: no free seat",
    "kv_cache": "not enough free KV blocks for its whole sequence",
    "preemption": "a preemption happened this step: no request is admitted in such a step",
    "head_of_line": "behind the head of the waiting queue, which could not be admitted",
    "budget_unchunked": "chunked prefill is off and its prompt exceeds the budget left",
    "priority": "behind a more urgent (lower priority value) request that could not be admitted",
}
REASON_LIST = tuple(WAITING_REASONS)
REASON_CODE = {r: i for i, r in enumerate(REASON_LIST)}

# Row columns (one row = one request's full counters at the end of a frame).
R_REQ, R_STATUS, R_COMPUTED, R_TOKENS, R_CACHED, R_PREEMPT, R_QKEY = range(7)
COLUMNS = ("status", "computed", "tokens", "cached", "npreempt", "qkey")


def read_only(a: np.ndarray) -> np.ndarray:
    """Freeze a numpy array in place (recordings hand out views, never copies)."""
    a.flags.writeable = False
    return a


NO_ROWS = read_only(np.zeros((0, 7), np.int64))
NO_CHANGES = read_only(np.zeros((0, 2), np.int32))
