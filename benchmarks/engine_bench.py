"""Engine speed: steps, wall time, steps/s and microseconds per step on the issue's workloads.

    python benchmarks/engine_bench.py [--runs 7] [--only W1] [--profile]

--profile adds, per workload, the split of the fastest run's time between
schedule(), model.sample(), update_from_output() and the rest of engine.step()
(gathering the scheduled requests, building the ModelRunnerOutput), plus the
decode-only steps (every scheduled request gets one token and samples).

Seeded random-byte prompts, ignore_eos, block size 16, budget 2048, threshold 0,
prefix caching on; the toy model samples (engine plus model, end to end).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from mini_engine import LLMEngine, SamplingParams

WORKLOADS = {
    # name: (num requests, prompt len range, max_tokens, max_num_seqs, num_gpu_blocks)
    "W1": (256, (128, 512), 128, 256, 12000),
    "W2": (256, (128, 512), 128, 256, 2000),
    "W3": (2048, (32, 128), 256, 256, 40000),
}


def build(name: str, seed: int = 0) -> LLMEngine:
    n, (lo, hi), max_tokens, max_num_seqs, blocks = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    engine = LLMEngine(max_num_batched_tokens=2048, max_num_seqs=max_num_seqs,
                       long_prefill_token_threshold=0, block_size=16, num_gpu_blocks=blocks,
                       enable_prefix_caching=True, max_model_len=8192)
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, ignore_eos=True)
    for i in range(n):
        length = int(rng.integers(lo, hi + 1))
        engine.add_request(f"r{i}", prompt_token_ids=rng.integers(0, 256, length).tolist(),
                           sampling_params=params)
    return engine


def run(name: str) -> tuple[int, float, int]:
    engine = build(name)
    steps = preemptions = 0
    t0 = time.perf_counter()
    while engine.scheduler.has_unfinished_requests():
        engine.step()
        steps += 1
        preemptions += engine.last_stats.num_preemptions
    return steps, time.perf_counter() - t0, preemptions


PHASES = ("schedule", "sample", "update", "glue")


def run_profiled(name: str) -> tuple[float, dict[str, float], int, float]:
    """One run with each phase timed (the timers add some overhead to the total)."""
    engine = build(name)
    scheduler, model = engine.scheduler, engine.model
    clock = time.perf_counter
    spent = dict.fromkeys(PHASES, 0.0)

    def timed(phase, fn):
        def wrapper(*args):
            t = clock()
            try:
                return fn(*args)
            finally:
                spent[phase] += clock() - t
        return wrapper

    scheduler.schedule = timed("schedule", scheduler.schedule)
    scheduler.update_from_output = timed("update", scheduler.update_from_output)
    model.sample = timed("sample", model.sample)
    decode_steps, decode_time = 0, 0.0
    t0 = clock()
    while scheduler.has_unfinished_requests():
        t = clock()
        engine.step()
        so = engine.last_scheduler_output
        if (not so.scheduled_new_req_ids and not so.scheduled_resumed_req_ids
                and so.total_num_scheduled_tokens == len(so.num_scheduled_tokens)
                and not scheduler.num_prefill_chunks):
            decode_steps += 1
            decode_time += clock() - t
    total = clock() - t0
    spent["glue"] = total - sum(spent.values())
    return total, spent, decode_steps, decode_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--only", choices=sorted(WORKLOADS))
    parser.add_argument("--profile", action="store_true",
                        help="also print the per-phase split of the fastest profiled run")
    args = parser.parse_args()
    print(f"{'workload':8} {'steps':>6} {'median ms':>10} {'min ms':>8} {'steps/s':>9} {'us/step':>8} "
          f"{'preemptions':>11}")
    for name in [args.only] if args.only else WORKLOADS:
        results = [run(name) for _ in range(args.runs)]
        steps, _, preemptions = results[0]
        wall = statistics.median(r[1] for r in results)
        best = min(r[1] for r in results)
        print(f"{name:8} {steps:6d} {wall * 1e3:10.1f} {best * 1e3:8.1f} {steps / wall:9.0f} "
              f"{wall / steps * 1e6:8.1f} {preemptions:11d}")
        if args.profile:
            total, spent, decode_steps, decode_time = min(
                (run_profiled(name) for _ in range(args.runs)), key=lambda r: r[0])
            split = "  ".join(f"{p} {spent[p] * 1e3:.1f} ms ({spent[p] / total:.0%})" for p in PHASES)
            print(f"  profiled {total * 1e3:.1f} ms: {split}")
            if decode_steps:
                print(f"  {decode_steps} pure-decode steps: {decode_time / decode_steps * 1e6:.0f} us/step")


if __name__ == "__main__":
    main()
