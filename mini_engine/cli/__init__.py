"""mini-engine: run, check, export and debug scenarios of a miniature vLLM V1 engine.

SCENARIO is a scenario file (.yaml) or a bundled scenario's name (hello, kv_preemption,
...); `run` and `export` also take a recording (.jsonl) saved by `export --jsonl`.
Errors are one line on stderr: exit 2 for bad input or usage, 1 when `validate` or
`check` find a problem, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from mini_engine.version import __version__
from mini_engine.cli.common import (EXIT_FAIL, EXIT_INTERRUPT, EXIT_OK, EXIT_USAGE, UsageError,
                                    report_error)
from mini_engine.engine.config import ConfigError, EngineConfig
from mini_engine.errors import MiniEngineError, error_line
from mini_engine.sources import is_recording_path, open_scenario, open_source

PROGRESS_DELAY = 0.5  # seconds before a progress bar appears


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors on one line."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ----------------------------------------------------------------------------- progress

@contextmanager
def _progress(label: str, total: int | None = None,
              enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal and
    the work has taken more than PROGRESS_DELAY seconds. Yields `update(completed)`."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    start = time.monotonic()
    bar = None
    task = None

    def update(completed: int) -> None:
        nonlocal bar, task
        if not enabled:
            return
        if bar is None:
            if time.monotonic() - start < PROGRESS_DELAY:
                return
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                       TextColumn, TimeElapsedColumn)
            columns = [SpinnerColumn(), TextColumn("{task.description}")]
            if total:
                columns += [BarColumn(), MofNCompleteColumn()]
            else:
                columns += [TextColumn("{task.completed} steps")]
            columns.append(TimeElapsedColumn())
            bar = Progress(*columns, console=Console(stderr=True), transient=True)
            bar.start()
            task = bar.add_task(label, total=total)
        bar.update(task, completed=completed if not total else min(completed, total))

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


# ----------------------------------------------------------------------------- loading

def _record(source, until: int | None = None, label: str | None = None):
    """A source's recording (recorded now, up to `until` steps), with a progress bar."""
    with _progress(label or f"recording {source.name}", source.expected_steps(until)) as update:
        return source.recording(until, update)


def _load_recording(arg: str, until: int | None = None):
    """A Recording from a .jsonl file, or by recording a scenario file / bundled name."""
    return _record(open_source(arg), until)


# ----------------------------------------------------------------------------- commands

def _cmd_run(args) -> int:
    rec = _load_recording(args.scenario, args.until)
    out = sys.stdout
    if args.format == "jsonl":
        if args.until is not None and is_recording_path(args.scenario):
            raise UsageError("--until cannot cut a loaded recording in --format jsonl")
        from mini_engine.recording.jsonl import save_jsonl
        save_jsonl(rec, out)
        return EXIT_OK
    if args.format == "log":
        from mini_engine.exports.vllm_log import iter_log_lines
        lines = iter_log_lines(rec, args.stats_interval, args.until)
    else:
        from mini_engine.exports.table import iter_table_lines
        lines = iter_table_lines(rec, args.until)
    last = rec.num_steps if args.until is None else min(args.until, rec.num_steps)
    # The bar shares the terminal with the output: only when stdout goes elsewhere.
    show = sys.stderr.isatty() and not out.isatty()
    with _progress(f"writing {args.format}", last, enabled=show) as update:
        for i, line in enumerate(lines):
            out.write(line + "\n")
            if not i % 64:
                update(i)
    return EXIT_OK


def _cmd_validate(args) -> int:
    failed = 0
    for path in args.files:
        try:
            sc = open_scenario(path)
        except MiniEngineError as e:
            report_error(e)
            failed += 1
            continue
        n = len(sc.requests)
        print(f"ok {sc.name} ({n} request{'s' if n != 1 else ''})")
    return EXIT_FAIL if failed else EXIT_OK


def _check_output(path: str) -> None:
    """Fail early (before a long run) if `path` can't be written as a file."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{path}: directory {str(parent)!r} does not exist")


def _cmd_export(args) -> int:
    _check_output(args.jsonl if args.jsonl is not None else args.perfetto)
    rec = _load_recording(args.scenario)
    if args.jsonl is not None:
        from mini_engine.recording.jsonl import save_jsonl
        out = Path(args.jsonl)
        tmp = out.with_name(out.name + ".tmp")
        try:
            save_jsonl(rec, tmp)
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                tmp.unlink()
        print(f"wrote {out} (JSONL recording, {rec.num_steps} steps)")
    else:
        from mini_engine.exports.perfetto import export_perfetto
        with _progress("writing the trace", rec.num_steps) as update:
            n = export_perfetto(rec, args.perfetto, update)
        print(f"wrote {args.perfetto} (Chrome trace, {rec.num_steps} steps, {n} events; "
              f"open in https://ui.perfetto.dev)")
    return EXIT_OK


_FIELDS = {f.name: f for f in dataclasses.fields(EngineConfig)}


def _parse_settings(pairs: list[str]) -> dict:
    """`--set key=value` pairs -> EngineConfig keyword arguments (values are YAML scalars),
    type-checked here and validated by EngineConfig itself."""
    import yaml
    settings: dict = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set {pair!r}: expected key=value")
        if key not in _FIELDS:
            close = difflib.get_close_matches(key, list(_FIELDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else \
                f" (settings: {', '.join(_FIELDS)})"
            raise UsageError(f"--set {pair}: unknown engine setting {key!r}{hint}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        if isinstance(value, (list, dict)):
            raise UsageError(f"--set {pair}: expected a single value, not a YAML "
                             f"{'list' if isinstance(value, list) else 'mapping'}")
        kind = type(_FIELDS[key].default)
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            word = {int: "an integer", bool: "true or false", str: "a string"}.get(
                kind, kind.__name__)
            raise UsageError(f"--set {pair}: {key} must be {word}, got {value!r}")
        settings[key] = value
    try:
        EngineConfig(**settings)
    except ConfigError as e:
        raise UsageError(f"--set: {e}") from None
    return settings


def _cmd_trace(args) -> int:
    from mini_engine.engine.lab import trace_request
    settings = _parse_settings(args.set or [])
    if args.max_tokens < 1:
        raise UsageError(f"--max-tokens must be >= 1, got {args.max_tokens}")
    for event in trace_request(args.prompt, max_tokens=args.max_tokens, **settings):
        print(event)
    return EXIT_OK


def _cmd_schema(args) -> int:
    from mini_engine.scenarios.loader import scenario_json_schema
    print(json.dumps(scenario_json_schema(), indent=2, sort_keys=False))
    return EXIT_OK


def expect_differences(scenario, rec) -> list[str]:
    """What differs between a scenario's `expect` block and a (complete) recording."""
    exp = scenario.expect
    final = rec.seek(rec.num_steps)
    diffs = []
    for rid, want in exp.statuses.items():
        got = final.status_name(rid)
        if got != want:
            diffs.append(f"statuses.{rid}: expected {want}, got {got}")
    if exp.total_steps is not None and exp.total_steps != rec.num_steps:
        diffs.append(f"total_steps: expected {exp.total_steps}, got {rec.num_steps}")
    if exp.num_preemptions is not None:
        got = int(rec.summary().num_preemptions.sum())
        if got != exp.num_preemptions:
            diffs.append(f"num_preemptions: expected {exp.num_preemptions}, got {got}")
    return diffs


def _has_expectations(exp) -> bool:
    return exp is not None and bool(exp.statuses or exp.total_steps is not None
                                    or exp.num_preemptions is not None)


def _cmd_check(args) -> int:
    passed = failed = skipped = errors = 0
    for arg in args.scenarios:
        try:
            source = open_source(arg)
            scenario = source.scenario
            if not _has_expectations(scenario.expect):
                if args.allow_missing:
                    print(f"SKIP {scenario.name}: no expect block")
                    skipped += 1
                else:
                    print(f"FAIL {scenario.name}: no expect block, nothing to check "
                          f"(add one, or pass --allow-missing)")
                    failed += 1
                continue
            rec = _record(source, label=f"checking {scenario.name}")
            diffs = expect_differences(scenario, rec)
        except (MiniEngineError, ValueError, OSError) as e:
            print(error_line(e), file=sys.stderr)
            errors += 1
            continue
        if diffs:
            print(f"FAIL {scenario.name}: {'; '.join(diffs)}")
            failed += 1
        else:
            print(f"PASS {scenario.name}")
            passed += 1
    if len(args.scenarios) > 1:
        parts = [f"{passed} passed", f"{failed} failed"]
        if skipped:
            parts.append(f"{skipped} skipped")
        if errors:
            parts.append(f"{errors} error{'s' if errors != 1 else ''}")
        print(", ".join(parts))
    return EXIT_FAIL if failed or errors else EXIT_OK


def _cmd_tui(args) -> int:
    from tui.app import DebuggerApp  # imported lazily: the domain never imports Textual

    from mini_engine.scenarios.catalog import DEFAULT_SCENARIO
    path = args.path or DEFAULT_SCENARIO
    # Load before the UI starts, so a bad file is one line on stderr and a non-zero exit.
    source = open_source(path)
    DebuggerApp(source.loaded or source.scenario, path=path).run()
    return EXIT_OK


# ----------------------------------------------------------------------------- parser

def _int_at_least(low: int):
    """An argparse type: an integer >= low, with a one-line error otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


TABLE_HELP = """\
table columns: step; scheduled tokens per request (a:+12p = a prefill chunk of 12,
b:+1 = a decode); budget used/max_num_batched_tokens; the running queue; the
waiting queue with why each request is waiting (just_arrived, preempted, budget,
max_num_seqs, kv_cache, preemption, head_of_line, budget_unchunked, priority);
requests finished in the step (id:stop|length|abort|ignored); KV cache usage and
blocks in use/usable.
log: vLLM's per-step "Iteration(i): ..." line and, every --stats-interval steps,
its "Engine 000: Avg prompt throughput ..." stats line (per step, not per second).
jsonl: the recording (a header line, then one line per step).
"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mini-engine", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"mini-engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario and print every step",
                         description="Run a scenario and print every step.", epilog=TABLE_HELP,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenario", metavar="SCENARIO",
                     help="a scenario file, a bundled name, or a .jsonl recording")
    run.add_argument("--format", choices=("table", "log", "jsonl"), default="table",
                     help="output format (default: table)")
    run.add_argument("--until", type=_int_at_least(0), metavar="STEP",
                     help="stop after this many steps")
    run.add_argument("--stats-interval", type=_int_at_least(1), default=10, metavar="N",
                     help="--format log: a stats line every N steps (default: 10)")
    run.set_defaults(func=_cmd_run)

    val = sub.add_parser("validate", help="check scenario files for errors",
                         description="Load each scenario file: 'ok NAME (N requests)' on "
                                     "stdout, or its one-line error on stderr. Exit 1 if any "
                                     "file is bad.")
    val.add_argument("files", nargs="+", metavar="FILE")
    val.set_defaults(func=_cmd_validate)

    exp = sub.add_parser("export", help="write a run as a JSONL recording or a Perfetto trace",
                         description="Record a scenario and write it as a JSONL recording "
                                     "(replayable with 'mini-engine tui' and 'run') or as "
                                     "Chrome Trace Event JSON for https://ui.perfetto.dev "
                                     "(1 step = 1000 us).")
    exp.add_argument("scenario", metavar="SCENARIO",
                     help="a scenario file, a bundled name, or a .jsonl recording")
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("--jsonl", metavar="OUT", help="write the JSONL recording to OUT")
    target.add_argument("--perfetto", metavar="OUT", help="write the Chrome trace JSON to OUT")
    exp.set_defaults(func=_cmd_export)

    tr = sub.add_parser("trace", help="the lab's trace of one request",
                        description="The lab's trace_request: one greedy, ignore-EOS request, "
                                    "one event per step.")
    tr.add_argument("prompt", metavar="PROMPT")
    tr.add_argument("--max-tokens", type=int, default=4, metavar="N",
                    help="tokens to generate (default: 4)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="an engine setting, e.g. --set max_num_batched_tokens=4 "
                         f"(repeatable; settings: {', '.join(_FIELDS)})")
    tr.set_defaults(func=_cmd_trace)

    sch = sub.add_parser("schema", help="print the scenario JSON Schema",
                         description="Print the JSON Schema of scenario files (for editors).")
    sch.set_defaults(func=_cmd_schema)

    chk = sub.add_parser("check", help="run scenarios and compare with their expect blocks",
                         description="Run each scenario and compare the result with its "
                                     "expect block (final statuses, total_steps, "
                                     "num_preemptions). Prints 'PASS NAME' or 'FAIL NAME: "
                                     "what differed' per scenario. A scenario without an "
                                     "expect block FAILs (a CI check that checks nothing "
                                     "should not pass silently) unless --allow-missing is "
                                     "given, which reports it as SKIP. Exit 0 if all pass, "
                                     "1 on any failure or error.")
    chk.add_argument("scenarios", nargs="+", metavar="SCENARIO")
    chk.add_argument("--allow-missing", action="store_true",
                     help="report scenarios without an expect block as SKIP, not FAIL")
    chk.set_defaults(func=_cmd_check)

    tui = sub.add_parser("tui", help="open the step debugger",
                         description="Open the terminal step debugger.")
    tui.add_argument("path", nargs="?", metavar="SCENARIO.yaml|RECORDING.jsonl",
                     help="a scenario file, a bundled name, or a .jsonl recording")
    tui.set_defaults(func=_cmd_tui)
    return parser


# ----------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    """The `mini-engine` command; returns the exit status (never raises, never a traceback)."""
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except SystemExit as e:  # argparse: --help, --version, usage errors
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPT
    except BrokenPipeError:
        # The reader went away (`mini-engine run big | head`): stop quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAIL
    except (MiniEngineError, ValueError, OSError) as e:
        report_error(e)  # one line: "path:line: field: message" or "mini-engine: error: ..."
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
