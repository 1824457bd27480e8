"""One rule for showing a user's text on a terminal: what is escaped, and how.

A scenario name like "\\x1b]0;PWNED\\x07" must not retitle the terminal, a file name
with a newline must not break a one-line error, and a bidi override must not reorder
what is shown. So every character Python calls unprintable (`str.isprintable`: controls,
tab and newline too, DEL, C1, format characters such as the bidi overrides, lone surrogates, separators,
unassigned code points) is shown escaped: `\\n` `\\r` `\\t`, a byte that was not UTF-8 as
`\\xNN`, the rest as `\\xNN` / `\\uNNNN`. Everything else (accents, other scripts, emoji)
prints as itself. One C-speed `isprintable()` check keeps the common case free.
Every printer uses these: the CLI (`safe_text`), error messages and file names
(`printable`, `files.read.display_name`), JSON lines (`safe_json_text`), the TUI.
"""

from __future__ import annotations

__all__ = ["printable", "safe_json_text", "safe_text"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _json_escape(ch: str) -> str:
    if ch.isprintable() or ch in "\n\r\t":  # json.dumps escaped C0 in strings already
        return ch
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # JSON has no \U: a surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def safe_text(text: object) -> str:
    """`text` as one line that is safe to print (see the module docstring)."""
    text = str(text)
    return text if text.isprintable() else "".join(map(_escape, text))


def printable(text: object, max_chars: int) -> str:
    """`safe_text(text)`, shortened to `max_chars` with `...` in the middle: for a key, a
    value or a message quoted from a user's file."""
    text = safe_text(text)
    if len(text) > max_chars:
        keep = max(max_chars - 3, 2)
        text = text[:keep - keep // 2] + "..." + text[len(text) - keep // 2:]
    return text


def safe_json_text(text: str) -> str:
    """JSON text (as json.dumps writes it, C0 already escaped) with the characters
    `safe_text` escapes written as JSON `\\uNNNN` escapes: the same JSON value, safe to
    print. They can only occur inside strings, where such an escape is valid."""
    return text if text.isprintable() else "".join(map(_json_escape, text))
