"""The step table of a recorded run (`mini-engine run --format table`): one line per step.

Columns:

* `step`: the step number (step 1 is the first `engine.step()`);
* `scheduled`: tokens scheduled per request in schedule order, `a:+12p` for a
  prefill chunk (or a resumed request's recompute), `b:+1` for a decode;
* `budget`: tokens scheduled / `max_num_batched_tokens`;
* `running`: the running queue after the step, in order;
* `waiting (why)`: the waiting queue after the step, in the order schedule() will
  consider it, each with why it did not run in this step (the recording's
  why-waiting codes, `mini_engine.recording.vocabulary.WAIT_REASONS`): `just_arrived`,
  `preempted` (preempted in this step), `budget`, `max_num_seqs`, `kv_cache`,
  `preemption` (a step that preempts admits nobody), `head_of_line`,
  `budget_unchunked`, `priority`;
* `finished`: what `engine.step()` reported finished in this step plus the aborts
  applied after it, `id:reason` with reason stop / length / abort / ignored;
* `KV`: KV cache usage after the step (vLLM's `kv_cache_usage_perc`, `%.1f`) and
  blocks in use / usable blocks (block 0, vLLM's null block, is not usable);
* `notes`: why a request reported here was ignored, and when: `huge ignored at
  add_request (step 0): prompt needs 7 KV blocks, ...`. A request that can never fit
  is ended by add_request (the recording's `ignored` event is in the frame it arrived
  in, step 0 for `arrival_step: 0`) and reported finished by the next `engine.step()`;
  one that outgrew the whole cache is ended by this step's schedule().

Reason words are `mini_engine.recording.vocabulary`'s (the keys the JSONL stores).

A dash is an empty cell. Long lists show their first `max_names` entries and
`+N` for the rest, so every step stays one line.
"""

from __future__ import annotations

from typing import IO, Iterable, Iterator

import numpy as np

from mini_engine.files.write import safe_text
from mini_engine.recording.codes import (DECODE, IGNORED, PREEMPTED, R_QKEY, R_REQ, R_STATUS,
                                         RUNNING, STATUS_NAMES, WAITING)
from mini_engine.recording.analysis import ignore_note
from mini_engine.recording.store import Recording
from mini_engine.recording.vocabulary import finish_label
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import as_recording

HEADER = ("step", "scheduled", "budget", "running", "waiting (why)", "finished", "KV", "notes")
MAX_NAMES = 8
_WIDTH_SAMPLE = 200  # column widths come from the first rows, so lines stream out
_MAX_WIDTH = 60


def _join(items: list[str], max_names: int, total: int | None = None) -> str:
    """`items` (the first `max_names` of `total`, default all of them) and `+N` for the rest."""
    total = len(items) if total is None else total
    if not total:
        return "-"
    if total > max_names:
        return " ".join(items[:max_names]) + f" +{total - max_names}"
    return " ".join(items)


class _Queues:
    """Each frame's running and waiting queues and statuses, read step after step.

    The table reads every step in order, so it keeps the two columns it needs (status
    and queue key) up to date from each step's changed rows: linear in the run, where
    `Recording.seek()` per step would replay up to a keyframe's worth of deltas each time.
    Queue order and why-waiting codes follow `Recording.seek()` exactly (tests compare)."""

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        n = len(rec.request_ids)
        self.status = np.zeros(n, np.int8)
        self.qkey = np.zeros(n, np.int64)
        self.applied = -1  # the last frame whose rows are in
        self.priority_policy = rec.config.policy == "priority"

    def advance(self, step: int) -> None:
        while self.applied < step:
            self.applied += 1
            rows = self.rec.delta(self.applied).rows
            if len(rows):
                rev = rows[::-1]  # a request's last row in the step wins
                reqs, first = np.unique(rev[:, R_REQ], return_index=True)
                self.status[reqs] = rev[first, R_STATUS]
                self.qkey[reqs] = rev[first, R_QKEY]

    def running(self) -> np.ndarray:
        which = np.flatnonzero(self.status == RUNNING)
        return which[np.argsort(self.qkey[which], kind="stable")]

    def waiting(self) -> np.ndarray:
        which = np.flatnonzero((self.status == WAITING) | (self.status == PREEMPTED))
        if self.priority_policy:
            return which[np.lexsort((self.qkey[which], self.rec.priorities[which]))]
        return which[np.argsort(self.qkey[which], kind="stable")]

    def reasons(self, d, shown: list[int]) -> list[str]:
        """Why each of the `shown` waiting requests did not run in step `d` (the rules of
        `Recording.seek().waiting_reasons`, for the few the table shows)."""
        m = d.metrics
        reason, rest, head = m.waiting_stop_reason, m.waiting_stop_rest, m.waiting_stop_req_id
        index = self.rec.request_index
        head_i = index[head] if head is not None else None
        arrived = {index[h.request_id] for h in d.happenings if h.kind == "arrival"}
        preempted = {index[h.request_id] for h in d.happenings if h.kind == "preemption"}
        out = []
        for ri in shown:
            if ri in preempted:
                why = "preempted"
            elif ri in arrived or d.step == 0 or reason is None:
                why = "just_arrived"
            elif ri == head_i:
                why = reason
            elif rest != "head_of_line":
                why = rest
            elif (head_i is not None and self.priority_policy
                  and self.rec.priorities[ri] > self.rec.priorities[head_i]):
                why = "priority"
            else:
                why = "head_of_line"
            out.append(why)
        return out


def table_rows(source: Recording | Scenario, until: int | None = None,
               max_names: int = MAX_NAMES,
               steps: Iterable[int] | None = None) -> Iterator[tuple[str, ...]]:
    """The table's cells, one tuple per step (without the header): steps 1..`until`, or
    `steps` (increasing; the recording may grow while they are read, see cli/run.py)."""
    rec = as_recording(source)
    if steps is None:
        last = rec.num_steps if until is None else min(until, rec.num_steps)
        steps = range(1, last + 1)
    ids = tuple(map(safe_text, rec.request_ids))  # escaped before the widths are measured
    usable = rec.config.num_gpu_blocks - 1
    queues = _Queues(rec)
    for step in steps:
        d = rec.delta(step)
        m = d.metrics
        queues.advance(step)
        sched = [f"{ids[r]}:+{n}{'' if k == DECODE else 'p'}" for r, n, k in
                 zip(d.sched_req.tolist(), d.sched_tokens.tolist(), d.sched_kind.tolist())]
        running = queues.running()
        waiting = queues.waiting()
        shown = waiting[:max_names + 1].tolist()
        waiting_cells = [f"{ids[ri]}({why})" for ri, why in zip(shown, queues.reasons(d, shown))]
        finished = list(d.reported_finished)
        finished += [ri for ri in (rec.request_index[h.request_id] for h in d.happenings
                                   if h.kind == "abort") if ri not in finished]
        done = [f"{ids[ri]}:{_short(queues.status[ri])}" for ri in finished]
        kv = f"{m.kv_cache_usage_perc * 100:.1f}% {usable - m.num_free_blocks}/{usable}"
        notes = [note for note in (ignore_note(rec, rec.request_ids[ri], step)
                                   for ri in finished if queues.status[ri] == IGNORED)
                 if note is not None]
        yield (str(step), _join(sched, max_names),
               f"{m.num_scheduled_tokens}/{m.token_budget}",
               _join([ids[ri] for ri in running[:max_names + 1].tolist()], max_names,
                     len(running)),
               _join(waiting_cells, max_names, len(waiting)),
               _join(done, max_names), kv, "; ".join(map(safe_text, notes)))


def _short(code: int) -> str:
    return finish_label(STATUS_NAMES[code])


def iter_table_lines(source: Recording | Scenario, until: int | None = None,
                     max_names: int = MAX_NAMES,
                     steps: Iterable[int] | None = None) -> Iterator[str]:
    """The header line, then one line per step (no trailing spaces, no newlines); lines
    stream out once the first _WIDTH_SAMPLE rows have set the column widths."""
    rec = as_recording(source)
    rows = table_rows(rec, until, max_names, steps)
    sample: list[tuple[str, ...]] = []
    for row in rows:
        sample.append(row)
        if len(sample) >= _WIDTH_SAMPLE:
            break
    widths = [min(_MAX_WIDTH, max(len(r[i]) for r in [HEADER, *sample]))
              for i in range(len(HEADER))]

    def line(cells: tuple[str, ...]) -> str:
        parts = [cells[0].rjust(widths[0])]
        parts += [c.ljust(w) for c, w in zip(cells[1:-1], widths[1:-1])]
        parts.append(cells[-1])
        return "  ".join(parts).rstrip()

    yield line(HEADER)
    for row in sample:
        yield line(row)
    for row in rows:
        yield line(row)


def write_table(source: Recording | Scenario, fp: IO[str], until: int | None = None,
                max_names: int = MAX_NAMES, steps: Iterable[int] | None = None) -> int:
    """Write the table to a text stream; returns the number of lines."""
    n = 0
    for text in iter_table_lines(source, until, max_names, steps):
        fp.write(text + "\n")
        n += 1
    return n
