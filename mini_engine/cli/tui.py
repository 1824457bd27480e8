"""`mini-engine tui`: open the step debugger (the `tui` package, imported only here)."""

from __future__ import annotations

from mini_engine.cli.common import EXIT_OK, add_command

NAME = "tui"


def subparser_init(subparsers) -> None:
    tui = add_command(subparsers, NAME, "open the step debugger",
                      "Open the terminal step debugger (also: python -m tui [SOURCE]).",
                      ("mini-engine tui", "mini-engine tui kv_preemption"))
    tui.add_argument("path", nargs="?", metavar="SCENARIO.yaml|RECORDING.jsonl",
                     help="a scenario file, a bundled name, or a .jsonl recording "
                          "(default: hello)")
    tui.set_defaults(func=cmd)


def cmd(args) -> int:
    from mini_engine.scenarios.catalog import DEFAULT_SCENARIO
    from mini_engine.sources import open_source

    # Open before the UI starts, so a bad file is one line on stderr and a non-zero exit.
    source = open_source(args.path or DEFAULT_SCENARIO)
    from tui.__main__ import run_debugger  # imported lazily: the domain never imports Textual
    run_debugger(source)
    return EXIT_OK
