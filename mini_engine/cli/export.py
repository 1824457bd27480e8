"""`mini-engine export`: write a run as a JSONL recording or a Perfetto (Chrome) trace."""

from __future__ import annotations

import os

from mini_engine.cli.common import (EXIT_OK, PROG, SOURCE_HELP, CommandLineError, UsageError,
                                    add_command, int_at_least, say)

NAME = "export"
OUTPUT_NOTES = """\
Each OUT is written all-or-nothing: into a temporary file beside it, moved into place
only when complete (removed on an error, Ctrl-C, SIGTERM or SIGHUP). With both, the
run is recorded once, both targets are checked before it, and the JSONL is written
first, then the trace. An existing OUT is replaced only with --force ('overwrote OUT'
says so); a directory, a FIFO, a device or a symlink is never written. To name a file that starts with '-', put -- before it:
mini-engine export --jsonl out.jsonl -- -x.yaml

"""


def subparser_init(subparsers) -> None:
    exp = add_command(
        subparsers, NAME, "write a run as a JSONL recording and/or a Perfetto trace",
        "Record a scenario once and write it as a JSONL recording (replayable with "
        "'mini-engine tui' and 'run'), as Chrome Trace Event JSON for https://ui.perfetto.dev "
        "(1 step = 1000 us), or both (give --jsonl and --perfetto).",
        ("mini-engine export kv_preemption --jsonl kv_preemption.jsonl",
         "mini-engine run kv_preemption.jsonl --until 3",
         "mini-engine export kv_preemption --perfetto kv_preemption.json",
         "mini-engine export priority --perfetto kv_preemption.json --force",
         "mini-engine export prefix_caching --jsonl prefix.jsonl --perfetto prefix.json"),
        OUTPUT_NOTES)
    exp.add_argument("scenario", metavar="SCENARIO", help=SOURCE_HELP)
    exp.add_argument("--jsonl", metavar="OUT", help="write the JSONL recording to OUT")
    exp.add_argument("--perfetto", metavar="OUT", help="write the Chrome trace JSON to OUT")
    exp.add_argument("--force", action="store_true",
                     help="replace OUT if it is an existing file (never a directory, FIFO, "
                          "device or symlink)")
    exp.add_argument("--until", type=int_at_least(0), metavar="STEP",
                     help="record only the first STEP steps of a scenario (the recording "
                          "says it is incomplete)")
    exp.set_defaults(func=cmd)


def targets(args) -> list[tuple[str, str]]:
    """[("jsonl" | "perfetto", OUT), ...] as asked, each checked now (before a long run):
    at least one, and two different files."""
    from mini_engine.files.write import check_target

    wanted = [(kind, out) for kind, out in (("jsonl", args.jsonl), ("perfetto", args.perfetto))
              if out is not None]
    if not wanted:
        raise CommandLineError("give --jsonl OUT, --perfetto OUT, or both", f"{PROG} {NAME}")
    if len(wanted) == 2 and os.path.realpath(args.jsonl) == os.path.realpath(args.perfetto):
        raise CommandLineError(f"--jsonl and --perfetto name the same file "
                               f"({args.jsonl!r}); give two files", f"{PROG} {NAME}")
    for _, out in wanted:
        check_target(out, force=args.force)  # a bad target fails now, not after a long run
    return wanted


def cmd(args) -> int:
    from mini_engine.cli.estimate import check_run_size
    from mini_engine.cli.progress import record_with_progress
    from mini_engine.sources import open_source

    wanted = targets(args)
    source = open_source(args.scenario)
    if args.until is not None and source.is_recording:
        raise UsageError("--until cannot cut a loaded recording")
    check_run_size(source, args.until, "; --until STEP records fewer")
    rec = record_with_progress(source, args.until)  # once, for every file
    for kind, out in wanted:
        write_one(rec, kind, out, args.force)
    return EXIT_OK


def write_one(rec, kind: str, out: str, force: bool) -> None:
    """Write one OUT all-or-nothing and say so (`wrote` / `overwrote OUT (what)`)."""
    from mini_engine.cli.progress import progress
    from mini_engine.files.write import atomic_write

    existed = os.path.lexists(out)
    with atomic_write(out, force=force) as f:
        if kind == "jsonl":
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
