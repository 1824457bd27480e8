"""Save and resume on the large workload: the cost of snapshots, and of resuming at any step.

    python benchmarks/resume_bench.py [--every 128] [--resumes 50] [--seed 0]

A run keeps one `ScenarioRunner.snapshot()` every `--every` steps (what a recording
keeps next to its keyframes). Resuming at a random step is `ScenarioRunner.resume()`
of the nearest earlier snapshot plus replaying up to `--every - 1` steps; the target
is well under 100 ms. Times are wall clock (perf_counter) on a quiet machine; on a
shared one compare the CPU-time column. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import pickle
import random
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mini_engine.scenarios.loader import load_scenario  # noqa: E402
from mini_engine.scenarios.runner import ScenarioRunner  # noqa: E402

LARGE = Path(__file__).resolve().parent.parent / "mini_engine" / "scenarios" / "large_workload.yaml"
SNAPSHOT_MODULES = ("engine/snapshot.py", "scenarios/runner.py")


def run_with_snapshots(scenario, every: int) -> tuple[float, list[float], dict]:
    """Wall time of the whole run, per-call snapshot times, and the snapshots by step."""
    runner = ScenarioRunner(scenario)
    snapshots = {0: runner.snapshot()}
    calls: list[float] = []
    t0 = time.perf_counter()
    while not runner.is_done():
        runner.step()
        if runner.steps_done % every == 0:
            t = time.perf_counter()
            snapshots[runner.steps_done] = runner.snapshot()
            calls.append(time.perf_counter() - t)
    return time.perf_counter() - t0, calls, snapshots


def bare_run(scenario) -> tuple[float, int]:
    runner = ScenarioRunner(scenario)
    t0 = time.perf_counter()
    steps = runner.run()
    return time.perf_counter() - t0, steps


def retained_snapshot_memory(scenario, every: int) -> tuple[int, int]:
    """Bytes still held at the end that snapshot code allocated (shared tuples counted once),
    and the number of snapshots; measured in a separate run under tracemalloc."""
    tracemalloc.start()
    _, _, snapshots = run_with_snapshots(scenario, every)
    snap = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size for stat in snap.statistics("filename")
                if stat.traceback[0].filename.endswith(SNAPSHOT_MODULES))
    return total, len(snapshots)


def resume_at(snapshots: dict, every: int, step: int) -> tuple[float, float, float, ScenarioRunner]:
    """Seconds to resume the nearest earlier snapshot, to replay up to `step`, and CPU seconds."""
    base = step // every * every
    c0 = time.process_time()
    t0 = time.perf_counter()
    runner = ScenarioRunner.resume(snapshots[base])
    t1 = time.perf_counter()
    runner.run(until=step)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, time.process_time() - c0, runner


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=128, help="steps between snapshots")
    parser.add_argument("--resumes", type=int, default=50, help="random steps to resume at")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    scenario = load_scenario(LARGE)

    bare, steps = bare_run(scenario)
    total, calls, snapshots = run_with_snapshots(scenario, args.every)
    gc.collect()
    gc.freeze()  # as the TUI does once a recording is built: old objects leave the GC's scans
    last = snapshots[max(snapshots)]
    one_pickle = len(pickle.dumps(last))
    all_pickled = len(pickle.dumps(snapshots))
    memory, count = retained_snapshot_memory(scenario, args.every)

    rng = random.Random(args.seed)
    targets = [rng.randrange(steps + 1) for _ in range(args.resumes)]
    resumes, replays, totals, cpu = [], [], [], []
    for step in targets:
        r, p, c, runner = resume_at(snapshots, args.every, step)
        assert runner.steps_done == step
        resumes.append(r)
        replays.append(p)
        totals.append(r + p)
        cpu.append(c)

    rows = [
        ("large workload", f"{steps} steps, {len(scenario.requests)} requests"),
        ("run, no snapshots", f"{bare:8.3f} s"),
        (f"run, snapshot every {args.every}", f"{total:8.3f} s (snapshots: {sum(calls):.3f} s)"),
        ("snapshot() per call: mean", ms(statistics.fmean(calls))),
        ("snapshot() per call: median", ms(statistics.median(calls))),
        ("snapshot() per call: max", ms(max(calls))),
        (f"memory held by {count} snapshots", f"{memory / 2**20:8.2f} MiB (tracemalloc)"),
        ("pickled: last snapshot alone", f"{one_pickle / 2**20:8.2f} MiB"),
        (f"pickled: all {count} in one file", f"{all_pickled / 2**20:8.2f} MiB"),
        (f"resume at a random step (n={len(targets)})", ""),
        ("  ScenarioRunner.resume(): mean", ms(statistics.fmean(resumes))),
        ("  ScenarioRunner.resume(): max", ms(max(resumes))),
        (f"  replay (< {args.every} steps): mean", ms(statistics.fmean(replays))),
        ("  total: median", ms(statistics.median(totals))),
        ("  total: mean", ms(statistics.fmean(totals))),
        ("  total: max (target < 100 ms)", ms(max(totals))),
        ("  total CPU time: mean / max", f"{ms(statistics.fmean(cpu))} / {ms(max(cpu)).strip()}"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
