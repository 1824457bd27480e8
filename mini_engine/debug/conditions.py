"""Breakpoint conditions: a tiny, safe expression language over a step's state (never `eval`).

    kv_cache_usage > 0.9          waiting > 5 and running < 3
    req-3.status == RUNNING       not (step < 10) or preemptions >= 2

Grammar: `or` / `and` / `not`, parentheses, one comparison (== != < <= > >=)
between operands; an operand is a number, a quoted string, or a dotted name.
Names may contain `-` (request ids do), so there is no arithmetic. A bare name
that the resolver doesn't know (e.g. RUNNING) is read as a string literal.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Union

from mini_engine.errors import MiniEngineError

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<num>-?\d+(?:\.\d+)?(?![\w.-]))
    | (?P<str>"[^"]*"|'[^']*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\))
    | (?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
    )""", re.VERBOSE)

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_KEYWORDS = {"and", "or", "not", "true", "false"}


class ConditionError(MiniEngineError, ValueError):
    """A condition that doesn't parse, with the column where it went wrong."""

    title = "Invalid condition"

    def __init__(self, text: str, position: int, message: str) -> None:
        super().__init__(f"{message} at column {position + 1}: {text}")
        self.text, self.position, self.message = text, position, message


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Name:
    path: tuple[str, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    operand: "Node"


Node = Union[Literal, Name, Compare, BoolOp, Not]
Resolver = Callable[[tuple[str, ...]], Any]  # raises KeyError for an unknown name


class _MISSING:
    pass


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ConditionError(text, pos + len(text[pos:]) - len(text[pos:].lstrip()),
                                 "unexpected character")
        kind = m.lastgroup
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i = text, _tokenize(text), 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def accept(self, value: str) -> bool:
        tok = self.peek()
        if tok and tok[1] == value and tok[0] in ("op", "name"):
            self.i += 1
            return True
        return False

    def fail(self, message: str) -> ConditionError:
        tok = self.peek()
        return ConditionError(self.text, tok[2] if tok else len(self.text), message)

    def parse(self) -> Node:
        if not self.tokens:
            raise ConditionError(self.text, 0, "empty condition")
        node = self.or_expr()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.accept("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.accept("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def not_expr(self) -> Node:
        if self.accept("not"):
            return Not(self.not_expr())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in _COMPARE:
            self.i += 1
            return Compare(tok[1], left, self.operand())
        return left

    def operand(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.fail("expected a value")
        kind, value, _ = tok
        if value == "(":
            self.i += 1
            node = self.or_expr()
            if not self.accept(")"):
                raise self.fail("expected ')'")
            return node
        self.i += 1
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind == "str":
            return Literal(value[1:-1])
        if kind == "name" and value in ("true", "false"):
            return Literal(value == "true")
        if kind == "name" and value not in _KEYWORDS:
            return Name(tuple(value.split(".")))
        self.i -= 1
        raise self.fail(f"unexpected {value!r}")


def parse_condition(text: str) -> Node:
    """Parse once, evaluate at every step."""
    return _Parser(text).parse()


def evaluate(node: Node, resolve: Resolver) -> Any:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        try:
            return resolve(node.path)
        except KeyError:
            if len(node.path) == 1:
                return node.path[0]  # a bare word: RUNNING, fcfs, ...
            return _MISSING  # e.g. a request that hasn't arrived: compares unequal
    if isinstance(node, Not):
        return not evaluate(node.operand, resolve)
    if isinstance(node, BoolOp):
        values = (evaluate(n, resolve) for n in node.operands)
        return all(values) if node.op == "and" else any(values)
    left, right = evaluate(node.left, resolve), evaluate(node.right, resolve)
    if left is _MISSING or right is _MISSING:
        return node.op == "!="
    try:
        return _COMPARE[node.op](left, right)
    except TypeError:
        return False


def names_in(node: Node) -> list[tuple[str, ...]]:
    """Every dotted name the condition reads (to validate against known fields)."""
    if isinstance(node, Name):
        return [node.path]
    if isinstance(node, Not):
        return names_in(node.operand)
    if isinstance(node, BoolOp):
        return [p for n in node.operands for p in names_in(n)]
    if isinstance(node, Compare):
        return names_in(node.left) + names_in(node.right)
    return []
