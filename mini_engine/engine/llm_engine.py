"""`LLMEngine`: the loop `schedule() -> sample -> update_from_output()`, one call per step.

Sampling routes by model kind (sampler.py): a `LogitsModel` is sampled by the
engine's `Sampler`, a `TokenRuleModel` returns its tokens itself.

`step()` returns the requests that finished in that step; the last step's
`SchedulerOutput` and `SchedulerStats` stay readable afterwards
(`last_scheduler_output`, `last_stats`), and `last_step` holds the immutable
`EngineStep` record of what it decided (events.py): what a recorder records.
Events emitted between steps (arrivals, aborts, a prefix-cache reset) are taken
with `take_events()`; those nobody took land in the next record's `before`.

`LLMEngine(vllm_compat=True)` (EngineConfig.vllm_compat) follows vLLM 0.33 where the
lab differs: see engine/core/sched/compat.py.

Misuse never leaves the engine half-changed: every argument is checked before anything
changes (request_checks.py, config.py, sampling_params.py), and a model other than the
engine's own runs guarded (model_guard.py): if it fails, `step()` raises ModelError
and the engine is exactly as before the step.
"""

from __future__ import annotations

from typing import Sequence

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.errors import ArgumentError, ArgumentTypeError
from mini_engine.engine.events import EngineStep, StepStats
from mini_engine.engine.model import TRUSTED_MODELS, Model, ToyModel, model_sampler
from mini_engine.engine.model_guard import ModelGuard, install_journal
from mini_engine.engine.core.sched.output import SchedulerOutput
from mini_engine.engine.outputs import (ModelRunnerOutput, OneTokenEachOutput, RequestOutput,
                                        SchedulerStats, SomeSampledOutput)
from mini_engine.engine.request import Request, RequestStatus
from mini_engine.engine.request_checks import check_request, check_request_ids
from mini_engine.engine.sampler import Sampler
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.core.sched.scheduler import Scheduler
from mini_engine.engine.snapshot import EngineSnapshot, RequestStateCache, capture, restore
from mini_engine.engine.tokenizer import ByteTokenizer


class LLMEngine:
    # Set (per instance) only for a guarded model; None: the model runs unguarded.
    _guard: ModelGuard | None = None

    def __init__(self, model: Model | None = None, config: EngineConfig | None = None,
                 fast_paths: bool = True, *, guard_model: bool | None = None,
                 kv_cache_events: bool = False, **engine_kwargs) -> None:
        """`fast_paths=False` runs the general code everywhere the engine has a shortcut
        (same results, slower): what tests compare the shortcuts against.

        `guard_model`: run each step all or nothing, checking the model's tokens and
        undoing the step if the model fails (model_guard.py). None (the default) guards
        every model but the engine's own three, which cannot fail; False trusts the
        model (a failure then leaves the step half done); True guards any model.

        `kv_cache_events`: also emit the KV-cache events (blocks allocated, hit, cached,
        freed, evicted, cache cleared) into `last_step.events`. Off by default, as vLLM's
        `enable_kv_cache_events`: a consumer that draws the KV cache (the recorder) asks
        for them; the request and scheduling events are always emitted.
        """
        if config is not None and engine_kwargs:
            raise TypeError("pass either config= or engine keyword arguments, not both")
        if config is not None and not isinstance(config, EngineConfig):
            raise TypeError(f"config must be an EngineConfig, got {type(config).__name__}")
        if not isinstance(kv_cache_events, bool):
            raise TypeError(f"kv_cache_events must be True or False, got {kv_cache_events!r}")
        if guard_model is not None and not isinstance(guard_model, bool):
            raise TypeError(f"guard_model must be True, False or None, got {guard_model!r}")
        self.config = config or EngineConfig(**engine_kwargs)
        self.tokenizer = ByteTokenizer()
        self.model: Model = model if model is not None else ToyModel()
        self.scheduler = Scheduler(self.config)
        self.sampler = Sampler()
        # requests -> next tokens: a logits model through the sampler, a token-rule model itself.
        self.sample_tokens = model_sampler(self.model, self.sampler)
        if guard_model is None:
            guard_model = type(self.model) not in TRUSTED_MODELS
        if guard_model:
            self._guard = ModelGuard(self)
            install_journal(self.scheduler)
        self.fast_paths = fast_paths
        self.kv_cache_events = kv_cache_events
        self.step_count = 0
        self.last_scheduler_output: SchedulerOutput | None = None
        self.last_stats: SchedulerStats | None = None
        self.last_step: EngineStep | None = None
        self._arrivals = 0
        self._all_requests: dict[str, Request] = {}
        self._prompts: dict[str, str | None] = {}
        # The last saved state of each request, shared by consecutive snapshots.
        self._request_states = RequestStateCache()

    def add_request(self, request_id: str, prompt: str | None = None,
                    sampling_params: SamplingParams | None = None,
                    prompt_token_ids: list[int] | None = None, priority: int = 0,
                    cache_salt: str | None = None) -> Request:
        """Queue a request (WAITING), or finish it at once as FINISHED_IGNORED if it can never run.

        `cache_salt` (vLLM's): prefix-cache blocks are shared only between requests with
        the same salt; None or "" is no salt. Every argument is checked before anything
        changes (request_checks.py): a bad one raises and leaves the engine as it was.
        """
        args = check_request(request_id, prompt, sampling_params, prompt_token_ids, priority,
                             cache_salt, self.tokenizer, self._all_requests)
        request = Request(request_id, args.token_ids, args.sampling_params,
                          eos_token_id=self.tokenizer.eos_token_id, priority=args.priority,
                          arrival_time=float(self._arrivals + 1),
                          block_hasher=self.scheduler.block_hasher, cache_salt=cache_salt)
        self._arrivals += 1
        self._all_requests[request_id] = request
        self._prompts[request_id] = prompt
        self.scheduler.add_request(request)
        return request

    def abort_request(self, request_ids: str | Sequence[str]) -> list[Request]:
        """Abort requests by id (unknown or finished ones are ignored, as in vLLM)."""
        return self.scheduler.finish_requests(check_request_ids(request_ids),
                                              RequestStatus.FINISHED_ABORTED)

    def reset_prefix_cache(self, reset_running_requests: bool = False) -> bool:
        """Forget every cached block hash (vLLM's LLMEngine.reset_prefix_cache).

        Refused (False) while any request holds blocks, unless `reset_running_requests`
        preempts the running ones first; those are listed in the next step's
        `preempted_req_ids` and resumed by it if they fit.
        """
        if not isinstance(reset_running_requests, bool):
            raise ArgumentTypeError("reset_running_requests", "reset_running_requests must be "
                                    f"True or False, got {reset_running_requests!r}")
        return self.scheduler.reset_prefix_cache(reset_running_requests)

    def has_unfinished_requests(self) -> bool:
        return self.scheduler.has_unfinished_requests()

    @property
    def fast_paths(self) -> bool:
        return self.scheduler.use_fast_paths

    @property
    def kv_cache_events(self) -> bool:
        return self.scheduler.kv_cache_manager.kv_events

    @kv_cache_events.setter
    def kv_cache_events(self, on: bool) -> None:
        kvm = self.scheduler.kv_cache_manager
        kvm.kv_events = kvm.block_pool.kv_events = on

    @fast_paths.setter
    def fast_paths(self, on: bool) -> None:
        self.scheduler.use_fast_paths = on
        self.scheduler.kv_cache_manager.use_fast_paths = on
        self.sampler.use_greedy_table = on

    def step(self) -> list[Request]:
        """Run one engine step; return the requests that finished in it.

        With a guarded model (see __init__), a model that raises or returns bad tokens
        raises ModelError and the step is undone: the engine is exactly as before it.
        """
        scheduler = self.scheduler
        before = scheduler.events.take()
        if self._guard is None:
            scheduler_output = scheduler.schedule()
            req_ids, runner_output = self.run_model(scheduler_output)
        else:
            scheduler_output, req_ids, runner_output = self._guard.schedule_and_run(before)
        outputs = scheduler.update_from_output(scheduler_output, runner_output)
        self.step_count += 1
        self.last_scheduler_output = scheduler_output
        self.last_stats = outputs.scheduler_stats
        self.last_step = self._step_record(before, req_ids, scheduler_output, runner_output,
                                           outputs)
        return outputs.finished_requests

    def run_model(self, scheduler_output: SchedulerOutput, sample=None
                  ) -> tuple[list[str], ModelRunnerOutput]:
        """The scheduled request ids and the model's tokens for them (vLLM's model runner).

        `sample(requests) -> tokens` defaults to the model's (`sample_tokens`).
        """
        scheduler = self.scheduler
        req_ids = list(scheduler_output.num_scheduled_tokens)
        scheduled = list(map(scheduler.requests.__getitem__, req_ids))
        next_tokens = sample or self.sample_tokens
        if not scheduler.num_prefill_chunks and scheduler.use_fast_paths:
            # Every scheduled request samples: flat tokens, no one-element lists.
            tokens = next_tokens(scheduled) if scheduled else []
            return req_ids, OneTokenEachOutput(req_ids, scheduled, tokens)
        # A request samples only once its computed counter has caught up: a partial
        # prefill samples nothing (vLLM's runner discards it), so it gets [].
        sampling = [r for r in scheduled if r.num_computed_tokens >= r.num_tokens]
        tokens = next_tokens(sampling) if sampling else []
        it = iter(tokens)
        if scheduler.use_fast_paths:
            sampled = [next(it) if r.num_computed_tokens >= r.num_tokens else None
                       for r in scheduled]
            return req_ids, SomeSampledOutput(req_ids, sampling, tokens, sampled)
        return req_ids, ModelRunnerOutput(req_ids, [
            [next(it)] if r.num_computed_tokens >= r.num_tokens else [] for r in scheduled])

    def take_events(self) -> tuple:
        """Events emitted since the last step or take (arrivals, aborts, resets), in order."""
        return self.scheduler.events.take()

    def _step_record(self, before: tuple, req_ids: list[str], scheduler_output: SchedulerOutput,
                     runner_output: ModelRunnerOutput, outputs) -> EngineStep:
        """The immutable record of the step just run (what the recording is built from)."""
        stats = outputs.scheduler_stats
        nst = scheduler_output.num_scheduled_tokens
        if type(runner_output) is OneTokenEachOutput:
            sampled = tuple(runner_output.tokens)
        elif type(runner_output) is SomeSampledOutput:
            sampled = tuple(runner_output.sampled)
        else:
            sampled = tuple(t[-1] if t else None for t in runner_output.sampled_token_ids)
        pc = stats.prefix_cache_stats
        pool = self.scheduler.kv_cache_manager.block_pool
        return EngineStep(
            step=self.step_count, req_ids=tuple(req_ids), num_scheduled_tokens=tuple(nst.values()),
            total_num_scheduled_tokens=scheduler_output.total_num_scheduled_tokens,
            sampled=sampled,
            events=before + self.scheduler.events.take(),
            num_before=len(before),
            finished=tuple(r.request_id for r in outputs.finished_requests),
            at_schedule=self.scheduler.last_schedule_view,
            stats=StepStats(pool.get_num_free_blocks(), stats.kv_cache_usage,
                            stats.num_running_reqs, stats.num_waiting_reqs, pc.queries, pc.hits,
                            stats.num_preemptions))

    def snapshot(self) -> EngineSnapshot:
        """The whole engine's state, immutable and picklable; take it between steps.

        What is saved is listed in engine/snapshot.py. Consecutive snapshots share the
        frozen state of requests that did not change in between, so keeping many is cheap.
        """
        return capture(self, self._all_requests, self._prompts, self._arrivals,
                       self._request_states)

    @classmethod
    def from_snapshot(cls, state: EngineSnapshot, model: Model | None = None,
                      guard_model: bool | None = None, kv_cache_events: bool = False,
                      **changed_settings) -> "LLMEngine":
        """A new engine resumed from `state`: its every later step equals the original run's.

        `model` defaults to the snapshot's (models hold no state); `guard_model` and
        `kv_cache_events` are the constructor's. `changed_settings`
        may change scheduler settings only (config.SCHEDULER_SETTINGS); the result is the
        same as running the original engine to this step and then calling
        `update_settings(**changed_settings)`. Other settings raise ConfigError (a ValueError).
        """
        state.config.with_scheduler_settings(**changed_settings)  # refuse before any work
        engine = cls(model=model if model is not None else state.model, config=state.config,
                     guard_model=guard_model, kv_cache_events=kv_cache_events)
        engine._all_requests, engine._prompts = restore(engine, state)
        engine._arrivals = state.num_arrivals
        engine.step_count = state.step_count
        engine.last_scheduler_output = state.last_scheduler_output
        engine.last_stats = state.last_stats
        engine.last_step = state.last_step
        if changed_settings:
            engine.update_settings(**changed_settings)
        return engine

    def update_settings(self, **changes) -> None:
        """Change scheduler settings between steps (Scheduler.update_settings); the config follows."""
        self.scheduler.update_settings(**changes)
        self.config = self.scheduler.config

    def get_request(self, request_id: str) -> Request:
        return self._all_requests[request_id]

    def make_output(self, request: Request) -> RequestOutput:
        outputs = request.output_token_ids
        return RequestOutput(
            request_id=request.request_id, prompt=self._prompts.get(request.request_id),
            prompt_token_ids=list(request.prompt_token_ids), token_ids=outputs,
            text=self.tokenizer.decode(outputs), finish_reason=request.get_finished_reason(),
            status=request.status.name, stop_reason=request.stop_reason,
            num_cached_tokens=max(request.num_cached_tokens, 0))

    def generate(self, prompts: str | Sequence[str],
                 sampling_params: SamplingParams | Sequence[SamplingParams] | None = None
                 ) -> list[RequestOutput]:
        """Add the prompts, run the loop until all finish, return outputs in prompt order."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = list(prompts)
        if sampling_params is None or isinstance(sampling_params, SamplingParams):
            sampling_params = [sampling_params or SamplingParams()] * len(prompts)
        sampling_params = list(sampling_params)
        if len(sampling_params) != len(prompts):
            raise ArgumentError("sampling_params", f"sampling_params has {len(sampling_params)} "
                                f"entries for {len(prompts)} prompts")
        ids = [f"gen-{len(self._all_requests) + i}" for i in range(len(prompts))]
        for rid, prompt, sp in zip(ids, prompts, sampling_params):  # all checked, then added
            check_request(rid, prompt, sp, None, 0, None, self.tokenizer, self._all_requests)
        for rid, prompt, sp in zip(ids, prompts, sampling_params):
            self.add_request(rid, prompt, sp)
        while self.scheduler.has_unfinished_requests():
            self.step()
        return [self.make_output(self._all_requests[rid]) for rid in ids]
