"""`ScenarioRunner`: drives an `LLMEngine` through a `Scenario`, one step at a time.

Step convention (scenario.py): step 1 is the first `engine.step()`; "at step s"
means once s steps have run. Requests with `arrival_step <= s` are added (sorted
by arrival_step, then list order) right after step s, before step s+1's
schedule(); events at step s are applied at the same point, after the arrivals.
Step 0's arrivals and events are applied by the constructor. The run ends when
nothing is left to arrive and nothing is unfinished; idle steps (nothing to
schedule while requests are still to arrive) are real steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.model import Model
from mini_engine.engine.snapshot import EngineSnapshot
from mini_engine.engine.request import Request
from mini_engine.scenarios.spec import Scenario


@dataclass(frozen=True)
class StepResult:
    """One step's outcome, plus what was applied after it (at the same step number)."""

    step: int
    finished: list[Request]  # engine.step()'s return value
    arrived: list[Request]  # added after the step (may be FINISHED_IGNORED already)
    aborted: list[Request]  # aborted by events after the step


@dataclass(frozen=True)
class RunnerSnapshot:
    """A `ScenarioRunner` between steps: the engine's snapshot plus the runner's own cursors."""

    scenario: Scenario
    engine: EngineSnapshot
    steps_done: int
    next_arrival: int  # index into the arrivals sorted by arrival_step
    next_event: int  # index into the events sorted by step
    initial_arrived: tuple[str, ...]  # request ids added (resp. aborted) at step 0
    initial_aborted: tuple[str, ...]


class ScenarioRunner:
    def __init__(self, scenario: Scenario) -> None:
        # A run is recorded with its KV-cache events (the KV map, block histories).
        self._start(scenario, LLMEngine(model=scenario.model.build(), config=scenario.engine,
                                        kv_cache_events=True), 0)
        self.initial_arrived, self.initial_aborted = self.apply_due()

    def _start(self, scenario: Scenario, engine: LLMEngine, steps_done: int) -> None:
        self.scenario = scenario
        self.engine = engine
        self.steps_done = steps_done
        # Stable sorts: ties keep list order.
        self._arrivals = sorted(scenario.requests, key=lambda r: r.arrival_step)
        self._events = sorted(scenario.events, key=lambda e: e.step)
        self._next_arrival = 0
        self._next_event = 0

    def snapshot(self) -> RunnerSnapshot:
        """The runner's state between steps (immutable, picklable); see `resume`."""
        return RunnerSnapshot(
            self.scenario, self.engine.snapshot(), self.steps_done, self._next_arrival,
            self._next_event, tuple(r.request_id for r in self.initial_arrived),
            tuple(r.request_id for r in self.initial_aborted))

    @classmethod
    def resume(cls, snapshot: RunnerSnapshot, model: Model | None = None,
               **changed_settings) -> "ScenarioRunner":
        """A runner continuing from `snapshot`: later steps, arrivals and events as the original's.

        `changed_settings` are scheduler settings (LLMEngine.from_snapshot): the run then
        equals the original run to this step followed by `engine.update_settings(...)`.
        `scenario` stays the original (its `engine` block is the settings of step 0).
        """
        engine = LLMEngine.from_snapshot(snapshot.engine, model=model, kv_cache_events=True,
                                         **changed_settings)
        runner = cls.__new__(cls)
        runner._start(snapshot.scenario, engine, snapshot.steps_done)
        runner._next_arrival = snapshot.next_arrival
        runner._next_event = snapshot.next_event
        runner.initial_arrived = [engine.get_request(rid) for rid in snapshot.initial_arrived]
        runner.initial_aborted = [engine.get_request(rid) for rid in snapshot.initial_aborted]
        return runner

    def apply_due(self) -> tuple[list[Request], list[Request]]:
        """Add the arrivals, then apply the events, due at `steps_done`."""
        engine, s = self.engine, self.steps_done
        arrived: list[Request] = []
        specs = self._arrivals
        while self._next_arrival < len(specs) and specs[self._next_arrival].arrival_step <= s:
            spec = specs[self._next_arrival]
            self._next_arrival += 1
            arrived.append(engine.add_request(
                spec.request_id, prompt=spec.prompt,
                sampling_params=spec.sampling_params,
                prompt_token_ids=(list(spec.prompt_token_ids)
                                  if spec.prompt_token_ids is not None else None),
                priority=spec.priority, cache_salt=spec.cache_salt))
        aborted: list[Request] = []
        events = self._events
        while self._next_event < len(events) and events[self._next_event].step <= s:
            event = events[self._next_event]
            self._next_event += 1
            if event.action == "abort":
                aborted.extend(engine.abort_request(event.request_id))
            elif event.action == "reset_prefix_cache":
                # Refused (no CacheCleared event) while blocks are held; see the engine's events.
                engine.reset_prefix_cache(event.reset_running_requests)
            else:
                raise ValueError(f"unknown event action {event.action!r}")
        return arrived, aborted

    def has_pending_arrivals(self) -> bool:
        return self._next_arrival < len(self._arrivals)

    def is_done(self) -> bool:
        return not self.has_pending_arrivals() and not self.engine.has_unfinished_requests()

    def step(self) -> StepResult:
        """Run one engine step, then apply what is due at the new step number."""
        finished = self.engine.step()
        self.steps_done += 1
        arrived, aborted = self.apply_due()
        return StepResult(self.steps_done, finished, arrived, aborted)

    def run(self, until: int | None = None) -> int:
        """Step until done (or until `until` steps have run); return the steps run in total."""
        while not self.is_done() and (until is None or self.steps_done < until):
            self.step()
        return self.steps_done
