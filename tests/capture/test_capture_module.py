"""The recorder's parts that need no vllm: lazy import, version check, a writer that never raises."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from mini_engine.capture import vllm as capture_vllm
from mini_engine.capture.writer import CaptureWriter


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_module_imports_without_vllm_and_names_it_when_a_class_is_asked_for():
    with pytest.raises(ImportError, match="vllm"):
        capture_vllm.RecordingScheduler  # noqa: B018


def test_untested_vllm_versions_are_refused_naming_the_tested_ones():
    capture_vllm.check_version("0.33.0")
    capture_vllm.check_version("0.33.2+cpu")
    with pytest.raises(capture_vllm.UnsupportedVLLMError) as e:
        capture_vllm.check_version("0.34.0")
    assert "supports vLLM 0.33.x (tested); this is vLLM 0.34.0" in str(e.value)


def test_writer_buffers_and_flushes_every_n_lines(tmp_path):
    path = tmp_path / "c.jsonl"
    w = CaptureWriter(str(path), flush_every=2)
    w.write({"a": 1})
    assert path.read_text() == ""
    w.write({"b": 2})
    assert path.read_text() == '{"a":1}\n{"b":2}\n'
    w.close({"final": {"num_steps": 0, "complete": True}})
    w.close()
    assert path.read_text().endswith('{"final":{"num_steps":0,"complete":true}}\n')


def test_a_write_failure_is_logged_once_and_never_raised(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="mini_engine.capture")
    w = CaptureWriter(str(tmp_path / "no" / "dir" / "c.jsonl"), flush_every=1)
    for i in range(5):
        w.write({"i": i})
    w.close({"final": {}})
    assert w.failed
    assert len([r for r in caplog.records if "cannot write" in r.message]) == 1
