"""mini-engine: run, check, export and debug scenarios of a miniature vLLM V1 engine.

SCENARIO is a scenario file (.yaml) or a bundled scenario's name (hello, kv_preemption,
...; `mini-engine list` shows them); `run`, `export`, `check`, `validate` and `tui` also
take a recording (.jsonl) saved by `export --jsonl`. Errors are one line on stderr: exit
2 for bad input or usage, 1 when `validate` or `check` find a problem, 130 on Ctrl-C.
Everything printed from user data (names, ids, messages) has its control characters
escaped (\\x1b, \\x07).

To name a file that starts with '-', put -- before it: mini-engine validate -- -x.yaml.
`export` writes OUT all-or-nothing and replaces an existing OUT only with --force. A
scenario estimated above 100,000 steps or 500 MB is announced on stderr before it runs;
no run records more than 1,000,000 steps (refused up front when it certainly would).
"""

from __future__ import annotations

import argparse
import os
import sys

from mini_engine.cli import check, export, listing, replay, run, schema, trace, tui, validate
from mini_engine.cli.common import (EXIT_FAIL, EXIT_INTERRUPT, EXIT_USAGE, PROG, CommandLineError,
                                    dash_hint, report_error, say_error)
from mini_engine.errors import MiniEngineError
from mini_engine.version import __version__

# One module per command (vLLM's CLI style): each adds its subparser and runs it.
COMMANDS = (run, validate, export, trace, schema, check, tui, listing, replay)
# Shown under `mini-engine --help` (tests/cli runs each one, as every command's examples).
EXAMPLES = ("mini-engine list", "mini-engine run kv_preemption --until 3",
            "mini-engine tui kv_preemption")
EPILOG = ("'mini-engine COMMAND --help' documents each command, with examples.\n\n"
          "examples:\n" + "".join(f"  {command}\n" for command in EXAMPLES))


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, with usage errors raised to `main`, which prints them on one line."""

    def error(self, message: str):  # type: ignore[override]
        raise CommandLineError(message, self.prog)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(prog=PROG, description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.subparser_init(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `mini-engine` command; returns the exit status (never raises, never a traceback)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except CommandLineError as e:
        say_error(f"{e.prog}: error: {e.message}{dash_hint(argv, e.prog)} "
                  f"(see '{e.prog} --help')")
        return EXIT_USAGE
    except SystemExit as e:  # argparse: --help, --version, usage errors
        code = e.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        return EXIT_INTERRUPT
    except BrokenPipeError:
        # The reader went away (`mini-engine run big | head`): stop quietly.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_FAIL
    except (MiniEngineError, ValueError, OSError) as e:
        report_error(e)  # one line: "path:line: field: message" or "mini-engine: error: ..."
        return EXIT_USAGE


__all__ = ["COMMANDS", "build_parser", "main"]
