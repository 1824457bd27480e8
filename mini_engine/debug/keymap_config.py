"""The user's key remapping file: `$XDG_CONFIG_HOME/mini-engine/keymap.toml`.

Why a file: a user whose terminal eats a key (or whose fingers want vi or emacs keys)
remaps it once, not on every start. The file maps binding ids (the ids the help screen
shows, `tui/keymap.py`'s registry) to Textual key names, as a comma-separated string or
a list::

    # ~/.config/mini-engine/keymap.toml
    step-forward = "right,j"
    step-back = ["left", "k"]
    next-preemption = "ctrl+n"

A listed binding's keys REPLACE its default keys; bindings not listed keep theirs.
Everything is checked before anything applies: TOML syntax, unknown binding ids (with a
did-you-mean), values that are not keys, and a key bound to two bindings once the
file is applied. Each problem is one MiniEngineError line naming the file, the line
and the binding id.

This module knows no binding: the caller passes the registry's defaults
({id: "keys"}), so `mini_engine` never imports the TUI. The TUI calls, at mount::

    overrides = load_keymap(keymap_path(), {k.id: k.keys for k in KEYMAP})
    if overrides:
        app.set_keymap(overrides)
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping

from mini_engine.errors import MiniEngineError

APP_DIR = "mini-engine"
FILE_NAME = "keymap.toml"
MAX_KEYMAP_BYTES = 64 * 1024  # a keymap is a few dozen lines; more is not a keymap
MAX_KEYS_PER_BINDING = 8
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
# A Textual key name: modifiers, then a name (`right`, `f1`, `colon`, `l`, `L`) or one
# printable character; a comma separates keys, so it is never a key itself.
_KEY = re.compile(r"(?:(?:%s)\+)*(?:[A-Za-z0-9_]+|[!-+\--~])" % "|".join(MODIFIERS))
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


class KeymapError(MiniEngineError):
    """A keymap file the debugger cannot use (one line: file, line, binding id, what)."""

    title = "Keymap error"


def keymap_path(environ: Mapping[str, str] | None = None) -> str:
    """Where the keymap file is: $XDG_CONFIG_HOME/mini-engine/keymap.toml, else
    ~/.config/mini-engine/keymap.toml (the XDG default; a relative XDG_CONFIG_HOME is
    ignored, as the XDG spec says)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".config")
    return os.path.join(base, APP_DIR, FILE_NAME)


def load_keymap(path: str | os.PathLike, defaults: Mapping[str, str]) -> dict[str, str]:
    """{binding id: "key1,key2"} from the file at `path` (an absent file: {}), checked
    against the `defaults` ({binding id: default keys}); KeymapError (or InputFileError
    for an unreadable file) on the first problem."""
    from mini_engine.files.read import read_text

    if not os.path.lexists(path):
        return {}
    text = read_text(path, what="a keymap file", max_bytes=MAX_KEYMAP_BYTES)
    return parse_keymap(text, defaults, os.fspath(path))


def parse_keymap(text: str, defaults: Mapping[str, str], path: str = FILE_NAME) -> dict[str, str]:
    """The checked overrides of a keymap file's text (see load_keymap)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        where = _TOML_LINE.search(str(e))
        message = _TOML_LINE.sub("", str(e)).strip()
        raise KeymapError(f"TOML syntax error: {message}", path,
                          int(where.group(1)) if where else None) from None
    overrides: dict[str, str] = {}
    for binding_id, value in doc.items():
        line = _line_of(text, binding_id)
        if binding_id not in defaults:
            close = difflib.get_close_matches(binding_id, list(defaults), n=1)
            hint = (f"; did you mean {close[0]!r}?" if close else
                    f" (binding ids: {', '.join(defaults)})")
            raise KeymapError(f"unknown binding id{hint}", path, line, binding_id)
        overrides[binding_id] = _keys(value, path, line, binding_id)
    _check_conflicts(text, overrides, defaults, path)
    return overrides


def _keys(value: object, path: str, line: int | None, binding_id: str) -> str:
    """A binding's value -> "key1,key2" (Textual's form), or KeymapError."""
    if isinstance(value, str):
        keys = [k.strip() for k in value.split(",")]
    elif isinstance(value, list) and all(isinstance(k, str) for k in value):
        keys = [k.strip() for k in value]
    else:
        raise KeymapError(f"expected a string of comma-separated keys (\"right,l\") or a list "
                          f"of keys, got {_kind(value)}", path, line, binding_id)
    if not keys or keys == [""]:
        raise KeymapError("no keys given (a binding needs at least one key)", path, line,
                          binding_id)
    if len(keys) > MAX_KEYS_PER_BINDING:
        raise KeymapError(f"{len(keys)} keys; at most {MAX_KEYS_PER_BINDING} per binding", path,
                          line, binding_id)
    for key in keys:
        if not _KEY.fullmatch(key):
            raise KeymapError(f"{key!r} is not a key name (examples: right, ctrl+g, "
                              f"shift+left, f1, colon, L)", path, line, binding_id)
    if len(set(keys)) != len(keys):
        raise KeymapError("a key is listed twice", path, line, binding_id)
    return ",".join(keys)


def _check_conflicts(text: str, overrides: Mapping[str, str], defaults: Mapping[str, str],
                     path: str) -> None:
    """No key may trigger two bindings once the overrides apply (Textual would run only
    one of them, silently)."""
    owner: dict[str, str] = {}
    for binding_id, keys in {**defaults, **overrides}.items():
        for key in keys.split(","):
            other = owner.setdefault(key, binding_id)
            if other != binding_id and (binding_id in overrides or other in overrides):
                mine = binding_id if binding_id in overrides else other
                them = other if mine == binding_id else binding_id
                raise KeymapError(f"key {key!r} is also bound to {them!r} (remap that one "
                                  f"too)", path, _line_of(text, mine), mine)


def _line_of(text: str, binding_id: str) -> int | None:
    """The line where `binding_id` is assigned (bare or quoted key), or None."""
    quoted = re.escape(binding_id)
    pattern = re.compile(rf"^[ \t]*(?:{quoted}|\"{quoted}\"|'{quoted}')[ \t]*=", re.M)
    found = pattern.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else None


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list with a non-string item"
    return f"{type(value).__name__} {value!r}"


__all__ = ["APP_DIR", "FILE_NAME", "KeymapError", "MAX_KEYMAP_BYTES", "MAX_KEYS_PER_BINDING",
           "keymap_path", "load_keymap", "parse_keymap"]
