"""Record a real vLLM V1 server's scheduling: scheduler subclasses that write a capture.

    MINI_ENGINE_CAPTURE=/tmp/run.jsonl vllm serve MODEL \\
        --scheduler-cls mini_engine.capture.vllm.RecordingScheduler

`RecordingScheduler` (an `AsyncScheduler`, vLLM's default engine loop) and
`RecordingSyncScheduler` (a `Scheduler`) call the parent's methods unchanged and write
one line per step to the file named by MINI_ENGINE_CAPTURE (observe.py says what a
line holds; MINI_ENGINE_CAPTURE_TOKENS=1 adds token ids). Without the variable they
behave exactly as their parent. vllm is imported only when a class is first asked for
(PEP 562 `__getattr__`), so mini_engine imports and tests without it. `register` is the
`vllm.general_plugins` entry point: with MINI_ENGINE_CAPTURE set it makes vLLM pick the
recording subclass of the scheduler it would have used, no flag needed.
"""

from __future__ import annotations

import logging
import os
import time

from mini_engine.capture.observe import CaptureState, engine_settings, header_line, now
from mini_engine.capture.observe import tokens_opted_in
from mini_engine.capture.writer import CaptureWriter
from mini_engine.errors import MiniEngineError

logger = logging.getLogger("mini_engine.capture")

CAPTURE_ENV = "MINI_ENGINE_CAPTURE"
TESTED_VERSIONS = ("0.33",)  # vLLM release lines the capture is tested with (0.33.x)


class UnsupportedVLLMError(MiniEngineError):
    """The installed vLLM is not one the capture was tested with."""


def check_version(version: str) -> None:
    """Refuse a vLLM whose X.Y is not in TESTED_VERSIONS, naming the tested ones."""
    line = ".".join(version.split("+")[0].split(".")[:2])
    if line not in TESTED_VERSIONS:
        tested = ", ".join(f"{v}.x" for v in TESTED_VERSIONS)
        raise UnsupportedVLLMError(
            f"mini-engine capture supports vLLM {tested} (tested); this is vLLM {version}: "
            f"the scheduler's internals it reads may differ. Install vllm>=0.33,<0.34 or "
            f"run without --scheduler-cls / MINI_ENGINE_CAPTURE")


class _Capture:
    """Mixin over a vLLM scheduler class: the hooks, each calling the parent unchanged."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.capture_writer = None
        self.capture_state = None
        self.capture_cost = 0.0  # seconds spent in the capture's own code
        path = os.environ.get(CAPTURE_ENV)
        if path:
            self.capture_start(path)

    def capture_start(self, path: str) -> None:
        import vllm
        try:
            engine, unmodelled = engine_settings(self.vllm_config, self.kv_cache_config)
            parent = type(self).__mro__[2].__name__
            head = header_line(vllm.__version__, type(self).__name__, parent, engine,
                               unmodelled, self.log_stats)
        except Exception as e:  # never take the server down
            logger.error("mini-engine capture: cannot read the engine settings (%s); "
                         "capture off", e)
            return
        self.capture_writer = CaptureWriter(path)
        self.capture_state = CaptureState(tokens_opted_in())
        self.capture_writer.write(head)
        self.capture_writer.flush()

    def capture_safely(self, what, *args):
        """Run one capture hook; a failure stops the capture (logged once), never the server."""
        if self.capture_state is None or self.capture_writer.failed:
            return None
        t0 = time.perf_counter()
        try:
            return what(*args)
        except Exception as e:
            self.capture_writer.fail(e)
            return None
        finally:
            self.capture_cost += time.perf_counter() - t0

    def add_request(self, request) -> None:
        super().add_request(request)
        self.capture_safely(lambda: self.capture_state.add(request))

    def finish_requests(self, request_ids, finished_status):
        done = super().finish_requests(request_ids, finished_status)
        self.capture_safely(self.capture_state_aborts, done)
        return done

    def capture_state_aborts(self, done) -> None:
        self.capture_state.aborts(done)

    def schedule(self, *args, **kwargs):
        t_wall, t0 = now(), time.perf_counter()
        out = super().schedule(*args, **kwargs)
        spent = time.perf_counter() - t0
        self.capture_safely(lambda: self.capture_state.scheduled(self, out, t_wall, spent))
        return out

    def update_from_output(self, scheduler_output, model_runner_output):
        t0 = time.perf_counter()
        result = super().update_from_output(scheduler_output, model_runner_output)
        spent = time.perf_counter() - t0
        self.capture_safely(self.capture_line, scheduler_output, result, spent)
        return result

    def capture_line(self, scheduler_output, result, spent: float) -> None:
        line = self.capture_state.updated(self, scheduler_output, result, spent)
        if line is not None:
            line["capture_us"] = round(self.capture_cost * 1e6, 1)
            self.capture_cost = 0.0
            self.capture_writer.write(line)

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            self.capture_close()

    def capture_close(self) -> None:
        if self.capture_writer is not None and self.capture_state is not None:
            try:
                self.capture_writer.close(self.capture_state.final())
            except Exception as e:  # never raised into the server
                self.capture_writer.fail(e)


def _build(name: str):
    import vllm
    check_version(vllm.__version__)
    if name == "RecordingScheduler":
        from vllm.v1.core.sched.async_scheduler import AsyncScheduler as parent
    else:
        from vllm.v1.core.sched.scheduler import Scheduler as parent
    cls = type(name, (_Capture, parent), {"__module__": __name__, "__doc__": (
        f"vLLM's {parent.__name__}, unchanged, writing a capture to ${CAPTURE_ENV}.")})
    globals()[name] = cls
    return cls


def __getattr__(name: str):
    """The scheduler classes, built (and vllm imported) when first asked for."""
    if name in ("RecordingScheduler", "RecordingSyncScheduler"):
        return _build(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register() -> None:
    """`vllm.general_plugins` entry point: with MINI_ENGINE_CAPTURE set, vLLM's own choice of
    scheduler (Scheduler or AsyncScheduler) becomes its recording subclass."""
    if not os.environ.get(CAPTURE_ENV):
        return
    from vllm.config import SchedulerConfig
    original = SchedulerConfig.get_scheduler_cls
    if getattr(original, "mini_engine_capture", False):
        return  # plugins may load more than once per process

    def get_scheduler_cls(self):
        cls = original(self)
        for name in ("RecordingScheduler", "RecordingSyncScheduler"):
            ours = __getattr__(name)
            if cls is ours.__mro__[2]:
                return ours
        logger.warning("mini-engine capture: scheduler %s is not vLLM's own; not captured",
                       cls)
        return cls

    get_scheduler_cls.mini_engine_capture = True
    SchedulerConfig.get_scheduler_cls = get_scheduler_cls


__all__ = ["CAPTURE_ENV", "TESTED_VERSIONS", "UnsupportedVLLMError", "check_version", "register"]
