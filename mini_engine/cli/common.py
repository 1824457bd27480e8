"""What every command shares: exit codes, `UsageError`, the one-line error report, and
the argparse pieces more than one command uses."""

from __future__ import annotations

import argparse
import sys

from mini_engine.errors import MiniEngineError, error_line

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPT = 0, 1, 2, 130
PROG = "mini-engine"
SOURCE_HELP = "a scenario file, a bundled name, or a .jsonl recording"


class UsageError(MiniEngineError):
    """Bad command-line input found after argument parsing (exit 2)."""

    title = "Usage error"


def report_error(error: BaseException) -> None:
    """One line on stderr. An error that points at its input (`path:line: ...`) is printed
    as it is; any other gets the `mini-engine: error: ` prefix, as argparse's errors do."""
    located = isinstance(error, MiniEngineError) and error.where is not None
    prefix = "" if located else f"{PROG}: error: "
    print(prefix + error_line(error), file=sys.stderr)


def int_at_least(low: int):
    """An argparse type: an integer >= low, with a one-line error otherwise."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


def add_command(subparsers, name: str, summary: str, description: str, examples: tuple[str, ...],
                notes: str = "") -> argparse.ArgumentParser:
    """A command's subparser: `summary` in the command list, `description` on top of its
    --help, then `notes` and the example command lines (tests/cli runs every one of them)."""
    epilog = notes + "examples:\n" + "".join(f"  {command}\n" for command in examples)
    return subparsers.add_parser(name, help=summary, description=description, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
