#!/usr/bin/env python3
"""Record captures with the real vLLM 0.33 scheduler on CPU: how tests/data/vllm_captures/ is made.

Runs inside the oracle venv (/work/shared/oracle/README.md), with /work/main on
PYTHONPATH so `mini_engine.capture.vllm` imports:

    PYTHONPATH=/work/main MINI_ENGINE_CAPTURE_TOKENS=1 $HOME/.cache/vllm-oracle/bin/python \\
        tests/capture/capture_driver.py SCENARIO.json OUT.jsonl [--async]

The scenario is in the oracle's format (tests/engine/golden/scenarios/*.json). The
scheduler is built exactly as tests/engine/golden/oracle_driver.py builds it, then
rebuilt from the same configs as `RecordingSyncScheduler` (or `RecordingScheduler`, an
AsyncScheduler, with --async, driven in lockstep), with MINI_ENGINE_CAPTURE=OUT. The loop
is EngineCore's: arrivals and `finish_requests` ops before each schedule(), the fake
model's output, update_from_output(), while the scheduler has_requests(); then
shutdown() writes the final line. `reset_prefix_cache` ops are refused (a capture
does not record them yet).
"""

from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "engine", "golden")
sys.path.insert(0, GOLDEN)

import oracle_driver as od  # noqa: E402
from oracle_scenario import load_scenario  # noqa: E402


def build(engine: dict, use_async: bool):
    base, vllm_config, block_hasher = od.build_scheduler(engine)
    import mini_engine.capture.vllm as cap
    cls = cap.RecordingScheduler if use_async else cap.RecordingSyncScheduler
    sched = cls(vllm_config=vllm_config, kv_cache_config=base.kv_cache_config,
                block_size=int(engine["block_size"]), log_stats=True,
                structured_output_manager=base.structured_output_manager)
    return sched, block_hasher


def run(scenario: dict, use_async: bool) -> int:
    from vllm.v1.request import RequestStatus
    if any(op["op"] != "finish_requests" for op in scenario["ops"]):
        raise SystemExit("capture_driver: only finish_requests ops can be captured")
    sched, block_hasher = build(scenario["engine"], use_async)
    specs = {r["id"]: r for r in scenario["requests"]}
    pending = sorted(scenario["requests"], key=lambda r: r["arrival_step"])
    ops = scenario["ops"]
    pending_idx = op_idx = 0
    all_reqs: dict = {}
    step = 0
    while step < scenario["max_steps"]:
        pending_idx, _ = od.add_arrivals(sched, pending, pending_idx, step, block_hasher,
                                         all_reqs)
        while op_idx < len(ops) and ops[op_idx]["before_step"] <= step:
            op = ops[op_idx]
            ids = op["request_ids"]
            sched.finish_requests(ids if ids is None or isinstance(ids, str) else list(ids),
                                  RequestStatus[op["status"]])
            op_idx += 1
        if pending_idx >= len(pending) and not sched.has_requests():
            break
        out = sched.schedule()
        mro = od.build_model_output(sched, out, specs, scenario["token_rule"])
        sched.update_from_output(out, mro)
        step += 1
    sched.shutdown()
    return step


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("out")
    ap.add_argument("--async", dest="use_async", action="store_true")
    args = ap.parse_args(argv)
    os.environ["MINI_ENGINE_CAPTURE"] = args.out
    steps = run(load_scenario(args.scenario), args.use_async)
    print(f"capture_driver: {args.scenario}: {steps} steps -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
