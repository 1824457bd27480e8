"""`mini-engine run`: print every step of a run as a table, vLLM-style log lines, or JSONL."""

from __future__ import annotations

import sys

from mini_engine.cli.common import (EXIT_OK, SOURCE_HELP, UsageError, add_command, int_at_least,
                                    SafeJsonOut, say)

NAME = "run"


def _reason_lines() -> str:
    """The why-waiting words, one per line with its one-line meaning (the vocabulary's)."""
    from mini_engine.recording.vocabulary import WAIT_REASONS
    return "".join(f"  {r.key:<17} {r.summary}\n" for r in WAIT_REASONS.values()
                   if r.key != "not_arrived")


FORMAT_HELP = """\
table columns: step; scheduled tokens per request (a:+12p = a prefill chunk of 12,
b:+1 = a decode); budget used/max_num_batched_tokens; the running queue; the
waiting queue with why each request is waiting (below); requests finished in the
step (id:stop|length|abort|ignored); KV cache usage and blocks in use/usable;
notes: when and why a request was ignored (at add_request, step 0 for one there from
the start, and reported by the next step; or by this step's schedule()).
why a request waits (the words the JSONL, the TUI and the README use):
""" + _reason_lines() + """\
log: vLLM's per-step "Iteration(i): ..." line and, every --stats-interval steps,
its "Engine 000: Avg prompt throughput ..." stats line (per step, not per second);
a "Request ID ignored ...: why" line before the step that reports it.
jsonl: the recording (a header line, then one line per step).
"""
EXAMPLES = ("mini-engine run hello",
            "mini-engine run kv_preemption --until 3",
            "mini-engine run prefix_caching --format log --stats-interval 5")


def subparser_init(subparsers) -> None:
    run = add_command(subparsers, NAME, "run a scenario and print every step",
                      "Run a scenario and print every step.", EXAMPLES, FORMAT_HELP + "\n")
    run.add_argument("scenario", metavar="SCENARIO", help=SOURCE_HELP)
    run.add_argument("--format", choices=("table", "log", "jsonl"), default="table",
                     help="output format (default: table)")
    run.add_argument("--until", type=int_at_least(0), metavar="STEP",
                     help="stop after this many steps")
    run.add_argument("--stats-interval", type=int_at_least(1), default=10, metavar="N",
                     help="--format log: a stats line every N steps (default: 10)")
    run.set_defaults(func=cmd)


def cmd(args) -> int:
    from mini_engine.cli.estimate import check_run_size
    from mini_engine.cli.progress import progress, record_with_progress, recorded_steps
    from mini_engine.sources import open_source

    source = open_source(args.scenario)
    if args.format == "jsonl" and args.until is not None and source.is_recording:
        raise UsageError("--until cannot cut a loaded recording in --format jsonl")
    check_run_size(source, args.until, "; --until STEP runs fewer")
    out = sys.stdout
    if args.format == "jsonl":
        from mini_engine.recording.jsonl import save_jsonl
        save_jsonl(record_with_progress(source, args.until), SafeJsonOut(out))
        return EXIT_OK
    # Steps are printed as they are recorded; the bar (only when stdout goes elsewhere:
    # it would share the terminal with the output) counts the steps recorded.
    show = sys.stderr.isatty() and not out.isatty()
    with progress(f"running {source.name}", source.expected_steps(args.until),
                  enabled=show) as update:
        rec, steps = recorded_steps(source, args.until, update)
        if args.format == "log":
            from mini_engine.exports.vllm_log import iter_log_lines
            lines = iter_log_lines(rec, args.stats_interval, steps=steps)
        else:
            from mini_engine.exports.table import iter_table_lines
            lines = iter_table_lines(rec, steps=steps)
        for line in lines:
            say(line, out)
    return EXIT_OK
