"""mini_engine: a small, deterministic re-implementation of vLLM V1's engine loop, and a debugger for it.

This module is the facade: the names a user needs, from the packages below it.
"""

from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.engine.core.block_pool import BlockPool
from mini_engine.engine.core.kv_cache_manager import KVCacheManager
from mini_engine.engine.core.kv_cache_utils import PrefixCacheStats
from mini_engine.engine.core.sched.output import PreemptionRecord, SchedulerOutput
from mini_engine.engine.core.sched.scheduler import Scheduler
from mini_engine.engine.lab import Event, trace_request
from mini_engine.engine.llm_engine import LLMEngine
from mini_engine.engine.model import ConstantModel, LastPlusPosModel, ToyModel
from mini_engine.engine.outputs import ModelRunnerOutput, RequestOutput, SchedulerStats
from mini_engine.engine.request import Request, RequestStatus
from mini_engine.engine.sampling_params import SamplingParams
from mini_engine.engine.tokenizer import ByteTokenizer
from mini_engine.version import __version__

__all__ = [
    "BlockPool", "ByteTokenizer", "ConfigError", "ConstantModel", "EngineConfig", "Event",
    "KVCacheManager", "LLMEngine", "LastPlusPosModel", "ModelRunnerOutput", "PreemptionRecord",
    "PrefixCacheStats", "Request", "RequestOutput", "RequestStatus", "SamplingParams", "Scheduler",
    "SchedulerOutput", "SchedulerStats", "ToyModel", "trace_request", "__version__",
]
