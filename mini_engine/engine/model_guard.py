"""`ModelGuard`: a step with a model the engine does not know is all or nothing.

`schedule()` changes the engine before the model runs (counters advanced, blocks taken,
requests admitted or preempted). If the model then raises, or returns anything but one
in-vocabulary token id per request asked, the guard puts every piece of state back as it
was before the step and raises `ModelError` naming the requests: the next `step()` runs
as if the failed one had never been tried (with a model that works, the run is the same
as an undisturbed one).

What `schedule()` can change, and how it is put back:

- the block pool: a `JournaledBlockPool` notes each change and undoes it exactly;
- the scheduler's queues and maps (`running`, `waiting`, `requests`, finished ids,
  preemption records, per-step scratch) and the KV manager's per-request maps: copied
  before the step (one entry per live request, not per block);
- each live request's counters and status: saved before the step;
- the event log: the events it held at the start of the step.

The cost (a few copies per live request per step) is paid only by guarded engines: the
engine's own models (`ToyModel`, `LastPlusPosModel`, `ConstantModel`) check their settings
when made and are run unguarded (`LLMEngine(guard_model=...)` overrides the choice).
Tokens are not saved: nothing before `update_from_output` appends any, and the guard
checks the model's answer before that runs.
"""

from __future__ import annotations

from dataclasses import fields
from operator import attrgetter
from typing import Sequence

import numpy as np

from mini_engine.engine.core.block_journal import JournaledBlockPool
from mini_engine.engine.errors import ModelError
from mini_engine.engine.validation import shown

_REQUEST_FIELDS = ("status", "num_computed_tokens", "num_preemptions", "stop_reason",
                   "is_prefill_chunk", "num_cached_tokens")
_request_fields = attrgetter(*_REQUEST_FIELDS)


def install_journal(scheduler) -> None:
    """Give a freshly built scheduler's KV manager a journaled block pool (same settings)."""
    kvm = scheduler.kv_cache_manager
    old = kvm.block_pool
    kvm.block_pool = JournaledBlockPool(old.num_gpu_blocks, old.enable_caching, old.events)


class ModelGuard:
    """Runs `engine`'s schedule and model as one undoable unit (see the module docstring)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.vocab_size = engine.tokenizer.vocab_size

    def schedule_and_run(self, before: tuple):
        """`schedule()` then the model, as `LLMEngine.step` does; if either raises, both are
        undone and the error raised again (the model's failures as a ModelError)."""
        engine = self.engine
        scheduler = engine.scheduler
        saved = self._save(scheduler)
        pool = scheduler.kv_cache_manager.block_pool
        pool.begin()
        try:
            scheduler_output = scheduler.schedule()
            req_ids, runner_output = engine.run_model(scheduler_output, sample=self.sample)
        except BaseException:
            pool.rollback()
            self._restore(scheduler, saved, before)
            raise
        pool.commit()
        return scheduler_output, req_ids, runner_output

    def sample(self, requests: Sequence) -> list[int]:
        """The model's next tokens for `requests`, checked; its failures as a ModelError."""
        engine = self.engine
        try:
            tokens = engine.sample_tokens(requests)
        except Exception as error:
            ids = tuple(r.request_id for r in requests)
            text = " ".join(str(error).split()) or "(no message)"
            raise ModelError(f"model {_model_name(engine.model)} failed at step "
                             f"{engine.step_count + 1} on {_listed(ids)}: "
                             f"{type(error).__name__}: {text[:300]}", ids) from error
        return self.check_tokens(tokens, requests)

    # ------------------------------------------------------------------ the model's answer

    def check_tokens(self, tokens: object, requests: Sequence) -> list[int]:
        """`tokens` as a list of one int token id per request, or a ModelError naming who."""
        if isinstance(tokens, np.ndarray) and tokens.ndim == 1:
            tokens = tokens.tolist()
        vocab = self.vocab_size
        if (type(tokens) is list and len(tokens) == len(requests)
                and all(type(t) is int for t in tokens)
                and (not tokens or (min(tokens) >= 0 and max(tokens) < vocab))):
            return tokens  # the usual answer, checked in C loops
        ids = tuple(r.request_id for r in requests)
        name = _model_name(self.engine.model)
        if not isinstance(tokens, (list, tuple)):
            raise ModelError(f"model {name} returned {shown(tokens)} for {_listed(ids)}: "
                             f"expected a list of {len(ids)} token ids", ids)
        if len(tokens) != len(ids):
            raise ModelError(f"model {name} returned {len(tokens)} tokens for "
                             f"{len(ids)} requests ({_listed(ids)})", ids)
        out = []
        for rid, token in zip(ids, tokens):
            if type(token) is not int:
                if not isinstance(token, (int, np.integer)) or isinstance(token, bool):
                    raise ModelError(f"model {name} returned {shown(token)} for request "
                                     f"{rid!r}: expected a token id (an integer)", ids, rid)
                token = int(token)
            if not 0 <= token < vocab:
                raise ModelError(f"model {name} returned token {shown(token)} for request "
                                 f"{rid!r}: outside the vocabulary (0..{vocab - 1})", ids, rid)
            out.append(token)
        return out

    # ------------------------------------------------------------------ save and restore

    @staticmethod
    def _save(scheduler) -> tuple:
        kvm = scheduler.kv_cache_manager
        requests = dict(scheduler.requests)  # the live ones: running and waiting
        live = list(requests.values())
        tables = kvm.req_to_blocks
        return (
            scheduler.step_counter, requests, scheduler.waiting.copy(), list(scheduler.running),
            scheduler.finished_req_ids, set(scheduler.finished_req_ids),
            list(scheduler.finished_outside_update), len(scheduler.preemptions_in_step),
            scheduler.last_schedule_view, scheduler.num_prefill_chunks,
            list(tables.items()), list(map(len, tables.values())),
            dict(kvm.num_cached_block), dict(kvm.room),
            [getattr(kvm.prefix_cache_stats, f.name) for f in fields(kvm.prefix_cache_stats)],
            live, list(map(_request_fields, live)))

    @staticmethod
    def _restore(scheduler, saved: tuple, before: tuple) -> None:
        (scheduler.step_counter, requests, waiting, running, finished_ids, finished_copy,
         finished_outside, num_preemptions, scheduler.last_schedule_view,
         scheduler.num_prefill_chunks, tables, lengths, num_cached, room, stats, live,
         values) = saved
        _refill(scheduler.requests, requests)
        scheduler.waiting = waiting
        scheduler.running[:] = running
        finished_ids.clear()
        finished_ids.update(finished_copy)
        scheduler.finished_req_ids = finished_ids
        scheduler.finished_outside_update[:] = finished_outside
        del scheduler.preemptions_in_step[num_preemptions:]
        kvm = scheduler.kv_cache_manager
        for (_, blocks), n in zip(tables, lengths):
            del blocks[n:]  # a step only appends to a block table (or drops it whole)
        _refill(kvm.req_to_blocks, dict(tables))
        _refill(kvm.num_cached_block, num_cached)
        _refill(kvm.room, room)
        for f, value in zip(fields(kvm.prefix_cache_stats), stats):
            setattr(kvm.prefix_cache_stats, f.name, value)
        for request, saved_values in zip(live, values):
            for name, value in zip(_REQUEST_FIELDS, saved_values):
                setattr(request, name, value)
        scheduler.events[:] = before


def _refill(target: dict, source: dict) -> None:
    """`target` holding exactly `source`'s items, in its order (the same dict object)."""
    target.clear()
    target.update(source)


def _model_name(model: object) -> str:
    return type(model).__name__


def _listed(ids: Sequence[str], most: int = 3) -> str:
    """`requests 'a', 'b', 'c' (+4 more)`: the requests a message is about, briefly."""
    if not ids:
        return "no requests"
    shown_ids = ", ".join(shown(i) for i in ids[:most])
    more = f" (+{len(ids) - most} more)" if len(ids) > most else ""
    return f"request{'s' if len(ids) > 1 else ''} {shown_ids}{more}"
