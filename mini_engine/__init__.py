"""mini_engine: a small, deterministic re-implementation of vLLM V1's engine loop, and a debugger for it.

This module is the facade: the names a user needs, from the packages below it. The
engine's names load with it; the layers above the engine (scenarios, recordings, the
debug session, sources) load on first use, so `import mini_engine.engine` stays light.
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

_LAZY = {
    "load_scenario": "mini_engine.scenarios.loader",
    "record": "mini_engine.recording.recorder",
    "resume_at": "mini_engine.recording.recorder",
    "Recording": "mini_engine.recording.store",
    "load_recording": "mini_engine.recording.jsonl",
    "save_recording": "mini_engine.recording.jsonl",
    "open_source": "mini_engine.sources",
    "DebugSession": "mini_engine.debug.session",
    "MiniEngineError": "mini_engine.errors",
}
_RENAMED = {"load_recording": "load_jsonl", "save_recording": "save_jsonl"}


def __getattr__(name: str):
    """The facade's upper-layer names, imported when first asked for (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mini_engine' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


__all__ = [*_LAZY,
    "BlockPool", "ByteTokenizer", "ConfigError", "ConstantModel", "EngineConfig", "Event",
    "KVCacheManager", "LLMEngine", "LastPlusPosModel", "ModelRunnerOutput", "PreemptionRecord",
    "PrefixCacheStats", "Request", "RequestOutput", "RequestStatus", "SamplingParams", "Scheduler",
    "SchedulerOutput", "SchedulerStats", "ToyModel", "trace_request", "__version__",
]
