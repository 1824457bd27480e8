"""`mini-engine run`: print every step of a run as a table, vLLM-style log lines, or JSONL."""

from __future__ import annotations

import sys

from mini_engine.cli.common import EXIT_OK, SOURCE_HELP, UsageError, add_command, int_at_least

NAME = "run"
FORMAT_HELP = """\
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
    from mini_engine.cli.progress import progress, record_with_progress
    from mini_engine.sources import open_source

    source = open_source(args.scenario)
    if args.format == "jsonl" and args.until is not None and source.is_recording:
        raise UsageError("--until cannot cut a loaded recording in --format jsonl")
    rec = record_with_progress(source, args.until)
    out = sys.stdout
    if args.format == "jsonl":
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
    with progress(f"writing {args.format}", last, enabled=show) as update:
        for i, line in enumerate(lines):
            out.write(line + "\n")
            if not i % 64:
                update(i)
    return EXIT_OK
