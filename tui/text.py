"""User data as the debugger draws it: scenario names, request ids, paths, breakpoints and
error messages come from files anyone may have written.

Textual writes a widget's text to the terminal as it is, so an escape sequence in a
scenario name (`"\\x1b]0;PWNED\\x07"`) would retitle the terminal or move the cursor:
`shown()` escapes control characters (as the CLI does, with files.write.safe_text).
Strings given to Textual as markup (border titles, option prompts, notifications) would
also be parsed (`[/]` raises MarkupError): `plain()` makes a Text that is never parsed.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from mini_engine.files.write import safe_text

MAX_MESSAGE_CHARS = 1000  # a dialog shows at most this much of one message


def shown(value: object) -> str:
    """`value` as one printable line: control characters, line breaks and bidi controls
    escaped (`\\x1b`), everything else as it is."""
    return safe_text(str(value))


def plain(value: object) -> Text:
    """`shown(value)` as a Text, for the places Textual would read a str as markup."""
    return Text(shown(value))


def message(value: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`shown(value)` cut to `limit` characters (an ellipsis says so), for a dialog."""
    text = shown(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def fit(value: object, width: int) -> str:
    """`shown(value)` padded or cut to exactly `width` terminal cells (wide characters
    count two)."""
    return set_cell_size(shown(value), width)


def width(value: object) -> int:
    """How many terminal cells `shown(value)` takes."""
    return cell_len(shown(value))
