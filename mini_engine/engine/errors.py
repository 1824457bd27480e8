"""`MiniEngineError`: the base of every error mini_engine shows to a user.

It lives in engine/ because the engine imports nothing above it and its `ConfigError`
must derive from it too (`except MiniEngineError` needs a real base class: the
`except` clause ignores ABC registration). Everything else imports it through
`mini_engine.errors`, which also names all the subclasses.

An error says where (`path`, 1-based `line`, dotted `field`) and what (`message`);
`str()` is one line, `path:line: field: message`, leaving out the parts that are None.
"""

from __future__ import annotations

import os
import re

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def join_lines(text: str) -> str:
    """`text` on one line: each line break (and the blanks around it) becomes one space."""
    return _LINE_BREAKS.sub(" ", text).strip() if ("\n" in text or "\r" in text) else text


class MiniEngineError(Exception):
    """Bad user input (a file, a setting, a breakpoint, a command line), meant to be shown
    as one line, never as a traceback. `title` names the kind for dialogs (as harlequin's
    `HarlequinError.title`)."""

    title = "Error"
    # What `where` says when there is no path; a subclass reading text sets e.g. "<string>".
    unnamed_source: str | None = None

    def __init__(self, message: object, path: str | os.PathLike | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        self.message = join_lines(str(message))
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        super().__init__(self._format())

    @property
    def where(self) -> str | None:
        """`path:line` (or `path`, or `line N`), None when the error points at no input."""
        where = self.path or self.unnamed_source
        if self.line is None:
            return where
        return f"{where}:{self.line}" if where else f"line {self.line}"

    def _format(self) -> str:
        parts = [self.where, self.field or None, self.message]
        return ": ".join(p for p in parts if p is not None)

    def one_line(self) -> str:
        """The error as the CLI prints it and a dialog shows it: `str()` with every run of
        blanks as one space."""
        return " ".join(str(self).split())


class ArgumentError(MiniEngineError, ValueError):
    """A bad argument to the engine's API (SamplingParams, add_request, a model's settings).

    A ValueError, as vLLM raises; `argument` names the argument and the message starts
    with its name ("max_tokens must be at least 1, got 0").
    """

    title = "Invalid argument"

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


class ArgumentTypeError(ArgumentError, TypeError):
    """An argument of the wrong type (`seed=1.5`, `priority="high"`): a TypeError, and also an
    ArgumentError (a ValueError) so that callers catching bad values catch it too."""


class ModelError(MiniEngineError, RuntimeError):
    """The pluggable model failed during `LLMEngine.step()`: it raised, or returned something
    that is not one in-vocabulary token id per request.

    The step is undone before this is raised (the engine is exactly as before it, so the
    next `step()` can run); `request_ids` are the requests the model was asked about, and
    `request_id` the one whose token was wrong (None when the whole answer was).
    """

    title = "Model error"

    def __init__(self, message: str, request_ids: tuple[str, ...] = (),
                 request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_ids = tuple(request_ids)
        self.request_id = request_id
