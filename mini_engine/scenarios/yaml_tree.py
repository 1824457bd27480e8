"""Scenario YAML text -> a node tree (kept for line numbers) -> plain Python data, bounded.

The loader is libyaml's CSafeLoader when PyYAML has it and its libyaml refuses nesting
past 1000 levels (0.2.5 and later; about 5x faster than the pure-Python loader on large
files), else PyYAML's pure-Python SafeLoader. Whichever parses, the file is *composed*
into a node tree first (kept for line numbers), then built into data, within bounds:

    MAX_YAML_NODES       1,000,000  values (scalars, lists, mappings) in one file, counted
                                    while composing: past it the parse stops (a 16 MB file
                                    of 3 million numbers would take over a GB of nodes)
    MAX_NESTING_DEPTH    64         lists and mappings inside each other, aliases followed
    MAX_ALIAS_NODES      100,000    extra nodes reached through aliases (alias bombs)
    MAX_SCALAR_CHARS     100        an integer or a number written with more characters

Duplicate keys and a node containing itself are errors too. The data is built bottom-up
with an explicit stack (no recursion: a scenario is never deep, but a hostile file may
be), each node once however many aliases reach it, with fast paths for strings,
integers, nulls and booleans; a scalar that its tag cannot
read (`!!bool maybe`, `!!int foo`, `!!timestamp foo`, `!!float 1e`) is an error on its
line. Every problem raises ScenarioError naming source, line and field.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from mini_engine.scenarios.error import ScenarioError, echo

__all__ = ["MAX_ALIAS_NODES", "MAX_NESTING_DEPTH", "MAX_SCALAR_CHARS", "MAX_YAML_NODES",
           "base_loader", "build", "compose", "field_name", "locate", "yaml_error"]

MAX_YAML_NODES = 1_000_000
MAX_NESTING_DEPTH = 64
MAX_ALIAS_NODES = 100_000
MAX_SCALAR_CHARS = 100
_TAG = "tag:yaml.org,2002:"
_STR, _INT, _NULL, _BOOL, _SEQ, _MAP = (_TAG + t for t in ("str", "int", "null", "bool",
                                                           "seq", "map"))
_BOOLS = yaml.SafeLoader.bool_values
_HINTS = {"bool": "true or false", "int": "an integer", "float": "a number",
          "timestamp": "a date like 2024-01-31", "binary": "base64 text",
          "null": "null"}
_CONVERSION_ERRORS = (ValueError, KeyError, AttributeError, TypeError, OverflowError,
                      IndexError)
_ALIAS_NAME = re.compile(r"\*([^\s,\[\]{}]+)")


@functools.cache
def base_loader() -> type:
    """CSafeLoader if its libyaml bounds nesting itself (its composer recurses in C, where
    Python's recursion limit does not apply), else the pure-Python SafeLoader."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return yaml.SafeLoader
    try:
        loader("[" * 1100 + "]" * 1100).get_single_node()
    except yaml.YAMLError as e:
        if "maximum nesting depth" in str(e):
            return loader
    return yaml.SafeLoader


def _bounded(base: type) -> type:
    class BoundedLoader(base):
        """Counts nodes as they are composed and caches the implicit tag of short plain
        scalars (a list of a million token ids resolves each distinct number once)."""

        def __init__(self, text: str) -> None:
            super().__init__(text)
            self.node_count = 0
            self.depth = 0
            self.tags: dict[str, str] = {}

        def resolve(self, kind, value, implicit):
            self.node_count += 1
            if self.node_count > MAX_YAML_NODES:
                raise ScenarioError(f"more than {MAX_YAML_NODES:,} YAML values (the limit, "
                                    f"MAX_YAML_NODES): use a generate block for large "
                                    f"workloads")
            if kind is ScalarNode and implicit[0]:
                tag = self.tags.get(value)
                if tag is None:
                    tag = super().resolve(kind, value, implicit)
                    if len(value) <= 64 and len(self.tags) < 10_000:
                        self.tags[value] = tag
                return tag
            return super().resolve(kind, value, implicit)

        def compose_node(self, parent, index):  # the pure-Python composer's recursion
            self.depth += 1
            try:
                if self.depth > MAX_NESTING_DEPTH:
                    raise _too_deep(self.peek_event().start_mark.line + 1, None)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


_LOADERS: dict[type, type] = {}


def compose(text: str, source: str | None) -> tuple[Node | None, yaml.BaseLoader]:
    """The single document's node tree (None for an empty file) and the loader holding it
    (construct and locate need it; call its dispose() when done)."""
    base = base_loader()
    cls = _LOADERS.get(base) or _LOADERS.setdefault(base, _bounded(base))
    try:
        loader = cls(text)
        return loader.get_single_node(), loader
    except yaml.YAMLError as e:
        raise yaml_error(e, text, source, base is not yaml.SafeLoader) from None
    except ScenarioError as e:
        raise ScenarioError(e.message, source, e.line, e.field) from None


def _too_deep(line: int | None, field: str | None, source: str | None = None) -> ScenarioError:
    return ScenarioError(f"nested more than {MAX_NESTING_DEPTH} levels deep (the limit, "
                         f"MAX_NESTING_DEPTH)", source, line, field)


def field_name(parts: list) -> str | None:
    """`["requests", 2, "max_tokens"]` -> `requests[2].max_tokens`."""
    out = ""
    for p in parts:
        if isinstance(p, int) and not isinstance(p, bool):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or None


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _labelled(node: Node) -> list[tuple[Any, Node]]:
    """(key or index, child) in file order; a mapping key that is not a scalar is a child."""
    if isinstance(node, SequenceNode):
        return list(enumerate(node.value))
    out = []
    for key, value in node.value:
        if isinstance(key, ScalarNode):
            out.append((key.value, value))
        else:
            out += [("?", key), ("?", value)]
    return out


def _path_to(root: Node, target: Node) -> list:
    """The key/index path of `target` (first found, file order), for an error message."""
    seen: set[int] = set()
    stack: list[tuple[Node, list]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, ScalarNode) or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend((child, path + [label]) for label, child in reversed(_labelled(node)))
    return []


def _field_of(root: Node, node: Node, *more) -> str | None:
    return field_name(_path_to(root, node) + list(more))


def _check_keys(node: MappingNode, root: Node, source: str | None) -> None:
    keys: dict[tuple, Node] = {}
    for key, _ in node.value:
        if isinstance(key, ScalarNode) and key.value != "<<":
            ident = (key.tag, key.value)
            if ident in keys:
                raise ScenarioError(f"duplicate key {echo(key.value)} (first at line "
                                    f"{_line(keys[ident])})", source, _line(key),
                                    _field_of(root, node, key.value))
            keys[ident] = key


def _bad_scalar(node: ScalarNode, root: Node, source: str | None, why: str = "") -> ScenarioError:
    tag = node.tag
    name = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
    kind = tag[len(_TAG):] if tag.startswith(_TAG) else ""
    hint = f" ({_HINTS[kind]})" if kind in _HINTS else ""
    return ScenarioError(f"YAML error: {echo(node.value)} is not a valid {echo(name)[1:-1]}"
                         f"{hint}{why}", source, _line(node), _field_of(root, node))


def _scalar(loader: yaml.BaseLoader, node: ScalarNode, root: Node, source: str | None) -> Any:
    tag, value = node.tag, node.value
    if tag == _STR:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        result = _BOOLS.get(value.lower())
        if result is None:
            raise _bad_scalar(node, root, source)
        return result
    if tag in (_INT, _TAG + "float") and len(value) > MAX_SCALAR_CHARS:
        raise _bad_scalar(node, root, source, f": {len(value):,} characters is longer than "
                                              f"{MAX_SCALAR_CHARS} (MAX_SCALAR_CHARS)")
    if tag == _INT and value.isascii() and value.isdigit() and (value[0] != "0" or
                                                                 len(value) == 1):
        return int(value)
    return _delegate(loader, node, root, source)


def _delegate(loader: yaml.BaseLoader, node: Node, root: Node, source: str | None) -> Any:
    """PyYAML's own constructor, for the rare tags (floats, timestamps, sets, omaps...);
    its recursion is bounded: the node's subtree is already known to be shallow."""
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as e:
        raise yaml_error(e, "", source, False) from None
    except _CONVERSION_ERRORS:
        if isinstance(node, ScalarNode):
            raise _bad_scalar(node, root, source) from None
        raise ScenarioError(f"YAML error: cannot read this {echo(node.tag)[1:-1]} value",
                            source, _line(node), _field_of(root, node)) from None


class _Builder:
    """The data of a checked node graph, built bottom-up with an explicit stack."""

    def __init__(self, loader: yaml.BaseLoader, root: Node, source: str | None) -> None:
        self.loader = loader
        self.root = root
        self.source = source
        self.max_size = loader.node_count + MAX_ALIAS_NODES
        # id(collection) -> (data, size with aliases expanded, height); scalars are
        # built where they are used (a shared scalar twice: same value).
        self.done: dict[int, tuple[Any, int, int]] = {}

    def enter(self, node: Node, depth: int, active: set[int]) -> list[Node]:
        """Checks on first reaching a collection; its collections still to build."""
        if depth > MAX_NESTING_DEPTH:
            raise _too_deep(_line(node), _field_of(self.root, node), self.source)
        if isinstance(node, MappingNode):
            _check_keys(node, self.root, self.source)
            try:
                self.loader.flatten_mapping(node)  # merge keys, as SafeLoader does
            except yaml.YAMLError as e:
                raise yaml_error(e, "", self.source, False) from None
        pending = []
        for label, child in _labelled(node):
            if isinstance(child, ScalarNode) or id(child) in self.done:
                continue
            if id(child) in active:
                raise ScenarioError("recursive alias: a node contains itself", self.source,
                                    _line(child), _field_of(self.root, node, label))
            pending.append(child)
        return pending

    def finish(self, node: Node) -> None:
        size = height = 1
        if isinstance(node, SequenceNode):
            data = []
            for child in node.value:
                if isinstance(child, ScalarNode):
                    data.append(self.scalar(child))
                    size += 1
                else:
                    value, n, h = self.done[id(child)]
                    data.append(value)
                    size += n
                    height = max(height, h + 1)
        else:
            data = {}
            for key_node, value_node in node.value:
                key = self.child(key_node)
                value = self.child(value_node)
                try:
                    data[key[0]] = value[0]
                except TypeError:
                    raise ScenarioError("YAML error: while constructing a mapping; found "
                                        "unhashable key", self.source, _line(key_node),
                                        _field_of(self.root, node)) from None
                size += key[1] + value[1]
                height = max(height, key[2] + 1, value[2] + 1)
        if height > MAX_NESTING_DEPTH:
            raise _too_deep(_line(node), _field_of(self.root, node), self.source)
        if size > self.max_size:
            raise ScenarioError(f"aliases expand to more than {MAX_ALIAS_NODES} nodes "
                                f"(an alias bomb?)", self.source, _line(node),
                                _field_of(self.root, node))
        if node.tag not in (_SEQ, _MAP):  # !!set, !!omap, !!pairs, unknown: PyYAML's way
            data = _delegate(self.loader, node, self.root, self.source)
        self.done[id(node)] = (data, size, height)

    def scalar(self, node: ScalarNode) -> Any:
        return _scalar(self.loader, node, self.root, self.source)

    def child(self, node: Node) -> tuple[Any, int, int]:
        if isinstance(node, ScalarNode):
            return self.scalar(node), 1, 0
        return self.done[id(node)]


def build(loader: yaml.BaseLoader, root: Node, source: str | None) -> Any:
    """The data of `root` (a collection), never recursing: duplicate keys, a node that
    contains itself, nesting past MAX_NESTING_DEPTH and alias expansion past
    MAX_ALIAS_NODES are errors; a node reached twice (an alias) is built once."""
    builder = _Builder(loader, root, source)
    active: set[int] = set()  # the collections being built (the current path)
    stack: list[tuple[Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack[-1]
        ident = id(node)
        if ident in builder.done:
            stack.pop()
        elif ident not in active:
            active.add(ident)
            stack.extend((child, depth + 1)
                         for child in reversed(builder.enter(node, depth, active)))
        else:
            stack.pop()
            active.discard(ident)
            builder.finish(node)
    return builder.done[id(root)][0]


def _key_matches(loader: yaml.BaseLoader, key: Node, part: Any, exact: bool) -> bool:
    if not isinstance(key, ScalarNode):
        return False
    if not exact:
        return key.value == str(part)
    if key.tag == _STR:
        return isinstance(part, str) and key.value == part
    try:
        value = loader.construct_object(key)
    except Exception:  # noqa: BLE001 - a key that cannot be read matches nothing
        return False
    return type(value) is type(part) and value == part


def _mapping_entry(loader, node: MappingNode, part: Any) -> tuple[Node, Node] | None:
    for exact in (True, False):
        for key, value in node.value:
            if _key_matches(loader, key, part, exact):
                return key, value
    return None


def locate(loader: yaml.BaseLoader, root: Node, loc: tuple,
           skip: tuple = ()) -> tuple[int, str | None]:
    """The line of a validation error's location path (`("requests", 2, "max_tokens")`) in
    the node tree, and its dotted field name (keys as written in the file); parts in
    `skip` (union tags) are not keys."""
    node: Node | None = root
    line = _line(root)
    parts: list = []
    for part in loc:
        if isinstance(node, MappingNode):
            match = _mapping_entry(loader, node, part)
            if match is not None:
                line = _line(match[0])
                node = match[1]
                parts.append(match[0].value)
                continue
            if isinstance(part, str) and part in skip:
                continue
            parts.append(part)  # a missing key: keep the mapping's line
            node = None
        elif (isinstance(node, SequenceNode) and isinstance(part, int)
              and 0 <= part < len(node.value)):
            node = node.value[part]
            line = _line(node)
            parts.append(part)
        else:
            if not (isinstance(part, str) and part in skip):
                parts.append(part)
            node = None
    return line, field_name(parts)


def _line_text(text: str, line: int) -> str:
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:] if end < 0 else text[start:end]


def _detail(problem: str, text: str, mark) -> str:
    """libyaml's messages leave out the character or alias at fault; add them back."""
    if mark is None or not text:
        return problem
    rest = _line_text(text, mark.line)[mark.column:]
    if problem == "found character that cannot start any token" and rest:
        return f"found character {rest[0]!r} that cannot start any token"
    alias = _ALIAS_NAME.match(rest)
    if problem == "found undefined alias" and alias:
        return f"found undefined alias {echo(alias.group(1))}"
    return problem


def yaml_error(e: yaml.YAMLError, text: str, source: str | None,
               libyaml: bool) -> ScenarioError:
    """A PyYAML error as ScenarioError, on the line it points at."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = _detail(e.problem, text, e.problem_mark) if (libyaml and e.problem) \
            else e.problem
        if "maximum nesting depth" in str(problem):
            return _too_deep(line, None, source)
        message = "; ".join(str(m) for m in (e.context, problem) if m)
        kind = "YAML error" if isinstance(e, yaml.constructor.ConstructorError) \
            else "YAML syntax error"
        return ScenarioError(f"{kind}: {message or e}", source, line)
    if isinstance(e, yaml.reader.ReaderError):
        line = None
        if isinstance(e.position, int):  # libyaml counts UTF-8 bytes, PyYAML characters
            before = (text.encode("utf-8", "surrogatepass")[:e.position] if libyaml
                      else text[:e.position])
            line = before.count(b"\n" if libyaml else "\n") + 1
        reason = e.reason
        if reason == "control characters are not allowed":  # libyaml's words for PyYAML's
            reason = "special characters are not allowed"
        return ScenarioError(f"YAML syntax error: unacceptable character #x{e.character:04x}: "
                             f"{reason}", source, line)
    return ScenarioError(f"YAML syntax error: {e}", source)
