"""The step table of a recorded run (`mini-engine run --format table`): one line per step.

Columns:

* `step`: the step number (step 1 is the first `engine.step()`);
* `scheduled`: tokens scheduled per request in schedule order, `a:+12p` for a
  prefill chunk (or a resumed request's recompute), `b:+1` for a decode;
* `budget`: tokens scheduled / `max_num_batched_tokens`;
* `running`: the running queue after the step, in order;
* `waiting (why)`: the waiting queue after the step, in the order schedule() will
  consider it, each with why it did not run in this step (the recording's
  why-waiting codes, `mini_engine.recording.WAITING_REASONS`): `just_arrived`,
  `preempted` (preempted in this step), `budget`, `max_num_seqs`, `kv_cache`,
  `preemption` (a step that preempts admits nobody), `head_of_line`,
  `budget_unchunked`, `priority`;
* `finished`: what `engine.step()` reported finished in this step plus the aborts
  applied after it, `id:reason` with reason stop / length / abort / ignored;
* `KV`: KV cache usage after the step (vLLM's `kv_cache_usage_perc`, `%.1f`) and
  blocks in use / usable blocks (block 0, vLLM's null block, is not usable).

A dash is an empty cell. Long lists show their first `max_names` entries and
`+N` for the rest, so every step stays one line.
"""

from __future__ import annotations

from typing import IO, Iterator

from mini_engine.recording.codes import DECODE

from mini_engine.recording.store import Recording
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import as_recording

HEADER = ("step", "scheduled", "budget", "running", "waiting (why)", "finished", "KV")
MAX_NAMES = 8
_WIDTH_SAMPLE = 200  # column widths come from the first rows, so lines stream out
_MAX_WIDTH = 60
_SHORT_REASON = {"FINISHED_STOPPED": "stop", "FINISHED_LENGTH": "length",
                 "FINISHED_ABORTED": "abort", "FINISHED_IGNORED": "ignored"}


def _join(items: list[str], max_names: int) -> str:
    if not items:
        return "-"
    if len(items) > max_names:
        return " ".join(items[:max_names]) + f" +{len(items) - max_names}"
    return " ".join(items)


def table_rows(source: Recording | Scenario, until: int | None = None,
               max_names: int = MAX_NAMES) -> Iterator[tuple[str, ...]]:
    """The table's cells, one tuple per step (without the header)."""
    rec = as_recording(source)
    ids = rec.request_ids
    usable = rec.config.num_gpu_blocks - 1
    last = rec.num_steps if until is None else min(until, rec.num_steps)
    for step in range(1, last + 1):
        d = rec.delta(step)
        m = d.metrics
        state = rec.seek(step)
        sched = [f"{ids[r]}:+{n}{'' if k == DECODE else 'p'}" for r, n, k in
                 zip(d.sched_req.tolist(), d.sched_tokens.tolist(), d.sched_kind.tolist())]
        waiting = [f"{rid}({why})" for rid, why in zip(state.waiting, state.waiting_reasons)]
        finished = [ids[r] for r in d.reported_finished]
        finished += [h.request_id for h in d.happenings
                     if h.kind == "abort" and h.request_id not in finished]
        done = [f"{rid}:{_SHORT_REASON.get(state.status_name(rid), state.status_name(rid))}"
                for rid in finished]
        kv = f"{m.kv_cache_usage_perc * 100:.1f}% {usable - m.num_free_blocks}/{usable}"
        yield (str(step), _join(sched, max_names),
               f"{m.num_scheduled_tokens}/{m.token_budget}",
               _join(list(state.running), max_names), _join(waiting, max_names),
               _join(done, max_names), kv)


def iter_table_lines(source: Recording | Scenario, until: int | None = None,
                     max_names: int = MAX_NAMES) -> Iterator[str]:
    """The header line, then one line per step (no trailing spaces, no newlines)."""
    rec = as_recording(source)
    rows = table_rows(rec, until, max_names)
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
                max_names: int = MAX_NAMES) -> int:
    n = 0
    for text in iter_table_lines(source, until, max_names):
        fp.write(text + "\n")
        n += 1
    return n
