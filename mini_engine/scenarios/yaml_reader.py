"""Scenario YAML text -> plain Python data and the line of every entry, in one bounded pass.

The parser is libyaml's (PyYAML's CSafeLoader, about 5x faster on large files), else
PyYAML's pure-Python one; both only *parse* here. Instead of composing PyYAML's node tree
(hundreds of bytes per value, and a recursive composer and constructor: RecursionError
on deep input) the parser's events are built into data with an explicit stack, with
SafeLoader's meaning: the same tags and implicit types, anchors and aliases (a value
reached twice is the same object), merge keys (`<<`). Each list and mapping gets a
`Lines` entry (the line of each item or key) for error messages. Bounds:

    MAX_YAML_NODES     1,000,000  values (scalars, lists, mappings) in one file
    MAX_NESTING_DEPTH  64         lists and mappings inside each other, aliases followed
    MAX_ALIAS_NODES    100,000    values added by expanding aliases (alias bombs)
    MAX_SCALAR_CHARS   100        characters of an integer or a number

Duplicate keys, an alias inside its own anchor, and a scalar its tag cannot read
(`!!bool maybe`, `!!int foo`, `!!timestamp foo`, `!!float 1e`) are errors too. Every
problem raises ScenarioError with source, line and field.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from types import GeneratorType
from typing import Any

import yaml
from yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent,
                         ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import ScalarNode

from mini_engine.scenarios.error import ScenarioError, echo
from mini_engine.scenarios.yaml_errors import yaml_error

__all__ = ["MAX_ALIAS_NODES", "MAX_NESTING_DEPTH", "MAX_SCALAR_CHARS", "MAX_YAML_NODES",
           "Lines", "YamlDocument", "field_name", "parser_class", "read_yaml"]

MAX_YAML_NODES = 1_000_000
MAX_NESTING_DEPTH = 64
MAX_ALIAS_NODES = 100_000
MAX_SCALAR_CHARS = 100
_TAG = "tag:yaml.org,2002:"
_STR, _INT, _NULL, _BOOL, _FLOAT = (_TAG + t for t in ("str", "int", "null", "bool", "float"))
_SEQ, _MAP, _MERGE, _VALUE = (_TAG + t for t in ("seq", "map", "merge", "value"))
_BOOLS = yaml.SafeLoader.bool_values
_HINTS = {"bool": "true or false", "int": "an integer", "float": "a number",
          "timestamp": "a date like 2024-01-31", "binary": "base64 text"}
_CONVERSION_ERRORS = (ValueError, KeyError, AttributeError, TypeError, OverflowError,
                      IndexError)
_OPEN = object()  # an anchor whose collection is still being read
_MERGE_KEY = object()  # the key `<<` of a mapping, while it is read


def parser_class() -> type:
    """The fastest safe parser PyYAML has: CSafeLoader (libyaml) or SafeLoader."""
    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


@dataclass(slots=True)
class Lines:
    """Where a list's items or a mapping's keys are (1-based lines, in order)."""

    line: int  # the collection's own first line
    entries: array  # one line per item (a list) or per key, in the dict's order (a mapping)


@dataclass
class YamlDocument:
    data: Any  # None for an empty file
    line: int | None  # the first line of the top-level value
    lines: dict[int, Lines]  # id(list or dict in data) -> its Lines


def field_name(parts: list) -> str | None:
    """`["requests", 2, "max_tokens"]` -> `requests[2].max_tokens`."""
    out = ""
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + key_text(p)
    return out or None


def key_text(key: Any) -> str:
    """A mapping key as a field name shows it (YAML's spelling of null and booleans)."""
    if key is None:
        return "null"
    if isinstance(key, bool):
        return str(key).lower()
    return str(key)


class _Frame:
    """A list or mapping being read: its entries so far, and what aliases added to it."""

    __slots__ = ("is_map", "tag", "anchor", "line", "items", "item_lines", "key",
                 "key_line", "has_key", "size", "height")

    def __init__(self, is_map: bool, tag: str, anchor: str | None, line: int) -> None:
        self.is_map = is_map
        self.tag = tag
        self.anchor = anchor
        self.line = line
        self.items: list = []  # list items, or (key, value, key line) of a mapping
        self.item_lines = array("I")
        self.key: Any = None
        self.key_line = 0
        self.has_key = False
        self.size = 1  # values in it, aliases expanded
        self.height = 1  # nesting below it, aliases followed

    def label(self) -> Any:
        """The key or index of the entry being read: a step of the field path."""
        if self.is_map:
            return key_text(self.key) if self.has_key else "?"
        return len(self.items)


class _Reader:
    """Builds the data from parser events; one instance per document."""

    def __init__(self, parser, source: str | None, text: str) -> None:
        self.parser = parser
        self.source = source
        self.text = text
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int, int, int]] = {}  # value, size, height, line
        self.lines: dict[int, Lines] = {}
        self.tags: dict[str, str] = {}  # implicit tags of short plain scalars, cached
        self.nodes = 0
        self.expanded = 0
        self.result: tuple[Any, int] | None = None

    def field(self, *more: Any) -> str | None:
        """The field path of the entry being read (and `more` below it)."""
        return field_name([f.label() for f in self.stack] + list(more))

    def error(self, message: str, line: int, *more: Any) -> ScenarioError:
        return ScenarioError(message, self.source, line, self.field(*more))

    def count(self, line: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise self.error(f"more than {MAX_YAML_NODES:,} YAML values (the limit, "
                             f"MAX_YAML_NODES): use a generate block for large workloads",
                             line)

    def resolve_plain(self, value: str, implicit) -> str:
        """A plain scalar's implicit tag (int, float, bool, null, ... or str), cached."""
        tag = self.parser.resolve(ScalarNode, value, implicit)
        if len(value) <= 64 and len(self.tags) < 10_000:
            self.tags[value] = tag
        return tag

    def anchor(self, name: str | None, line: int) -> None:
        if name is not None and name in self.anchors:
            raise self.error(f"YAML error: found duplicate anchor {echo(name)} (first at line "
                             f"{self.anchors[name][3]})", line)

    # ------------------------------------------------------------------ events

    def scalar(self, event: ScalarEvent) -> None:
        """The hot path (most events): a plain string in a list or as a mapping's value."""
        line = event.start_mark.line + 1
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            self.count(line)
        value = event.value
        tag = event.tag
        if tag is None or tag == "!":
            if event.implicit[0]:
                tag = self.tags.get(value) or self.resolve_plain(value, event.implicit)
            else:
                tag = _STR
        if tag != _STR:
            value = self.construct(tag, event)
        if event.anchor is not None:
            self.anchor(event.anchor, line)
            self.anchors[event.anchor] = (value, 1, 0, line)
        if self.stack:
            frame = self.stack[-1]
            if frame.has_key:
                frame.size += 1
                frame.items.append((frame.key, value, frame.key_line))
                frame.has_key = False
                return
            if not frame.is_map:
                frame.size += 1
                frame.items.append(value)
                frame.item_lines.append(line)
                return
        self.add(value, 1, 0, line, tag)

    def start_sequence(self, event: SequenceStartEvent) -> None:
        self.start(event, False)

    def start_mapping(self, event: MappingStartEvent) -> None:
        self.start(event, True)

    def start(self, event: SequenceStartEvent | MappingStartEvent, is_map: bool) -> None:
        line = event.start_mark.line + 1
        self.count(line)
        self.anchor(event.anchor, line)
        if len(self.stack) >= MAX_NESTING_DEPTH:
            raise self.error(f"nested more than {MAX_NESTING_DEPTH} levels deep (the limit, "
                             f"MAX_NESTING_DEPTH)", line)
        tag = event.tag
        if tag is None or tag == "!":
            tag = _MAP if is_map else _SEQ
        if tag != (_MAP if is_map else _SEQ):
            if tag in self.parser.yaml_constructors:  # !!set, !!omap, !!pairs, !!seq on {}
                raise self.error(f"YAML error: the tag {echo(tag)} is not supported here (a "
                                 f"scenario holds mappings, lists and scalars)", line)
            raise self.error(f"YAML error: could not determine a constructor for the tag "
                             f"{echo(tag)}", line)
        if event.anchor is not None:
            self.anchors[event.anchor] = (_OPEN, 0, 0, line)
        self.stack.append(_Frame(is_map, tag, event.anchor, line))

    def end(self, event: SequenceEndEvent | MappingEndEvent) -> None:
        frame = self.stack.pop()
        if frame.is_map:
            data, lines = self.mapping(frame)
        else:
            data, lines = frame.items, frame.item_lines
        self.lines[id(data)] = Lines(frame.line, lines)
        if frame.height > MAX_NESTING_DEPTH:
            raise self.error(f"nested more than {MAX_NESTING_DEPTH} levels deep (the limit, "
                             f"MAX_NESTING_DEPTH)", frame.line)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (data, frame.size, frame.height, frame.line)
        self.add(data, frame.size, frame.height, frame.line, frame.tag)

    def alias(self, event: AliasEvent) -> None:
        line = event.start_mark.line + 1
        entry = self.anchors.get(event.anchor)
        if entry is None:
            raise self.error(f"YAML error: found undefined alias {echo(event.anchor)}", line)
        value, size, height, _ = entry
        if value is _OPEN:
            raise self.error("recursive alias: a node contains itself", line)
        self.expanded += size
        if self.expanded > MAX_ALIAS_NODES:
            raise self.error(f"aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias "
                             f"bomb?)", line)
        self.add(value, size, height, line, _SEQ if isinstance(value, list) else
                 _MAP if isinstance(value, dict) else None)

    # ------------------------------------------------------------------ building

    def add(self, value: Any, size: int, height: int, line: int, tag: str | None) -> None:
        if not self.stack:
            self.result = (value, line)
            return
        frame = self.stack[-1]
        frame.size += size
        if height + 1 > frame.height:
            frame.height = height + 1
        if not frame.is_map:
            frame.items.append(value)
            frame.item_lines.append(line)
        elif not frame.has_key:
            if tag == _VALUE:
                tag = _STR
            frame.key, frame.key_line, frame.has_key = (_MERGE_KEY if tag == _MERGE else value,
                                                        line, True)
            if frame.key is not _MERGE_KEY:
                try:
                    hash(frame.key)
                except TypeError:
                    raise self.error("YAML error: while constructing a mapping; found "
                                     "unhashable key", line) from None
        else:
            frame.items.append((frame.key, value, frame.key_line))
            frame.has_key = False

    def mapping(self, frame: _Frame) -> tuple[dict, array]:
        """The mapping's dict (merged mappings first, its own keys overriding them) and
        the line of each of its keys."""
        data: dict = {}
        key_lines: dict = {}
        own: dict = {}
        merges = []
        for key, value, line in frame.items:
            if key is _MERGE_KEY:
                merges.append((value, line))
                continue
            ident = (type(key), key)
            if ident in own:
                raise self.error(f"duplicate key {echo(key)} (first at line {own[ident]})",
                                 line, key)
            own[ident] = line
        for value, line in reversed(merges):
            for source in (reversed(value) if isinstance(value, list) else [value]):
                if not isinstance(source, dict):
                    raise ScenarioError("YAML error: while constructing a mapping; expected "
                                        "a mapping or list of mappings for merging", self.source,
                                        line, self.field())
                source_lines = self.lines[id(source)].entries
                for i, (k, v) in enumerate(source.items()):
                    data[k] = v
                    key_lines[k] = source_lines[i]
        for key, value, line in frame.items:
            if key is not _MERGE_KEY:
                data[key] = value
                key_lines[key] = line
        return data, array("I", key_lines.values())

    def construct(self, tag: str, event: ScalarEvent) -> Any:
        value = event.value
        if tag == _STR or tag == _VALUE:
            return value
        if tag == _NULL:
            return None
        if tag == _BOOL:
            result = _BOOLS.get(value.lower())
            if result is None:
                raise self.bad_scalar(tag, event)
            return result
        if tag in (_INT, _FLOAT) and len(value) > MAX_SCALAR_CHARS:
            raise self.bad_scalar(tag, event, f": {len(value):,} characters is longer than "
                                              f"{MAX_SCALAR_CHARS} (MAX_SCALAR_CHARS)")
        if tag == _INT and value.isascii() and value.isdigit() and (value[0] != "0" or
                                                                     len(value) == 1):
            return int(value)
        if tag == _MERGE:
            return value
        node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
        constructors = self.parser.yaml_constructors
        try:
            result = (constructors.get(tag) or constructors[None])(self.parser, node)
            if isinstance(result, GeneratorType):  # !!map, !!seq, !!set... on a scalar
                for _ in result:
                    pass
        except yaml.YAMLError as e:
            raise yaml_error(e, "", self.source, False, self.field()) from None
        except _CONVERSION_ERRORS:
            raise self.bad_scalar(tag, event) from None
        return result

    def bad_scalar(self, tag: str, event: ScalarEvent, why: str = "") -> ScenarioError:
        kind = tag[len(_TAG):] if tag.startswith(_TAG) else ""
        name = f"!!{kind}" if kind else tag
        hint = f" ({_HINTS[kind]})" if kind in _HINTS else ""
        return self.error(f"YAML error: {echo(event.value)} is not a valid "
                          f"{echo(name)[1:-1]}{hint}{why}", event.start_mark.line + 1)


def _read_events(reader: _Reader) -> None:
    parser = reader.parser
    handlers = {ScalarEvent: reader.scalar, AliasEvent: reader.alias,
                SequenceStartEvent: reader.start_sequence, MappingStartEvent: reader.start_mapping,
                SequenceEndEvent: reader.end, MappingEndEvent: reader.end}
    get_event = parser.get_event
    parser.get_event()  # StreamStart
    if parser.check_event(StreamEndEvent):
        return
    parser.get_event()  # DocumentStart
    while True:
        event = get_event()
        handler = handlers.get(type(event))
        if handler is None:  # DocumentEnd
            break
        handler(event)
    if not parser.check_event(StreamEndEvent):
        event = parser.get_event()
        raise ScenarioError("YAML syntax error: expected a single document in the stream; but "
                            "found another document", reader.source,
                            event.start_mark.line + 1)


def read_yaml(text: str, source: str | None) -> YamlDocument:
    """The data of the single YAML document in `text`, with the line of every entry."""
    cls = parser_class()
    try:
        parser = cls(text)  # the pure-Python reader checks the characters here
        try:
            reader = _Reader(parser, source, text)
            _read_events(reader)
        finally:
            parser.dispose()
    except yaml.YAMLError as e:
        raise yaml_error(e, text, source, cls is not yaml.SafeLoader) from None
    if reader.result is None:
        return YamlDocument(None, None, {})
    data, line = reader.result
    return YamlDocument(data, line, reader.lines)


def _key_index(data: dict, part: Any) -> tuple[int, Any] | None:
    """Where `part` (a key in a validation error's path) is in the dict: the same value of
    the same type first, else a key spelled the same (`1` for "1")."""
    for i, key in enumerate(data):
        if type(key) is type(part) and key == part:
            return i, key
    for i, key in enumerate(data):
        if key_text(key) == key_text(part):
            return i, key
    return None


def locate(doc: YamlDocument, loc: tuple, skip: tuple = ()) -> tuple[int | None, str | None]:
    """The line of a validation error's location path (`("requests", 2, "max_tokens")`) in
    the document, and its field name; parts in `skip` (union tags) are not keys."""
    node: Any = doc.data
    line = doc.line
    parts: list = []
    for part in loc:
        lines = doc.lines.get(id(node))
        if isinstance(node, dict) and lines is not None:
            found = _key_index(node, part)
            if found is not None:
                index, key = found
                line = lines.entries[index]
                node = node[key]
                parts.append(key_text(key))
                continue
            if isinstance(part, str) and part in skip:
                continue
            parts.append(part)  # a missing key: keep the mapping's line
            node = None
        elif (isinstance(node, list) and lines is not None and isinstance(part, int)
              and 0 <= part < len(node)):
            line = lines.entries[part]
            node = node[part]
            parts.append(part)
        else:
            if not (isinstance(part, str) and part in skip):
                parts.append(part)
            node = None
    return line, field_name(parts)
