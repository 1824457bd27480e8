"""The recorder inside the real vLLM 0.33 scheduler: needs vllm (skipped elsewhere).

Run with the oracle venv (it has no pytest of its own, so this file also runs as a script):
    PYTHONPATH=. $HOME/.cache/vllm-oracle/bin/python tests/capture/test_capture_vllm.py
"""

from __future__ import annotations

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "vllm_captures")
SCENARIOS = os.path.join(HERE, "..", "engine", "golden", "scenarios")
TIMING = ("wall_time", "schedule_us", "update_us", "capture_us")


def _decisions(path: str) -> list[dict]:
    out = []
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            for k in TIMING:
                d.pop(k, None)
            d.get("unmodelled", {}).pop("model", None)
            out.append(d)
    return out


def test_recording_the_oracle_again_gives_the_committed_capture(tmp_path):
    pytest.importorskip("vllm", reason="vllm is not installed (see /work/shared/oracle)")
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(HERE, "..", "engine", "golden"))
    import capture_driver
    from oracle_scenario import load_scenario
    for name, use_async in (("d_memory_pressure", False), ("d_memory_pressure", True),
                            ("q_eos_and_stop_tokens", False)):
        out = str(tmp_path / f"{name}.jsonl")
        os.environ["MINI_ENGINE_CAPTURE"] = out
        os.environ["MINI_ENGINE_CAPTURE_TOKENS"] = "1"
        capture_driver.run(load_scenario(os.path.join(SCENARIOS, name + ".json")), use_async)
        committed = ("async_" if use_async else "") + name + ".jsonl"
        assert _decisions(out) == _decisions(os.path.join(DATA, committed))


def test_scheduler_classes_subclass_vllms():
    pytest.importorskip("vllm", reason="vllm is not installed (see /work/shared/oracle)")
    from vllm.v1.core.sched.async_scheduler import AsyncScheduler
    from vllm.v1.core.sched.scheduler import Scheduler

    from mini_engine.capture import vllm as cap
    assert issubclass(cap.RecordingScheduler, AsyncScheduler)
    assert issubclass(cap.RecordingSyncScheduler, Scheduler)
    assert not issubclass(cap.RecordingSyncScheduler, AsyncScheduler)


def test_plugin_swaps_vllms_scheduler_for_its_recording_subclass(monkeypatch):
    pytest.importorskip("vllm", reason="vllm is not installed (see /work/shared/oracle)")
    from vllm.config import SchedulerConfig

    from mini_engine.capture import vllm as cap
    monkeypatch.setenv("MINI_ENGINE_CAPTURE", "/dev/null")
    monkeypatch.setattr(SchedulerConfig, "get_scheduler_cls", SchedulerConfig.get_scheduler_cls)
    cap.register()
    cfg = SchedulerConfig.default_factory() if hasattr(SchedulerConfig, "default_factory") \
        else SchedulerConfig(max_model_len=64, is_encoder_decoder=False, async_scheduling=False)
    assert cfg.get_scheduler_cls() is cap.RecordingSyncScheduler


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(HERE, "..", "engine", "golden"))
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
