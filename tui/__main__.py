"""`python -m tui [SCENARIO.yaml | RECORDING.jsonl | bundled name]`."""

import sys

from mini_engine.cli import main

if __name__ == "__main__":
    sys.exit(main(["tui", *sys.argv[1:]]))
