"""The `mini-engine` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .trace import trace_request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mini-engine", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mini-engine {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    trace = sub.add_parser("trace", help="the lab's trace of one request")
    trace.add_argument("prompt")
    trace.add_argument("--max-tokens", type=int, default=4)
    tui = sub.add_parser("tui", help="open the step debugger")
    tui.add_argument("path", nargs="?", help="a scenario .yaml or a recording .jsonl")
    args = parser.parse_args(argv)
    if args.command == "tui":
        from tui.app import DebuggerApp  # imported lazily: the domain never imports Textual

        DebuggerApp().run()
        return 0
    if args.command == "trace":
        for event in trace_request(args.prompt, max_tokens=args.max_tokens):
            print(event)
    return 0


if __name__ == "__main__":
    sys.exit(main())
