"""Breakpoint conditions: a tiny, safe expression language over a step's state (never `eval`).

    kv_cache_usage > 0.9          waiting > 5 and running < 3
    req-3.status == RUNNING       not (step < 10) or preemptions >= 2

Grammar: `or` / `and` / `not`, parentheses, one comparison (== != < <= > >=)
between operands; an operand is a number (`90%` is 0.9), a quoted string, or a
dotted name. Names may contain `-` (request ids do), so there is no arithmetic.
`check_condition` checks the names against a `Vocabulary`: bare value words
(RUNNING, a request id) become string literals, any other unknown name is an error
with a did-you-mean, and a literal a field never reaches is a warning. (`evaluate`
alone still reads a bare name its resolver doesn't know as a string.)

Limits (a condition is typed by a person and evaluated at every step, so anything
beyond them is refused with a `ConditionError` naming the column):

    MAX_CONDITION_CHARS = 500   characters in one condition
    MAX_DEPTH = 32              nesting of parentheses and `not`
    MAX_NUMBER_DIGITS = 30      digits in one number (before and after the point)

Parsing takes time linear in the length (the tokenizer never copies the rest of the
text; `and`/`or` chains are flat lists), and recursion is bounded by MAX_DEPTH, so
`evaluate` and `names_in` recurse at most a few frames per nesting level. An error
quotes at most ERROR_EXCERPT_CHARS characters of the condition, with control
characters escaped: it is always one printable line.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable, Union

from mini_engine.errors import MiniEngineError
from mini_engine.files.write import safe_text

MAX_CONDITION_CHARS = 500
MAX_DEPTH = 32
MAX_NUMBER_DIGITS = 30
ERROR_EXCERPT_CHARS = 60

_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(r"""
      (?P<num>-?\d+(?:\.\d+)?%?(?![\w.%-]))
    | (?P<str>"[^"]*"|'[^']*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\))
    | (?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
    """, re.VERBOSE)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_KEYWORDS = {"and", "or", "not", "true", "false"}


def excerpt(text: str, position: int, width: int = ERROR_EXCERPT_CHARS) -> str:
    """At most `width` characters of `text` around `position` (`...` where cut), printable."""
    if len(text) > width:
        start = max(0, min(position - width // 2, len(text) - width))
        cut = text[start:start + width]
        text = ("..." if start > 0 else "") + cut + ("..." if start + width < len(text) else "")
    return safe_text(text)


class ConditionError(MiniEngineError, ValueError):
    """A condition that doesn't parse, with the column where it went wrong."""

    title = "Invalid condition"

    def __init__(self, text: str, position: int, message: str) -> None:
        quoted = f": {excerpt(text, position)}" if text.strip() else ""
        super().__init__(f"{message} at column {position + 1}{quoted}")
        self.text, self.position, self.message = text, position, message


@dataclass(frozen=True)
class Literal:
    value: Any
    percent: bool = False  # written `90%` (value 0.9): only fractions take one


@dataclass(frozen=True)
class Name:
    path: tuple[str, ...]
    position: int = field(default=-1, compare=False)  # its column, for errors


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
    """(kind, text, column) per token; each regex match starts where the last one ended."""
    tokens = []
    pos, end = _SPACE.match(text).end(), len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConditionError(text, pos, "unexpected character")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "num":
            digits = len(value.rstrip("%")) - value.startswith("-") - ("." in value)
            if digits > MAX_NUMBER_DIGITS:
                raise ConditionError(text, pos, f"number too long ({digits} digits; at most "
                                                f"{MAX_NUMBER_DIGITS})")
        tokens.append((kind, value, pos))
        pos = _SPACE.match(text, m.end()).end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_CONDITION_CHARS:
            raise ConditionError(text, MAX_CONDITION_CHARS,
                                 f"condition too long ({len(text)} characters; at most "
                                 f"{MAX_CONDITION_CHARS})")
        self.text, self.tokens, self.i = text, _tokenize(text), 0
        self.depth = 0  # open parentheses and `not`s around the current token

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

    def nest(self) -> None:
        """Enter a parenthesis or a `not` (the token at `self.i`), refusing deep nesting."""
        if self.depth >= MAX_DEPTH:
            raise self.fail(f"nested too deeply (at most {MAX_DEPTH} levels of parentheses "
                            f"and 'not')")
        self.depth += 1

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
        nots = 0
        while self.peek() is not None and self.peek()[1] == "not" and self.peek()[0] == "name":
            self.nest()
            self.i += 1
            nots += 1
        node = self.comparison()
        self.depth -= nots
        for _ in range(nots):
            node = Not(node)
        return node

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
        if value == "(" and kind == "op":
            self.nest()
            self.i += 1
            node = self.or_expr()
            if not self.accept(")"):
                raise self.fail("expected ')'")
            self.depth -= 1
            return node
        self.i += 1
        if kind == "num" and value.endswith("%"):
            return Literal(float(value[:-1]) / 100, percent=True)
        if kind == "num":
            return Literal(float(value) if "." in value else int(value))
        if kind == "str":
            return Literal(value[1:-1])
        if kind == "name" and value in ("true", "false"):
            return Literal(value == "true")
        if kind == "name" and value not in _KEYWORDS:
            return Name(tuple(value.split(".")), tok[2])
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


# ---------------------------------------------------------------------- checking names

@dataclass(frozen=True)
class FieldInfo:
    """What a name reads, to catch conditions that can never hold (a typo, 90 for 0.9)."""

    kind: str = "number"  # "number" | "text"
    low: float | None = None
    high: float | None = None
    fraction: bool = False  # 0..1, which the screen shows as a percent
    values: tuple[str, ...] = ()  # every value a text field takes


@dataclass(frozen=True)
class Vocabulary:
    """The names a condition may use: `names` alone, `<record>.<field>` for each record,
    and bare words that stand for themselves (statuses, request ids)."""

    names: dict[str, FieldInfo]
    fields: dict[str, FieldInfo]
    records: Collection[str] = ()
    values: Collection[str] = ()


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`; did you mean x?` for the closest candidate (difflib), or nothing."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def check_condition(text: str, vocabulary: Vocabulary) -> tuple[Node, tuple[str, ...]]:
    """Parse `text` and check every name against `vocabulary`: an unknown name is a
    ConditionError with a did-you-mean; a literal that a field never reaches (usage 90,
    a status 'RUNNIG' in quotes) is a warning (the condition is still usable). Bare
    value words become literals, so evaluation never guesses."""
    checker = _Checker(text, vocabulary)
    return checker.node(parse_condition(text)), tuple(checker.warnings)


class _Checker:
    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text, self.vocab, self.warnings = text, vocabulary, []

    def node(self, node: Node) -> Node:
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Not):
            return Not(self.node(node.operand))
        if isinstance(node, BoolOp):
            return BoolOp(node.op, tuple(self.node(n) for n in node.operands))
        if isinstance(node, Compare):
            left, right = self.node(node.left), self.node(node.right)
            self.compare(left, right)
            self.compare(right, left)
            return Compare(node.op, left, right)
        return node

    def fail(self, name: Name, message: str) -> ConditionError:
        return ConditionError(self.text, max(name.position, 0), message)

    def name(self, name: Name) -> Node:
        vocab, path = self.vocab, name.path
        if len(path) == 1:
            word = path[0]
            if word in vocab.names:
                return name
            if word in vocab.values:
                return Literal(word)
            known = list(vocab.names) + list(vocab.values)
            raise self.fail(name, f"unknown name {word!r}{did_you_mean(word, known)}")
        record, fld = path[0], ".".join(path[1:])
        if len(path) != 2 or record in vocab.names:
            raise self.fail(name, f"{'.'.join(path)}: use <request id>.<field>")
        if record not in vocab.records:
            raise self.fail(name, f"unknown request {record!r}"
                                  f"{did_you_mean(record, vocab.records)}")
        if fld not in vocab.fields:
            raise self.fail(name, f"unknown field {fld!r}{did_you_mean(fld, vocab.fields)} "
                                  f"(fields: {', '.join(vocab.fields)})")
        return name

    def info(self, node: Node) -> tuple[str, FieldInfo] | None:
        if not isinstance(node, Name):
            return None
        if len(node.path) == 1:
            return node.path[0], self.vocab.names[node.path[0]]
        return ".".join(node.path), self.vocab.fields[node.path[1]]

    def compare(self, side: Node, other: Node) -> None:
        """Warn when `side` (a field) is compared with a literal it never equals or reaches."""
        found = self.info(side)
        if found is None or not isinstance(other, Literal) or isinstance(other.value, bool):
            return
        name, info = found
        value = other.value
        if other.percent and not info.fraction:
            raise ConditionError(self.text, max(side.position, 0),
                                 f"{name} is not a fraction: a percent such as "
                                 f"{_number(value * 100)}% only applies to 0..1 fields")
        if info.kind == "text":
            if not isinstance(value, str):
                self.warnings.append(f"{name} is text: it never equals the number "
                                     f"{_number(value)}")
            elif info.values and value not in info.values:
                self.warnings.append(f"{name} is never {value!r}{did_you_mean(value, info.values)}")
            return
        if isinstance(value, str):
            self.warnings.append(f"{name} is a number: it never equals the text {value!r}")
        elif ((info.low is not None and value < info.low)
              or (info.high is not None and value > info.high)):
            span = f"{_number(info.low)}..{_number(info.high)}" if info.high is not None \
                else f">= {_number(info.low)}"
            hint = (f"; the screen shows percent: write {_number(value)}% or "
                    f"{_number(value / 100)}" if info.fraction and 1 < value <= 100 else "")
            self.warnings.append(f"{name} is {span}, so {_number(value)} is out of range{hint}")


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


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
