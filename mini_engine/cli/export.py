"""`mini-engine export`: write a run as a JSONL recording or a Perfetto (Chrome) trace."""

from __future__ import annotations

import os

from mini_engine.cli.common import (EXIT_OK, SOURCE_HELP, UsageError, add_command, int_at_least,
                                    say)

NAME = "export"
OUTPUT_NOTES = """\
OUT is written all-or-nothing: into a temporary file beside it, moved into place only
when complete (removed on an error, Ctrl-C, SIGTERM or SIGHUP). An existing OUT is
replaced only with --force ('overwrote OUT' says so); a directory, a FIFO, a device or
a symlink is never written. To name a file that starts with '-', put -- before it:
mini-engine export --jsonl out.jsonl -- -x.yaml

"""


def subparser_init(subparsers) -> None:
    exp = add_command(
        subparsers, NAME, "write a run as a JSONL recording or a Perfetto trace",
        "Record a scenario and write it as a JSONL recording (replayable with 'mini-engine "
        "tui' and 'run') or as Chrome Trace Event JSON for https://ui.perfetto.dev (1 step = "
        "1000 us).",
        ("mini-engine export kv_preemption --jsonl kv_preemption.jsonl",
         "mini-engine run kv_preemption.jsonl --until 3",
         "mini-engine export kv_preemption --perfetto kv_preemption.json",
         "mini-engine export priority --perfetto kv_preemption.json --force"),
        OUTPUT_NOTES)
    exp.add_argument("scenario", metavar="SCENARIO", help=SOURCE_HELP)
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("--jsonl", metavar="OUT", help="write the JSONL recording to OUT")
    target.add_argument("--perfetto", metavar="OUT", help="write the Chrome trace JSON to OUT")
    exp.add_argument("--force", action="store_true",
                     help="replace OUT if it is an existing file (never a directory, FIFO, "
                          "device or symlink)")
    exp.add_argument("--until", type=int_at_least(0), metavar="STEP",
                     help="record only the first STEP steps of a scenario (the recording "
                          "says it is incomplete)")
    exp.set_defaults(func=cmd)


def cmd(args) -> int:
    from mini_engine.cli.estimate import check_run_size
    from mini_engine.cli.progress import progress, record_with_progress
    from mini_engine.files.write import atomic_write, check_target
    from mini_engine.sources import open_source

    out = args.jsonl if args.jsonl is not None else args.perfetto
    check_target(out, force=args.force)  # a bad target fails now, not after a long run
    source = open_source(args.scenario)
    if args.until is not None and source.is_recording:
        raise UsageError("--until cannot cut a loaded recording")
    check_run_size(source, args.until, "; --until STEP records fewer")
    rec = record_with_progress(source, args.until)
    existed = os.path.lexists(out)
    with atomic_write(out, force=args.force) as f:
        if args.jsonl is not None:
            from mini_engine.recording.jsonl import save_jsonl
            with progress("writing the recording", rec.num_steps) as update:
                save_jsonl(rec, f, update)
            what = f"JSONL recording, {rec.num_steps} steps"
        else:
            from mini_engine.exports.perfetto import write_perfetto
            with progress("writing the trace", rec.num_steps) as update:
                n = write_perfetto(rec, f, update)
            what = (f"Chrome trace, {rec.num_steps} steps, {n} events; open in "
                    f"https://ui.perfetto.dev")
    say(f"{'overwrote' if existed else 'wrote'} {out} ({what})")
    return EXIT_OK
