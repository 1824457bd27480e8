"""The in-memory scenario: what to run (engine settings, model, requests, timed events, expectations).

Steps are counted as in the lab: step 1 is the first `engine.step()`. "At step s"
means once s steps have run, so `arrival_step: 0` is present from the start and a
request with `arrival_step: 3` is added after step 3, before step 4's schedule()
(the same numbering as the oracle's `arrival_step` with `first_step: 0`). Events
use the same convention. The YAML loader (`loader.py`) builds these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mini_engine.engine.config import EngineConfig
from mini_engine.engine.model import ConstantModel, LastPlusPosModel, Model, ToyModel
from mini_engine.engine.sampling_params import SamplingParams


@dataclass(frozen=True)
class ModelSpec:
    """Which model samples tokens: the toy model (seeded) or a named deterministic rule."""

    kind: str = "toy"  # "toy" | "last_plus_pos" | "constant"
    seed: int = 0
    modulus: int = 256
    value: int = 0

    def build(self) -> Model:
        if self.kind == "toy":
            return ToyModel(seed=self.seed)
        if self.kind == "last_plus_pos":
            return LastPlusPosModel(self.modulus)
        if self.kind == "constant":
            return ConstantModel(self.value)
        raise ValueError(f"unknown model kind {self.kind!r}")


@dataclass(frozen=True)
class RequestSpec:
    request_id: str
    sampling_params: SamplingParams
    prompt: str | None = None
    prompt_token_ids: tuple[int, ...] | None = None
    priority: int = 0
    arrival_step: int = 0
    cache_salt: str | None = None  # prefix-cache blocks are shared only with the same salt


@dataclass(frozen=True)
class ScenarioEvent:
    step: int  # applied once `step` steps have run, before the next schedule()
    action: str  # "abort" | "reset_prefix_cache"
    request_id: str | None = None  # abort: the request
    reset_running_requests: bool = False  # reset_prefix_cache: preempt running requests first


@dataclass(frozen=True)
class Expect:
    statuses: dict[str, str] = field(default_factory=dict)  # request id -> final status name
    total_steps: int | None = None
    num_preemptions: int | None = None


@dataclass(frozen=True)
class GenerateSpec:
    """A `generate:` block, as written; its requests are already expanded into `Scenario.requests`."""

    count: int
    seed: int = 0
    prompt_len: tuple[int, int] = (8, 64)
    max_tokens: tuple[int, int] = (4, 64)
    arrival_rate: float | None = None  # mean requests per step; None: all arrive at step 0
    shared_prefix_fraction: float = 0.0
    shared_prefix_len: int = 0
    ignore_eos: bool = True
    id_prefix: str = "gen-"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    engine: EngineConfig
    model: ModelSpec
    requests: tuple[RequestSpec, ...]
    events: tuple[ScenarioEvent, ...] = ()
    expect: Expect | None = None
    source: str | None = None  # the file it was loaded from
    generate: GenerateSpec | None = None  # how the generated requests (if any) were made
