"""PyYAML's errors as ScenarioError: one line, on the line the parser points at.

libyaml's messages leave out the character or alias at fault ("found character that
cannot start any token"); they are added back from the text, so both parsers say what
PyYAML's pure-Python one says there.
"""

from __future__ import annotations

import re

import yaml

from mini_engine.scenarios.error import ScenarioError, echo

__all__ = ["yaml_error"]

_ALIAS_NAME = re.compile(r"\*([^\s,\[\]{}]+)")


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


def yaml_error(e: yaml.YAMLError, text: str, source: str | None, libyaml: bool,
               field: str | None = None) -> ScenarioError:
    """A PyYAML error as ScenarioError, on the line it points at."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = _detail(e.problem, text, e.problem_mark) if (libyaml and e.problem) \
            else e.problem
        message = "; ".join(str(m) for m in (e.context, problem) if m)
        kind = "YAML error" if isinstance(e, yaml.constructor.ConstructorError) \
            else "YAML syntax error"
        return ScenarioError(f"{kind}: {message or e}", source, line, field)
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
