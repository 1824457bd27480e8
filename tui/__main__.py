"""`python -m tui [SCENARIO.yaml | RECORDING.jsonl | bundled name]`: the step debugger.

Its own small argument handling (not the `mini-engine` CLI, which this never imports):
the source is opened by `mini_engine.sources` before the UI starts, so a bad file is one
line on stderr and exit 2, as with `mini-engine tui`.
"""

from __future__ import annotations

import sys

from mini_engine.errors import MiniEngineError
from mini_engine.sources import Source, open_source

USAGE = """\
usage: python -m tui [SOURCE]

Open the terminal step debugger on SOURCE: a scenario file, a bundled scenario's name,
or a .jsonl recording (default: hello). Same as 'mini-engine tui [SOURCE]'.
"""
EXIT_OK, EXIT_USAGE = 0, 2


def run_debugger(source: Source) -> None:
    """Open the debugger on an already opened source, until the user quits."""
    from tui.app import DebuggerApp
    loaded = source.loaded if source.loaded is not None else source.scenario
    DebuggerApp(loaded, path=source.arg).run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in args):
        print(USAGE, end="")
        return EXIT_OK
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print(f"python -m tui: error: expected at most one SOURCE, got {' '.join(args)} "
              f"(see 'python -m tui --help')", file=sys.stderr)
        return EXIT_USAGE
    from mini_engine.scenarios.catalog import DEFAULT_SCENARIO
    try:
        source = open_source(args[0] if args else DEFAULT_SCENARIO)
    except MiniEngineError as e:
        print(e.one_line(), file=sys.stderr)
        return EXIT_USAGE
    run_debugger(source)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
