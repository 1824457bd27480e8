"""Scheduler and cache settings, with vLLM's names, defaults and validation rules."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from mini_engine.engine.errors import MiniEngineError


class ConfigError(MiniEngineError, ValueError):
    """An engine setting the engine cannot run with; `field` names the offending setting."""

    title = "Invalid engine setting"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)


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

    def __post_init__(self) -> None:
        for name in ("max_num_batched_tokens", "max_num_seqs", "block_size", "max_model_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, f"must be a positive integer, got {value!r}")
        if self.num_gpu_blocks < 2:
            raise ConfigError("num_gpu_blocks",
                              f"must be at least 2 (block 0 is the reserved null block), "
                              f"got {self.num_gpu_blocks!r}")
        if self.long_prefill_token_threshold < 0:
            raise ConfigError("long_prefill_token_threshold",
                              f"must be >= 0, got {self.long_prefill_token_threshold!r}")
        if self.policy not in ("fcfs", "priority"):
            raise ConfigError("policy", f"must be 'fcfs' or 'priority', got {self.policy!r}")
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
            if name in {f.name for f in fields(self)}:
                raise ConfigError(name, "cannot change on a running or resumed engine: the KV "
                                  "cache, block tables and request length limits already laid "
                                  "out depend on it (changeable: "
                                  f"{', '.join(SCHEDULER_SETTINGS)})")
            raise ConfigError(name, f"unknown setting (changeable: {', '.join(SCHEDULER_SETTINGS)})")
        return replace(self, **changes)

    @property
    def num_usable_blocks(self) -> int:
        return self.num_gpu_blocks - 1

    def to_dict(self) -> dict:
        return asdict(self)


# The settings `with_scheduler_settings` may change between steps (vLLM's SchedulerConfig).
SCHEDULER_SETTINGS = ("max_num_batched_tokens", "max_num_seqs", "long_prefill_token_threshold",
                      "enable_chunked_prefill", "policy")
