"""`ScenarioError`, the one error a bad scenario raises, and `echo` for quoting user text in it.

A message quotes what the user wrote (an unknown key, a request id); a 100,000-character
key must not become a 200 KB error line, and a key holding an escape sequence must not
reach the terminal. So quotes go through `echo` (short, printable), and the error itself
caps its message and field at MAX_MESSAGE_CHARS / MAX_FIELD_CHARS and shows its path with
`display_name` (one printable line).
"""

from __future__ import annotations

import os

from mini_engine.errors import MiniEngineError
from mini_engine.files.read import display_name, printable

__all__ = ["MAX_ECHO_CHARS", "MAX_FIELD_CHARS", "MAX_MESSAGE_CHARS", "ScenarioError", "echo"]

MAX_ECHO_CHARS = 60  # a quoted key or value
MAX_FIELD_CHARS = 200  # the dotted field path
MAX_MESSAGE_CHARS = 500  # the whole message


def echo(value: object, max_chars: int = MAX_ECHO_CHARS) -> str:
    """`repr(value)` for a message: printable, and at most about `max_chars` characters
    (a long string keeps its start and end and says how long it was); null, true, false
    as YAML spells them."""
    if value is None or isinstance(value, bool):
        return str(value).lower() if value is not None else "null"  # as YAML spells them
    if isinstance(value, str) and len(value) > max_chars:
        keep = max_chars // 2
        return printable(f"{value[:keep]!r}...{value[-8:]!r} ({len(value):,} characters)",
                         max_chars * 2)
    return printable(repr(value), max_chars * 2)


class ScenarioError(MiniEngineError):
    """One bad scenario input: where (`path`, 1-based `line`, dotted `field`) and what (`message`)."""

    title = "Scenario error"
    unnamed_source = "<string>"  # a scenario given as text, not as a file

    def __init__(self, message: object, path: str | os.PathLike | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        text = printable(" ".join(str(message).split()), MAX_MESSAGE_CHARS)  # always one line
        shown = display_name(path) if path is not None else None
        super().__init__(text, shown, line,
                         printable(field, MAX_FIELD_CHARS) if field is not None else None)
