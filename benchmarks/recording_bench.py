"""Recording speed and memory: W1 overhead, the large workload, seek, JSONL export/load.

    python benchmarks/recording_bench.py [--runs 5] [--seeks 1000]

Figures are printed, never asserted. Targets (issue 3 section 5): W1 recording
overhead <= 30% over the bare engine; the large workload recorded in < 10 s and
< 300 MB peak; seek < 2 ms; JSONL export/load streaming (memory not proportional
to file size).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mini_engine.engine.config import EngineConfig  # noqa: E402
from mini_engine.recording.jsonl import load_jsonl, save_jsonl  # noqa: E402
from mini_engine.recording.recorder import record  # noqa: E402
from mini_engine.scenarios.runner import ScenarioRunner  # noqa: E402
from mini_engine.engine.sampling_params import SamplingParams  # noqa: E402
from mini_engine.scenarios.spec import ModelSpec, RequestSpec, Scenario  # noqa: E402

LARGE = Path(__file__).resolve().parent.parent / "mini_engine" / "scenarios" / "large_workload.yaml"


def w1() -> Scenario:
    """W1: 256 requests at step 0, random-byte prompts 128..512 (seeded), max_tokens 128."""
    rng = np.random.default_rng(0)
    params = SamplingParams(max_tokens=128, temperature=0.0, ignore_eos=True)
    reqs = tuple(RequestSpec(f"r{i}", params, prompt_token_ids=tuple(
        rng.integers(0, 256, int(rng.integers(128, 513))).tolist())) for i in range(256))
    cfg = EngineConfig(max_num_batched_tokens=2048, max_num_seqs=256,
                       long_prefill_token_threshold=0, block_size=16, num_gpu_blocks=12000,
                       enable_prefix_caching=True, max_model_len=8192)
    return Scenario("W1", "engine issue workload W1", cfg, ModelSpec(), reqs)


def large() -> Scenario:
    if LARGE.exists():
        from mini_engine.scenarios.loader import load_scenario
        return load_scenario(LARGE)
    raise SystemExit(f"missing {LARGE}")


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bare(sc: Scenario) -> int:
    return ScenarioRunner(sc).run()


def peak_mb(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    t, out = timed(fn)
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return t, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeks", type=int, default=1000)
    args = parser.parse_args()

    sc = w1()
    b, r = [], []
    for _ in range(args.runs):  # interleaved so drift hits both alike
        b.append(timed(lambda: bare(sc))[0])
        r.append(timed(lambda: record(sc))[0])
    mb, mr = statistics.median(b), statistics.median(r)
    print(f"W1 ({bare(sc)} steps, median of {args.runs}): bare engine {mb * 1e3:.0f} ms, "
          f"recorded {mr * 1e3:.0f} ms, overhead {100 * (mr / mb - 1):+.1f}% (target <= 30%)")

    sc = large()
    t_bare = timed(lambda: bare(sc))[0]
    t_rec, rec = timed(lambda: record(sc))
    print(f"large workload ({rec.num_steps} steps, {len(rec.request_ids)} requests): "
          f"bare engine {t_bare:.2f} s, recorded in {t_rec:.2f} s (target < 10 s)")

    rnd = random.Random(0)
    steps = [rnd.randrange(rec.num_steps + 1) for _ in range(args.seeks)]
    times = []
    for s in steps:
        t0 = time.perf_counter()
        rec.seek(s)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"  seek to {args.seeks} random steps: mean {statistics.mean(times) * 1e3:.2f} ms, "
          f"median {times[len(times) // 2] * 1e3:.2f} ms, p99 {times[int(0.99 * len(times))] * 1e3:.2f} ms, "
          f"max {times[-1] * 1e3:.2f} ms (target < 2 ms)")
    summary_t, _ = timed(rec.summary)
    print(f"  summary arrays for the timeline: {summary_t * 1e3:.1f} ms (first call, then cached)")

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "large.jsonl")
        t_save, _ = timed(lambda: save_jsonl(rec, path))
        size = os.path.getsize(path) / 2**20
        t_load, back = timed(lambda: load_jsonl(path))
        print(f"  JSONL export: {size:.1f} MB in {t_save:.2f} s; load in {t_load:.2f} s; "
              f"loaded == original: {back == rec}")
        del back
        _, peak_save, _ = peak_mb(lambda: save_jsonl(rec, path))
        _, peak_load, back = peak_mb(lambda: load_jsonl(path))
        print(f"  JSONL streaming memory (tracemalloc peaks): export {peak_save:.1f} MB, "
              f"load {peak_load:.0f} MB = the rebuilt recording itself; file {size:.1f} MB "
              f"is never held whole (load of a file twice the size would need the "
              f"recording's size, not two file sizes)")
        del back
    del rec
    # Peak memory of recording alone, in a fresh process (max RSS includes the interpreter).
    # VmHWM (peak RSS) is per address space, so it restarts at exec, unlike ru_maxrss.
    code = ("import sys,tracemalloc; sys.path.insert(0, %r); "
            "hwm = lambda: int([l for l in open('/proc/self/status') if l.startswith('VmHWM')]"
            "[0].split()[1]) / 1024; "
            "from mini_engine.recording import record; "
            "from mini_engine.scenarios.loader import load_scenario; "
            "sc = load_scenario(%r); base = hwm(); "
            "tracemalloc.start(); rec = record(sc); peak = tracemalloc.get_traced_memory()[1]; "
            "tracemalloc.stop(); print(base, hwm(), peak / 2**20)") % (str(Path(__file__).resolve().parent.parent), str(LARGE))
    import subprocess
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    base, rss, peak = map(float, out.stdout.split())
    print(f"  recording peak memory (fresh process): tracemalloc peak {peak:.0f} MB, "
          f"peak RSS {rss:.0f} MB (of which {base:.0f} MB before recording: interpreter, numpy, "
          f"scenario; target < 300 MB)")


if __name__ == "__main__":
    main()
