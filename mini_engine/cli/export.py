"""`mini-engine export`: write a run as a JSONL recording or a Perfetto (Chrome) trace."""

from __future__ import annotations

import os
from pathlib import Path

from mini_engine.cli.common import EXIT_OK, SOURCE_HELP, UsageError, add_command

NAME = "export"


def subparser_init(subparsers) -> None:
    exp = add_command(
        subparsers, NAME, "write a run as a JSONL recording or a Perfetto trace",
        "Record a scenario and write it as a JSONL recording (replayable with 'mini-engine "
        "tui' and 'run') or as Chrome Trace Event JSON for https://ui.perfetto.dev (1 step = "
        "1000 us).",
        ("mini-engine export kv_preemption --jsonl kv_preemption.jsonl",
         "mini-engine run kv_preemption.jsonl --until 3",
         "mini-engine export kv_preemption --perfetto kv_preemption.json"))
    exp.add_argument("scenario", metavar="SCENARIO", help=SOURCE_HELP)
    target = exp.add_mutually_exclusive_group(required=True)
    target.add_argument("--jsonl", metavar="OUT", help="write the JSONL recording to OUT")
    target.add_argument("--perfetto", metavar="OUT", help="write the Chrome trace JSON to OUT")
    exp.set_defaults(func=cmd)


def check_output(path: str) -> None:
    """Fail early (before a long run) if `path` can't be written as a file."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path}: is a directory")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{path}: directory {str(parent)!r} does not exist")


def cmd(args) -> int:
    from mini_engine.cli.progress import progress, record_with_progress
    from mini_engine.sources import open_source

    check_output(args.jsonl if args.jsonl is not None else args.perfetto)
    rec = record_with_progress(open_source(args.scenario))
    if args.jsonl is not None:
        out = Path(args.jsonl)
        write_jsonl(rec, out)
        print(f"wrote {out} (JSONL recording, {rec.num_steps} steps)")
    else:
        from mini_engine.exports.perfetto import export_perfetto
        with progress("writing the trace", rec.num_steps) as update:
            n = export_perfetto(rec, args.perfetto, update)
        print(f"wrote {args.perfetto} (Chrome trace, {rec.num_steps} steps, {n} events; "
              f"open in https://ui.perfetto.dev)")
    return EXIT_OK


def write_jsonl(rec, out: Path) -> None:
    """Save through a temporary file, so an interrupted write never leaves half a file."""
    from mini_engine.recording.jsonl import save_jsonl
    tmp = out.with_name(out.name + ".tmp")
    try:
        save_jsonl(rec, tmp)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
