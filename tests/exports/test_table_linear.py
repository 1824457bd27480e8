"""The step table reads a run once, in order (issue 8, class 9: `run large_workload
--format table` took ~30 s seeking once per step). Its queues and why-waiting reasons must
stay exactly what `Recording.seek()` says, on every bundled scenario and random workloads;
and it must never seek, so its cost is linear in the run."""

from __future__ import annotations

import collections
import random
import re

import pytest

from mini_engine.exports.table import MAX_NAMES, iter_table_lines, table_rows
from mini_engine.recording.recorder import record
from mini_engine.recording.store import Recording
from mini_engine.scenarios.catalog import bundled_names, resolve_scenario
from mini_engine.scenarios.loader import load_scenario, load_scenario_text

SHORT = {"FINISHED_STOPPED": "stop", "FINISHED_LENGTH": "length", "FINISHED_ABORTED": "abort",
         "FINISHED_IGNORED": "ignored"}


def join(items: list[str], max_names: int = MAX_NAMES) -> str:
    if not items:
        return "-"
    extra = f" +{len(items) - max_names}" if len(items) > max_names else ""
    return " ".join(items[:max_names]) + extra


def queue_cells_by_seek(rec: Recording, step: int, max_names: int = MAX_NAMES) -> tuple:
    """The running, waiting and finished cells as the full state at `step` has them."""
    state = rec.seek(step)
    d = rec.delta(step)
    ids = rec.request_ids
    finished = [ids[r] for r in d.reported_finished]
    finished += [h.request_id for h in d.happenings
                 if h.kind == "abort" and h.request_id not in finished]
    done = [f"{rid}:{SHORT.get(state.status_name(rid), state.status_name(rid))}"
            for rid in finished]
    waiting = [f"{rid}({why})" for rid, why in zip(state.waiting, state.waiting_reasons)]
    return (join(list(state.running), max_names), join(waiting, max_names),
            join(done, max_names))


def assert_same_as_seek(rec: Recording, max_names: int = MAX_NAMES) -> None:
    rows = list(table_rows(rec, max_names=max_names))
    assert len(rows) == rec.num_steps
    for step, row in enumerate(rows, start=1):
        assert (row[3], row[4], row[5]) == queue_cells_by_seek(rec, step, max_names), step


@pytest.mark.parametrize("name", [n for n in bundled_names() if n != "large_workload"])
def test_queues_match_seek_on_every_bundled_scenario(name):
    rec = record(load_scenario(resolve_scenario(name)))
    assert_same_as_seek(rec)
    assert_same_as_seek(rec, max_names=1)


def test_queues_match_seek_on_the_large_workload_start():
    rec = record(load_scenario(resolve_scenario("large_workload")), until=1500)
    assert_same_as_seek(rec)


def random_scenario(seed: int) -> str:
    """Small runs with priorities, a tight cache and (every other one) chunked prefill off:
    every why-waiting reason shows up across seeds 0..11 (checked below)."""
    rnd = random.Random(seed)
    lines = [f"name: random_{seed}", "description: priorities, a tight cache, late arrivals",
             f"engine: {{num_gpu_blocks: {rnd.randint(8, 16)}, block_size: 4, "
             f"max_num_batched_tokens: 48, max_model_len: 48, max_num_seqs: 4, "
             f"policy: priority, enable_chunked_prefill: {'true' if seed % 2 else 'false'}}}",
             "requests:"]
    for i in range(12):
        prompt = ", ".join(str(rnd.randint(1, 200)) for _ in range(rnd.randint(1, 30)))
        lines.append(f"  - {{id: r{i}, prompt_token_ids: [{prompt}], "
                     f"max_tokens: {rnd.randint(1, 12)}, ignore_eos: true, "
                     f"priority: {rnd.randint(0, 3)}, arrival_step: {rnd.randint(0, 20)}}}")
    return "\n".join(lines) + "\n"


def test_queues_match_seek_on_random_workloads():
    reasons = collections.Counter()
    for seed in range(12):
        rec = record(load_scenario_text(random_scenario(seed)))
        assert_same_as_seek(rec, max_names=20)
        assert_same_as_seek(rec, max_names=2)
        for row in table_rows(rec, max_names=20):
            reasons.update(re.findall(r"\((\w+)\)", row[4]))
    assert set(reasons) == {"priority", "head_of_line", "kv_cache", "just_arrived",
                            "preemption", "preempted", "budget_unchunked", "max_num_seqs"}


def test_the_table_never_seeks(monkeypatch):
    rec = record(load_scenario(resolve_scenario("preemption_thrash")))
    expected = list(iter_table_lines(rec))

    def no_seek(self, step):
        raise AssertionError("the table must read the run in order, not seek each step")

    monkeypatch.setattr(Recording, "seek", no_seek)
    assert list(iter_table_lines(rec)) == expected
