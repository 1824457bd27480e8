"""Scheduler and cache settings, with vLLM's names, defaults and validation rules.

`EngineConfig` is the one place engine settings are checked: the scenario schema
(scenarios/schema.py), `trace --set` (cli/trace.py) and a recording's header all build
one, so its bounds hold for every entry point. The limits, and why:

- `MAX_NUM_GPU_BLOCKS = 1_000_000`: the block pool keeps per-block lists and a free
  queue (about 150 MB at this size, and a snapshot packs them), and a recording keeps
  a state per block and stores block ids as int32; ten million blocks exhausted memory.
- `INT32_MAX = 2**31 - 1`: the most for every count and length setting
  (`max_num_batched_tokens`, `max_num_seqs`, `long_prefill_token_threshold`,
  `block_size`, `max_model_len`) and for SamplingParams' `max_tokens`, `min_tokens`,
  `prompt_logprobs`: a recording stores per-step token counts as int32.
- `MAX_TOKEN_ID = INT32_MAX`: the most for `eos_token_id` and `stop_token_ids` (sampled
  tokens are stored as int32; ids outside the vocabulary are allowed and never sampled).
- `INT64_MIN, INT64_MAX = -2**63, 2**63 - 1`: the range of a request's `priority` and
  `seed` (a recording stores priorities as int64).
- `MIN_TEMPERATURE = 1e-6`, `MAX_TEMPERATURE = 1e6`: a temperature is 0 (greedy) or in
  this range (the sampler divides float32 logits by it: a smaller one overflows to
  infinity, a larger one turns masked tokens into NaN).

`vllm_compat` (default False) switches off the three places where the engine follows the
lab instead of vLLM 0.33 (README "Where we follow the lab instead of vLLM 0.33"): with it,
`long_prefill_token_threshold` is ignored while only one request is eligible, the length
stop is `FINISHED_LENGTH_CAPPED`, and the run loop takes vLLM's trailing step. It is
fixed for a run (a resume cannot change it), and `to_dict()` lists it only when on, so a
lab run's settings, and every recording header written before it existed, are unchanged.

Integers must be ints (numpy integers are taken as ints; bools and floats are refused),
switches must be bools; a wrong type raises `ConfigTypeError` (a ConfigError and a
TypeError), a value out of range `ConfigError`; both name the setting in `field`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from mini_engine.engine.errors import MiniEngineError
from mini_engine.engine.validation import check_bool, is_int, shown

MAX_NUM_GPU_BLOCKS = 1_000_000
INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
MAX_TOKEN_ID = INT32_MAX
MIN_TEMPERATURE, MAX_TEMPERATURE = 1e-6, 1e6


class ConfigError(MiniEngineError, ValueError):
    """An engine setting the engine cannot run with; `field` names the offending setting."""

    title = "Invalid engine setting"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


class ConfigTypeError(ConfigError, TypeError):
    """An engine setting of the wrong type (a float block count, a string switch)."""


@dataclass(frozen=True)
class EngineConfig:
    """Everything that decides scheduling. Defaults are vLLM's (SchedulerConfig, CacheConfig)."""

    max_num_batched_tokens: int = 2048
    max_num_seqs: int = 128
    long_prefill_token_threshold: int = 0
    enable_chunked_prefill: bool = True
    block_size: int = 16
    num_gpu_blocks: int = 4096  # includes vLLM's reserved null block 0
    enable_prefix_caching: bool = True
    max_model_len: int = 8192
    policy: str = "fcfs"
    # Reproduce vLLM 0.33 exactly instead of the lab (see the module docstring).
    vllm_compat: bool = False

    def __post_init__(self) -> None:
        for name in ("max_num_batched_tokens", "max_num_seqs", "block_size", "max_model_len"):
            self._int_setting(name, 1, INT32_MAX, "a positive integer")
        self._int_setting("long_prefill_token_threshold", 0, INT32_MAX, "an integer >= 0",
                          "must be >= 0")
        self._int_setting("num_gpu_blocks", 2, MAX_NUM_GPU_BLOCKS, "an integer",
                          "must be at least 2 (block 0 is the reserved null block)")
        for name in ("enable_chunked_prefill", "enable_prefix_caching", "vllm_compat"):
            check_bool(name, getattr(self, name), type_error=ConfigTypeError)
        if self.policy not in ("fcfs", "priority") or not isinstance(self.policy, str):
            error = ConfigError if isinstance(self.policy, str) else ConfigTypeError
            raise error("policy", f"must be 'fcfs' or 'priority', got {shown(self.policy)}")
        # vLLM SchedulerConfig validation.
        if self.max_num_batched_tokens < self.max_num_seqs:
            raise ConfigError(
                "max_num_batched_tokens",
                f"({self.max_num_batched_tokens}) must be >= max_num_seqs ({self.max_num_seqs})")
        if not self.enable_chunked_prefill and self.max_num_batched_tokens < self.max_model_len:
            raise ConfigError(
                "max_num_batched_tokens",
                f"({self.max_num_batched_tokens}) is smaller than max_model_len "
                f"({self.max_model_len}) with enable_chunked_prefill off: long prompts "
                f"could never be scheduled")

    def with_scheduler_settings(self, **changes) -> "EngineConfig":
        """This config with scheduler settings changed (resume with new settings).

        Only SCHEDULER_SETTINGS may change on a running engine; the cache settings lay out
        the block tables and request lengths already in place, so changing one raises
        ConfigError naming it (cache resizing is a later issue).
        """
        for name in changes:
            if name in SCHEDULER_SETTINGS:
                continue
            if name == "vllm_compat":
                raise ConfigError(name, "cannot change on a running or resumed engine: a run "
                                  "follows either the lab or vLLM 0.33 from its first step")
            if name in {f.name for f in fields(self)}:
                raise ConfigError(name, "cannot change on a running or resumed engine: the KV "
                                  "cache, block tables and request length limits already laid "
                                  "out depend on it (changeable: "
                                  f"{', '.join(SCHEDULER_SETTINGS)})")
            raise ConfigError(name, f"unknown setting (changeable: {', '.join(SCHEDULER_SETTINGS)})")
        return replace(self, **changes)

    def _int_setting(self, name: str, lo: int, hi: int, kind: str,
                     too_small: str | None = None) -> None:
        """Check an integer setting against [lo, hi]; store it as an int (numpy ints are
        accepted). Below `lo` the message is `too_small` ("must be a positive integer")."""
        value = getattr(self, name)
        if not is_int(value):
            raise ConfigTypeError(name, f"must be {kind}, got {shown(value)} "
                                        f"({type(value).__name__})")
        if value < lo:
            raise ConfigError(name, f"{too_small or 'must be ' + kind}, got {shown(value)}")
        if value > hi:
            raise ConfigError(name, f"must be at most {hi}, got {shown(value)}")
        if type(value) is not int:
            object.__setattr__(self, name, int(value))

    @property
    def num_usable_blocks(self) -> int:
        return self.num_gpu_blocks - 1

    def to_dict(self) -> dict:
        """The settings by name; `vllm_compat` only when on (a lab run's dict is unchanged)."""
        d = asdict(self)
        if not self.vllm_compat:
            del d["vllm_compat"]
        return d


# The settings `with_scheduler_settings` may change between steps (vLLM's SchedulerConfig).
SCHEDULER_SETTINGS = ("max_num_batched_tokens", "max_num_seqs", "long_prefill_token_threshold",
                      "enable_chunked_prefill", "policy")

