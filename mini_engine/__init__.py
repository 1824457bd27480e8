"""mini_engine: a small, deterministic re-implementation of vLLM V1's engine loop."""

from .config import ConfigError, EngineConfig
from .engine import LLMEngine
from .kv_cache_manager import KVCacheManager, PrefixCacheStats
from .block_pool import BlockPool
from .model import ConstantModel, LastPlusPosModel, ToyModel
from .outputs import (ModelRunnerOutput, PreemptionRecord, RequestOutput, SchedulerOutput,
                      SchedulerStats)
from .request import Request, RequestStatus
from .sampling_params import SamplingParams
from .scheduler import Scheduler
from .tokenizer import ByteTokenizer
from .trace import Event, trace_request

__version__ = "0.1.0"

__all__ = [
    "BlockPool", "ByteTokenizer", "ConfigError", "ConstantModel", "EngineConfig", "Event",
    "KVCacheManager", "LLMEngine", "LastPlusPosModel", "ModelRunnerOutput", "PreemptionRecord",
    "PrefixCacheStats",
    "Request", "RequestOutput", "RequestStatus", "SamplingParams", "Scheduler", "SchedulerOutput",
    "SchedulerStats", "ToyModel", "trace_request", "__version__",
]
