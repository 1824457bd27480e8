#!/usr/bin/env python3
"""Capture overhead: the recorder's per-step cost next to vLLM's own schedule() + update.

Run with the oracle venv (vLLM 0.33 on CPU; /work/shared/oracle/README.md):

    PYTHONPATH=. $HOME/.cache/vllm-oracle/bin/python benchmarks/capture_bench.py [--requests 256]

The workload is the oracle README's heavy case (256 concurrent requests, prompts of
128..512 random tokens with seed 0, max_tokens 128, budget 2048, max_num_seqs 256,
block_size 16, 12000 blocks). It runs three times in one process: the plain
`Scheduler`, then `RecordingSyncScheduler` capturing to a temporary file, with and
without MINI_ENGINE_CAPTURE_TOKENS=1. Each capture line carries the parent's
`schedule_us` and `update_us` and the capture's own `capture_us` (its hooks,
serialisation and buffered writes), so the ratio is measured on the same steps.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "engine", "golden"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "capture"))


def scenario(n: int) -> dict:
    from oracle_scenario import load_scenario
    rng = random.Random(0)
    reqs = [{"id": f"r{i}", "prompt_token_ids": [rng.randrange(256) for _ in
                                                 range(rng.randint(128, 512))],
             "max_tokens": 128, "ignore_eos": True, "eos_token_id": 0, "arrival_step": 0}
            for i in range(n)]
    engine = {"max_num_batched_tokens": 2048, "max_num_seqs": 256, "block_size": 16,
              "num_gpu_blocks": 12000, "max_model_len": 2048, "vllm_compat": True}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump({"engine": engine, "requests": reqs}, f)
        f.flush()
        return load_scenario(f.name)


def plain_run(sc: dict) -> tuple[int, float]:
    import oracle_driver as od
    sched, _, hasher = od.build_scheduler(sc["engine"])
    specs = {r["id"]: r for r in sc["requests"]}
    pending = sorted(sc["requests"], key=lambda r: r["arrival_step"])
    od.add_arrivals(sched, pending, 0, 0, hasher, {})
    steps, spent = 0, 0.0
    while sched.has_requests():
        t0 = time.perf_counter()
        out = sched.schedule()
        t1 = time.perf_counter()
        mro = od.build_model_output(sched, out, specs, sc["token_rule"])
        t2 = time.perf_counter()
        sched.update_from_output(out, mro)
        spent += (t1 - t0) + (time.perf_counter() - t2)
        steps += 1
    return steps, spent


def capture_run(sc: dict, tokens: bool) -> dict:
    import capture_driver
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.jsonl")
        os.environ["MINI_ENGINE_CAPTURE"] = path
        os.environ["MINI_ENGINE_CAPTURE_TOKENS"] = "1" if tokens else "0"
        capture_driver.run(sc, use_async=False)
        with open(path) as f:
            lines = [json.loads(x) for x in f][1:-1]
        size = os.path.getsize(path)
    sched_us = sum(x["schedule_us"] + x["update_us"] for x in lines)
    cap_us = sum(x["capture_us"] for x in lines)
    return {"steps": len(lines), "vllm_ms_per_step": round(sched_us / len(lines) / 1e3, 3),
            "capture_ms_per_step": round(cap_us / len(lines) / 1e3, 3),
            "overhead_percent": round(100 * cap_us / sched_us, 1), "file_bytes": size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=256)
    args = ap.parse_args()
    sc = scenario(args.requests)
    steps, spent = plain_run(sc)
    result = {"plain_scheduler": {"steps": steps,
                                  "ms_per_step": round(spent / steps * 1e3, 3)},
              "capture": capture_run(sc, tokens=False),
              "capture_with_token_ids": capture_run(sc, tokens=True)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
