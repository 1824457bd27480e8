"""What every command shares: exit codes, `UsageError`, the one place output reaches the
terminal (`say`, `report_error`: user data with its control characters escaped, so a
scenario named "\\x1b]0;PWNED\\x07" cannot retitle the terminal), and the argparse pieces
more than one command uses."""

from __future__ import annotations

import argparse
import re
import sys
from typing import IO

from mini_engine.errors import MiniEngineError, error_line
from mini_engine.files.write import safe_json_text, safe_text

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPT = 0, 1, 2, 130
PROG = "mini-engine"
MAX_ERROR_CHARS = 2000  # an error line longer than this is cut in the middle
SOURCE_HELP = "a scenario file, a bundled name, or a .jsonl recording"


class UsageError(MiniEngineError):
    """Bad command-line input found after argument parsing (exit 2)."""

    title = "Usage error"


class CommandLineError(UsageError):
    """argparse found the command line wrong (an unknown option, a missing argument);
    `prog` is the (sub)command whose usage it broke."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


DASH_HINT = "to name a file that starts with '-', put -- before it"
# What an option looks like here (`--until`, `--set=x`, `-h`); a dash word that is not
# one (`-x.yaml`, `-/tmp/a`) was most likely meant as a file name.
_OPTION_LIKE = re.compile(r"--?[A-Za-z][A-Za-z0-9_-]*(=.*)?|-\d+(\.\d*)?", re.DOTALL)


def dash_hint(argv: list[str], prog: str = PROG) -> str:
    """DASH_HINT with an example for `prog`, when a word before any `--` starts with '-'
    but does not look like an option; else ''."""
    words = argv[:argv.index("--")] if "--" in argv else argv
    for word in words:
        if word.startswith("-") and word != "-" and not _OPTION_LIKE.fullmatch(word):
            return f"; {DASH_HINT} (e.g. '{prog} -- {safe_text(word)}')"
    return ""


def say(text: str, file: IO[str] | None = None) -> None:
    """Print one line that may hold user data (names, ids, messages): control characters
    are escaped (files.write.safe_text). Every line the CLI prints goes through here."""
    (file or sys.stdout).write(safe_text(text) + "\n")


class SafeJsonOut:
    """A text stream for JSON lines (`run --format jsonl`): what a string value holds
    that a terminal would act on (C1, DEL, bidi controls) is written as a JSON escape."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(safe_json_text(text))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)


def report_error(error: BaseException) -> None:
    """One line on stderr. An error that points at its input (`path:line: ...`) is printed
    as it is; any other gets the `mini-engine: error: ` prefix, as argparse's errors do.
    A line over MAX_ERROR_CHARS (say, quoting a huge value) is cut in the middle."""
    located = isinstance(error, MiniEngineError) and error.where is not None
    say_error(("" if located else f"{PROG}: error: ") + error_line(error))


def say_error(line: str) -> None:
    """An error line on stderr, escaped as by `say`, cut in the middle past MAX_ERROR_CHARS."""
    line = safe_text(line)
    if len(line) > MAX_ERROR_CHARS:
        keep = (MAX_ERROR_CHARS - 5) // 2
        line = f"{line[:keep]} ... {line[-keep:]}"
    sys.stderr.write(line + "\n")


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
