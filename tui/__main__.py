"""`python -m tui [SCENARIO.yaml | RECORDING.jsonl | bundled name]`: the step debugger.

Its own small argument handling (not the `mini-engine` CLI, which this never imports):
the source is opened by `mini_engine.sources` before the UI starts, so a bad file is one
line on stderr and exit 2, as with `mini-engine tui`. Files opened later from the UI show
their errors in a dialog; a crash of the app (a bug) exits 1 after Textual's traceback.
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


def run_debugger(source: Source) -> int:
    """Open the debugger on an already opened source, until the user quits; returns 0.

    After a crash (an exception escaped the app: Textual closes it and prints the
    traceback) this raises SystemExit with the app's non-zero return code, so every caller
    exits non-zero: `python -m tui` directly, `mini-engine tui` through its main(), which
    returns a SystemExit's code as its exit status."""
    from tui.app import DebuggerApp
    loaded = source.loaded if source.loaded is not None else source.scenario
    app = DebuggerApp(loaded, path=source.arg)
    app.run()
    code = getattr(app, "return_code", None) or 0  # None: the app never ran
    if code:
        raise SystemExit(code)
    return EXIT_OK


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
    return run_debugger(source)


if __name__ == "__main__":
    sys.exit(main())
