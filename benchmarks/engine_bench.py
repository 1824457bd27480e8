"""Engine speed on the issue's workloads, greedy and at the default temperature=1.0, against a baseline.

    python benchmarks/engine_bench.py [--runs 5] [--only W1] [--temperature 0 --temperature 1]
                                      [--baseline b7a8e45 | --baseline none] [--current REV]
                                      [--profile]

Each (workload, temperature) is timed in two long-lived worker processes, one
importing this tree's `mini_engine`, one importing the baseline revision's (checked
out with `git worktree add` into a temporary directory, removed afterwards; `--current
REV` times a revision instead of the working tree, to isolate one change). Runs are
interleaved, alternating which side goes first, so load noise hits both alike. The
table gives the median and min CPU time (and the median wall time) of
`while has_unfinished_requests(): step()` for each side, and their ratio; it also checks that both sides ran the same number of
steps and preemptions and sampled the same tokens (a CRC of every request's output).

--profile adds, per (workload, temperature) and for this tree only, the split of the
fastest run's time between schedule(), sampling, update_from_output() and the rest
of engine.step(), plus the pure-decode steps' cost.

Seeded random-byte prompts, ignore_eos, block size 16, budget 2048, threshold 0,
prefix caching on; the toy model samples (engine plus model, end to end).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

WORKLOADS = {
    # name: (num requests, prompt len range, max_tokens, max_num_seqs, num_gpu_blocks)
    "W1": (256, (128, 512), 128, 256, 12000),
    "W2": (256, (128, 512), 128, 256, 2000),
    "W3": (2048, (32, 128), 256, 256, 40000),
}
REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ one run (worker side)

def build(name: str, temperature: float, seed: int = 0):
    """The workload's engine with every request added; only the public facade (both revisions)."""
    from mini_engine import LLMEngine, SamplingParams

    n, (lo, hi), max_tokens, max_num_seqs, blocks = WORKLOADS[name]
    rng = np.random.default_rng(seed)
    engine = LLMEngine(max_num_batched_tokens=2048, max_num_seqs=max_num_seqs,
                       long_prefill_token_threshold=0, block_size=16, num_gpu_blocks=blocks,
                       enable_prefix_caching=True, max_model_len=8192)
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, ignore_eos=True)
    for i in range(n):
        length = int(rng.integers(lo, hi + 1))
        engine.add_request(f"r{i}", prompt_token_ids=rng.integers(0, 256, length).tolist(),
                           sampling_params=params)
    return engine


def run(name: str, temperature: float) -> dict:
    engine = build(name, temperature)
    steps = preemptions = 0
    t0, c0 = time.perf_counter(), time.process_time()
    while engine.scheduler.has_unfinished_requests():
        engine.step()
        steps += 1
        preemptions += engine.last_stats.num_preemptions
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    crc = 0
    for i in range(WORKLOADS[name][0]):
        crc = zlib.crc32(repr(list(engine.get_request(f"r{i}").output_token_ids)).encode(), crc)
    return {"steps": steps, "seconds": seconds, "cpu_seconds": cpu_seconds,
            "preemptions": preemptions, "tokens_crc": crc}


def worker() -> None:
    """After one warm-up run, serve `<workload> <temperature>` lines on stdin, one JSON line each."""
    import mini_engine

    run("W1", 0.0)  # warm-up (imports, first-call costs), untimed
    print(json.dumps({"mini_engine": str(Path(mini_engine.__file__).resolve().parent)}),
          flush=True)
    for line in sys.stdin:
        name, temperature = line.split()
        print(json.dumps(run(name, float(temperature))), flush=True)


# ------------------------------------------------------------------ the comparison (parent side)

class Side:
    """A worker process importing `mini_engine` from `root`."""

    def __init__(self, label: str, root: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0"}
        self.label = label
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker"],
                                     cwd=root, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        imported = Path(json.loads(self.proc.stdout.readline())["mini_engine"])
        if imported != (root / "mini_engine").resolve():
            self.close()
            raise SystemExit(f"{label}: imported mini_engine from {imported}, not from {root}")

    def run(self, name: str, temperature: float) -> dict:
        self.proc.stdin.write(f"{name} {temperature}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"{self.label}: the worker died running {name} at T={temperature}")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def checkout(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet",
                    str(into), rev], check=True)
    return into


def compare(configs: list[tuple[str, float]], runs: int, baseline: str | None,
            current: str | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="engine_bench_") as tmp:
        sides, worktrees = [], []
        try:
            if current:
                worktrees.append(checkout(current, Path(tmp) / "current"))
            sides.append(Side(current or "current", worktrees[0] if current else REPO))
            if baseline:
                worktrees.append(checkout(baseline, Path(tmp) / "baseline"))
                sides.append(Side(baseline, worktrees[-1]))
            results = {(cfg, s.label): [] for cfg in configs for s in sides}
            for i in range(runs):
                for cfg in configs:
                    for side in (sides if i % 2 == 0 else sides[::-1]):
                        results[cfg, side.label].append(side.run(*cfg))
        finally:
            for side in sides:
                side.close()
            for worktree in worktrees:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(worktree)], check=False)
    print_table(configs, sides, results, runs)


def print_table(configs, sides, results, runs: int) -> None:
    labels = [s.label for s in sides]
    head = f"{'workload':8} {'T':>4} {'steps':>6} {'preempt':>7}"
    for label in labels:
        head += f" | {label[:10]:>10}: cpu med {'min':>7} {'wall med':>8}"
    if len(labels) == 2:
        head += f" | {'ratio med':>9} {'min':>5} {'same tokens':>11}"
    print(f"{runs} interleaved runs per cell, in ms; cpu = the worker's CPU time (steadier than "
          f"wall time on a loaded machine); ratios = {labels[0]} / {labels[-1]} cpu times")
    print(head)
    for cfg in configs:
        name, temperature = cfg
        first = results[cfg, labels[0]][0]
        row = f"{name:8} {temperature:4.1f} {first['steps']:6d} {first['preemptions']:7d}"
        medians, mins = [], []
        for label in labels:
            cpu = [r["cpu_seconds"] * 1e3 for r in results[cfg, label]]
            wall = [r["seconds"] * 1e3 for r in results[cfg, label]]
            medians.append(statistics.median(cpu))
            mins.append(min(cpu))
            row += f" | {medians[-1]:19.1f} {min(cpu):7.1f} {statistics.median(wall):8.1f}"
        if len(labels) == 2:
            a, b = (results[cfg, label][0] for label in labels)
            same = all(a[k] == b[k] for k in ("steps", "preemptions", "tokens_crc"))
            row += (f" | {medians[0] / medians[1]:9.2f} {mins[0] / mins[1]:5.2f} "
                    f"{'yes' if same else 'NO':>11}")
        print(row)


# ------------------------------------------------------------------ --profile (this tree only)

PHASES = ("schedule", "sample", "update", "glue")


def run_profiled(name: str, temperature: float) -> tuple[float, dict[str, float], int, float]:
    """One run with each phase timed (the timers add some overhead to the total)."""
    engine = build(name, temperature)
    scheduler = engine.scheduler
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
    engine.sample_tokens = timed("sample", engine.sample_tokens)
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


def profile(configs: list[tuple[str, float]], runs: int) -> None:
    sys.path.insert(0, str(REPO))
    for name, temperature in configs:
        total, spent, decode_steps, decode_time = min(
            (run_profiled(name, temperature) for _ in range(runs)), key=lambda r: r[0])
        split = "  ".join(f"{p} {spent[p] * 1e3:.1f} ms ({spent[p] / total:.0%})" for p in PHASES)
        print(f"{name} T={temperature}: profiled {total * 1e3:.1f} ms: {split}")
        if decode_steps:
            print(f"  {decode_steps} pure-decode steps: {decode_time / decode_steps * 1e6:.0f} us/step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=sorted(WORKLOADS))
    parser.add_argument("--temperature", type=float, action="append",
                        help="repeatable; default: 0 (greedy) and 1.0 (the default)")
    parser.add_argument("--baseline", default="b7a8e45",
                        help="git revision to compare against ('none': this tree only)")
    parser.add_argument("--current", metavar="REV",
                        help="time this revision instead of the working tree (to isolate a change)")
    parser.add_argument("--profile", action="store_true",
                        help="per-phase split of this tree's fastest run, instead of the table")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    temperatures = args.temperature or [0.0, 1.0]
    configs = [(name, t) for name in ([args.only] if args.only else WORKLOADS)
               for t in temperatures]
    if args.profile:
        return profile(configs, args.runs)
    compare(configs, args.runs, None if args.baseline.lower() == "none" else args.baseline,
            args.current)


if __name__ == "__main__":
    main()
