"""`mini-engine list`: the bundled scenarios, each with the gist of its description.

A newcomer's first question is "what can I run?": the names alone (in an error or the
README) don't say which scenario shows preemption or prefix caching, so each name gets
the first sentence of the description the scenario file carries."""

from __future__ import annotations

import re

from mini_engine.cli.common import EXIT_OK, add_command, say

NAME = "list"
MAX_GIST = 100  # characters of a description shown; longer ones end in "..."
MIN_GIST = 30  # a cut at a clause keeps at least this much
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
_CLAUSE_ENDS = (": ", " (", "; ", ", ")


def subparser_init(subparsers) -> None:
    lst = add_command(
        subparsers, NAME, "the bundled scenarios, each with what it shows",
        "List the bundled scenarios (run any of them by name: 'mini-engine run NAME', "
        "'mini-engine tui NAME'), each with the first sentence of its description.",
        ("mini-engine list",))
    lst.set_defaults(func=cmd)


def gist(description: str, limit: int = MAX_GIST) -> str:
    """The first line, then the first sentence, of a description; past `limit`
    characters cut at a clause (': ', ' (', '; ', ', ') or else a word, and marked with
    '...' (never cut silently)."""
    text = " ".join(description.strip().splitlines()[:1]).strip()
    text = _SENTENCE_END.split(text, maxsplit=1)[0]
    if len(text) <= limit:
        return text
    for sep in _CLAUSE_ENDS:
        at = text.rfind(sep, MIN_GIST, limit - 3)
        if at >= 0:
            return text[:at] + "..."
    return text[:limit - 3].rsplit(" ", 1)[0] + "..."


def cmd(args) -> int:
    from mini_engine.scenarios.catalog import bundled_scenarios
    from mini_engine.scenarios.loader import load_scenario

    scenarios = [load_scenario(path) for path in bundled_scenarios()]
    width = max(len(path.stem) for path in bundled_scenarios())
    for path, scenario in zip(bundled_scenarios(), scenarios):
        say(f"{path.stem:<{width}}  {gist(scenario.description)}")
    return EXIT_OK
