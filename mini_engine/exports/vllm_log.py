"""vLLM-style log lines for a recorded run (`mini-engine run --format log`).

Two kinds of line, in vLLM's own formats (reference doc section 6.1):

* per step, vLLM's optional iteration line (`enable_logging_iteration_details`,
  core.py)::

      Iteration(i): a context requests, b context tokens, c generation requests, d generation tokens

  `i` is the step number (step 1 = the first `engine.step()`). "Context" entries
  are prefill chunks (a request whose computed counter is still behind its prompt,
  or a resumed request recomputing prompt + outputs), "generation" entries are
  decodes (one token). vLLM appends `, iteration elapsed time: t ms`; there is no
  wall clock in mini-engine, so that suffix is omitted. Idle steps (nothing
  scheduled: requests are still to arrive; vLLM's engine would be "waiting for
  work" and not step at all) print no iteration line.

* before a step's iteration line, one line per request that step reports ignored,
  with when and why (vLLM refuses such a request in add_request with an error)::

      Request huge ignored at add_request (step 0): prompt needs 7 KV blocks, the cache has 4 usable blocks

* every `stats_interval` steps (default 10), and once more after the last step if
  it did not fall on the interval, vLLM's periodic `LoggingStatLogger` line::

      Engine 000: Avg prompt throughput: X tokens/step, Avg generation throughput: Y tokens/step, Running: R reqs, Waiting: W reqs, Preemptions: P, GPU KV cache usage: U%, Prefix cache hit rate: H%

  vLLM logs every 10 *seconds* and divides by elapsed seconds; here the interval
  is counted in steps and the throughputs are tokens per step over the interval.
  Everything else is as vLLM computes it: prompt tokens are counted when a
  request samples its first token (the recording's `prompt_tokens`), generation
  tokens are the tokens sampled; Running / Waiting and the KV usage are the last
  step's `SchedulerStats`; `Preemptions: P` (preemptions during the interval)
  appears only when P > 0, as in vLLM; the numbers use vLLM's `%.1f`. The prefix
  cache hit rate is hits / queries (tokens, non-preempted lookups) over the whole
  run so far; vLLM's `CachingMetrics` keeps roughly the last 1000 requests, which
  is the same thing for runs of up to 1000 requests.
"""

from __future__ import annotations

from typing import IO, Iterable, Iterator

from mini_engine.recording.analysis import ignore_note
from mini_engine.recording.codes import DECODE
from mini_engine.recording.store import Recording
from mini_engine.scenarios.spec import Scenario
from mini_engine.sources import as_recording

DEFAULT_STATS_INTERVAL = 10
ENGINE_PREFIX = "Engine 000: "


def iteration_line(step: int, context_reqs: int, context_tokens: int, gen_reqs: int,
                   gen_tokens: int) -> str:
    return (f"Iteration({step}): {context_reqs} context requests, {context_tokens} context "
            f"tokens, {gen_reqs} generation requests, {gen_tokens} generation tokens")


def stats_line(prompt_throughput: float, generation_throughput: float, running: int,
               waiting: int, preemptions: int, kv_cache_usage: float, hit_rate: float) -> str:
    """vLLM's LoggingStatLogger.log() line; usage and hit rate are fractions (0..1)."""
    parts = [f"Avg prompt throughput: {prompt_throughput:.1f} tokens/step",
             f"Avg generation throughput: {generation_throughput:.1f} tokens/step",
             f"Running: {running} reqs", f"Waiting: {waiting} reqs"]
    if preemptions > 0:
        parts.append(f"Preemptions: {preemptions}")
    parts.append(f"GPU KV cache usage: {kv_cache_usage * 100:.1f}%")
    parts.append(f"Prefix cache hit rate: {hit_rate * 100:.1f}%")
    return ENGINE_PREFIX + ", ".join(parts)


def iter_log_lines(source: Recording | Scenario, stats_interval: int = DEFAULT_STATS_INTERVAL,
                   until: int | None = None, steps: Iterable[int] | None = None) -> Iterator[str]:
    """The log lines of steps 1..`until` (default: every recorded step), or of `steps`
    (increasing; the recording may grow while they are read), without newlines."""
    if stats_interval < 1:
        raise ValueError(f"stats interval must be >= 1, got {stats_interval}")
    rec = as_recording(source)
    if steps is None:
        last = rec.num_steps if until is None else min(until, rec.num_steps)
        steps = range(1, last + 1)
    prompt = gen = preemptions = queries = hits = 0
    since = 0  # steps since the last stats line
    m = None
    for step in steps:
        d = rec.delta(step)
        m = d.metrics
        for ri in d.reported_finished:
            note = ignore_note(rec, rec.request_ids[ri], step)
            if note is not None:
                yield "Request " + note
        if len(d.sched_req):
            decode = d.sched_kind == DECODE
            n_gen = int(decode.sum())
            gen_tok = int(d.sched_tokens[decode].sum())
            yield iteration_line(step, len(decode) - n_gen,
                                 int(d.sched_tokens.sum()) - gen_tok, n_gen, gen_tok)
        prompt += m.prompt_tokens
        gen += m.generation_tokens
        preemptions += m.num_preemptions
        queries += m.prefix_cache_queries
        hits += m.prefix_cache_hits
        since += 1
        if step % stats_interval == 0:
            yield stats_line(prompt / since, gen / since, m.num_requests_running,
                             m.num_requests_waiting, preemptions, m.kv_cache_usage_perc,
                             hits / queries if queries else 0.0)
            prompt = gen = preemptions = since = 0
    if since:  # the last step's stats, when it did not fall on the interval
        yield stats_line(prompt / since, gen / since, m.num_requests_running,
                         m.num_requests_waiting, preemptions, m.kv_cache_usage_perc,
                         hits / queries if queries else 0.0)


def write_log(source: Recording | Scenario, fp: IO[str],
              stats_interval: int = DEFAULT_STATS_INTERVAL, until: int | None = None,
              steps: Iterable[int] | None = None) -> int:
    """Write the log lines to a text stream; returns the number of lines."""
    n = 0
    for line in iter_log_lines(source, stats_interval, until, steps):
        fp.write(line + "\n")
        n += 1
    return n
