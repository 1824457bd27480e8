"""What every command shares: exit codes, `UsageError`, and the one-line error report."""

from __future__ import annotations

import sys

from mini_engine.errors import MiniEngineError, error_line

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPT = 0, 1, 2, 130
PROG = "mini-engine"


class UsageError(MiniEngineError):
    """Bad command-line input found after argument parsing (exit 2)."""

    title = "Usage error"


def report_error(error: BaseException) -> None:
    """One line on stderr. An error that points at its input (`path:line: ...`) is printed
    as it is; any other gets the `mini-engine: error: ` prefix, as argparse's errors do."""
    located = isinstance(error, MiniEngineError) and error.where is not None
    prefix = "" if located else f"{PROG}: error: "
    print(prefix + error_line(error), file=sys.stderr)
