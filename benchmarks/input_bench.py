"""Load time and peak memory of large inputs: scenarios of several shapes at the size
limit and at 16 MB, and a ~100 MB JSONL recording (issue 8, classes 3 and 10).

    python benchmarks/input_bench.py [--quick] [--recording-mb 100] [--keep DIR]

Each input is loaded in a fresh subprocess (`load_scenario` or `load_jsonl`, the public
API), which reports its wall and CPU time, its RSS before the load (after the imports)
and its peak RSS during the load (VmHWM, reset before the load), and, in a second load
in the same process, the peak of the memory Python allocated during the load
(`tracemalloc`; slower, so not timed). Figures
are printed, never asserted. --quick uses small sizes (1 MB scenarios, a 5 MB
recording) for a smoke run.

Scenario shapes, each just under the 8 MiB limit (MAX_SCENARIO_BYTES):
  many_flow     one request per line, `- {prompt: "...", max_tokens: 4}`
  many_block    block style, five keys per request
  dense         `- {prompt: a}`, the most requests per byte (refused: over
                MAX_YAML_NODES, or MAX_REQUESTS with --quick)
  huge_prompt   one prompt as a `|` block of short lines
  one_line      one line: a double-quoted prompt
  token_line    one line: `prompt_token_ids: [...]`, 1.6 million values (refused: over
                MAX_YAML_NODES)
and the issue's 16 MB ones (many_flow, huge_prompt, one_line at 16 MB: refused before
they are read).
The recording is a scaled-up copy of the bundled large_workload scenario, recorded with
`record()` and written with `save_jsonl()`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 1024 * 1024
HEAD = "name: bench\ndescription: a large scenario for the input benchmark\n"


# ---------------------------------------------------------------------- inputs

def _fill(head: str, item, target: int, tail: str = "") -> str:
    parts, size, i = [head], len(head) + len(tail), 0
    while True:
        piece = item(i)
        if size + len(piece) > target:
            break
        parts.append(piece)
        size += len(piece)
        i += 1
    return "".join(parts) + tail


def scenario_texts(target: int, limit: int) -> dict[str, str]:
    """Each shape's text, at most `target` bytes (the 16MB ones: twice `limit`)."""
    engine = "engine: {num_gpu_blocks: 100000, max_num_seqs: 256, max_num_batched_tokens: 8192}\n"
    line = target - 200
    many_flow = _fill(HEAD + engine + "requests:\n", lambda i: (
        f'  - {{prompt: "the quick brown fox jumps over the lazy dog, request number {i}", '
        f'max_tokens: {1 + i % 16}}}\n'), target)
    return {
        "many_flow": many_flow,
        "many_block": _fill(HEAD + engine + "requests:\n", lambda i: (
            f"  - id: r{i}\n    prompt: request {i} about nothing in particular\n"
            f"    max_tokens: {1 + i % 16}\n    arrival_step: {i // 50}\n"
            f"    priority: {i % 3}\n"), target),
        "dense": _fill(HEAD + "requests:\n", lambda i: "  - {prompt: a}\n", target),
        "huge_prompt": _fill(HEAD + "requests:\n  - max_tokens: 4\n    prompt: |\n",
                             lambda i: f"      line {i} of a very long prompt\n", target),
        "one_line": HEAD + 'requests:\n  - max_tokens: 4\n    prompt: "' + "x" * line + '"\n',
        "token_line": HEAD + "requests:\n  - max_tokens: 4\n    prompt_token_ids: [" +
        ", ".join(["123"] * (line // 5)) + "]\n",
        "16MB_many": many_flow * (2 * limit // len(many_flow)),  # refused before parsing
        "16MB_prompt": HEAD + "requests:\n  - max_tokens: 4\n    prompt: " +
        "y" * (2 * limit - 200) + "\n",
    }


def make_recording(path: Path, target_mb: float) -> tuple[int, float]:
    """Record a scaled large_workload into `path` (about `target_mb` MB); (steps, seconds)."""
    from mini_engine.recording.jsonl import save_jsonl
    from mini_engine.recording.recorder import record
    from mini_engine.scenarios.catalog import resolve_scenario
    from mini_engine.scenarios.loader import load_scenario_text
    text = resolve_scenario("large_workload").read_text(encoding="utf-8")
    count = max(100, int(4000 * target_mb / 29))  # the bundled 4000 make about 29 MB
    text = text.replace("count: 4000", f"count: {count}")
    text = text[:text.index("expect:")]  # the totals change with the count
    start = time.perf_counter()
    rec = record(load_scenario_text(text, "scaled_large_workload.yaml"))
    save_jsonl(rec, path, force=True)
    return rec.num_steps, time.perf_counter() - start


# ---------------------------------------------------------------------- measuring

def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def _rss_now_mb() -> float:
    return _status_mb("VmRSS") or _peak_mb()


def _peak_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would include the parent's peak: Linux
    keeps it across fork and execve)."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux 4.0+)
    except OSError:
        pass


def worker(kind: str, path: str) -> dict:
    """Load `path` (in this fresh process) and measure; the result as a dict."""
    from mini_engine.errors import MiniEngineError
    if kind == "scenario":
        from mini_engine.scenarios.loader import load_scenario as load

        def describe(x):
            return f"{len(x.requests):,} requests"
    else:
        from mini_engine.recording.jsonl import load_jsonl as load

        def describe(x):
            return f"{x.num_steps:,} steps"
    base = _rss_now_mb()
    _reset_peak()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = describe(load(path))
    except MiniEngineError as e:
        result = "refused: " + str(e).split(": ", 1)[1][:70]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_rss = _peak_mb()
    tracemalloc.start()
    try:
        load(path)
    except MiniEngineError:
        pass
    traced = tracemalloc.get_traced_memory()[1] / MB
    tracemalloc.stop()
    return {"result": result, "wall": wall, "cpu": cpu, "rss": peak_rss, "base": base,
            "traced": traced}


def measure(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", kind, str(path)],
                         capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        nan = float("nan")
        return {"result": "CRASHED: " + out.stderr.strip().splitlines()[-1][:70],
                "wall": nan, "cpu": nan, "rss": nan, "base": nan, "traced": nan}
    return json.loads(out.stdout)


def row(name: str, size: int, m: dict) -> str:
    return (f"{name:<13} {size / MB:>8.1f} {m['wall']:>7.2f} {m['cpu']:>7.2f} "
            f"{m['rss']:>6.0f} {m['base']:>5.0f} {m['traced']:>7.0f}  {m['result']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 MB shapes, a 5 MB recording")
    parser.add_argument("--recording-mb", type=float, default=None,
                        help="recording size to generate (default 100, 5 with --quick)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write the inputs here and keep them (default: a temp dir)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    from mini_engine.scenarios.loader import MAX_SCENARIO_BYTES
    target = MB if args.quick else MAX_SCENARIO_BYTES - 1024
    recording_mb = args.recording_mb or (5 if args.quick else 100)
    with tempfile.TemporaryDirectory(prefix="input_bench_") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{'input':<13} {'MB':>8} {'wall s':>7} {'cpu s':>7} {'RSS':>6} {'base':>5} "
              f"{'traced':>7}  result")
        for name, text in scenario_texts(target, MAX_SCENARIO_BYTES).items():
            path = folder / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            print(row(name, path.stat().st_size, measure("scenario", path)), flush=True)
            del text
        path = folder / "recording.jsonl"
        steps, seconds = make_recording(path, recording_mb)
        print(f"({steps:,} steps recorded and saved in {seconds:.1f} s)", flush=True)
        print(row("recording", path.stat().st_size, measure("recording", path)))
    print("\nwall/cpu: one load in a fresh process (seconds); RSS: that process's peak RSS "
          "during the load, base: its RSS before it, after the imports (MB); traced: "
          "tracemalloc's peak during a second load (MB).")


if __name__ == "__main__":
    main()
