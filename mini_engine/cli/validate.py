"""`mini-engine validate`: load scenario files and report each one on one line."""

from __future__ import annotations

from mini_engine.cli.common import EXIT_FAIL, EXIT_OK, add_command, report_error, say
from mini_engine.errors import MiniEngineError

NAME = "validate"


def subparser_init(subparsers) -> None:
    val = add_command(
        subparsers, NAME, "check scenario files for errors",
        "Load each scenario file (or bundled name) or .jsonl recording (every line checked): "
        "'ok NAME (N requests)' on stdout, or its one-line error on stderr. Exit 1 if any "
        "file is bad.",
        ("mini-engine validate hello kv_preemption",))
    val.add_argument("files", nargs="+", metavar="FILE")
    val.set_defaults(func=cmd)


def cmd(args) -> int:
    from mini_engine.sources import is_recording_path, open_scenario, open_source

    failed = 0
    for path in args.files:
        try:
            if is_recording_path(path):
                rec = open_source(path).loaded
                scenario, steps = rec.scenario, f"; a recording of {rec.num_steps} steps"
            else:
                scenario, steps = open_scenario(path), ""
        except MiniEngineError as e:
            report_error(e)
            failed += 1
            continue
        n = len(scenario.requests)
        say(f"ok {scenario.name} ({n} request{'s' if n != 1 else ''}{steps})")
    return EXIT_FAIL if failed else EXIT_OK
