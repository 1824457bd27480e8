"""Exports of a recorded run: Chrome Trace Event JSON (Perfetto) and vLLM-style log lines.

Both read a `Recording` (mini_engine.recording), so they agree with every other view
of the same run; pass a `Scenario` instead and it is recorded first.
"""

from mini_engine.exports.perfetto import (STEP_US, export_perfetto, iter_trace_events, write_perfetto)
from mini_engine.exports.vllm_log import DEFAULT_STATS_INTERVAL, iter_log_lines, write_log

__all__ = ["STEP_US", "export_perfetto", "iter_trace_events", "write_perfetto",
           "DEFAULT_STATS_INTERVAL", "iter_log_lines", "write_log"]
