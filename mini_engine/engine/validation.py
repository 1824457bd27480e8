"""Argument checks shared by the engine's boundaries (EngineConfig, SamplingParams, add_request).

Each check returns the value normalized (a numpy integer becomes an `int`) or raises an
error naming the argument: a TypeError for a wrong type, a ValueError for a value out of
range (with the bound in the message). The caller chooses the error classes, so that
`EngineConfig` raises its `ConfigError` and the rest `ArgumentError` (engine/errors.py).
Booleans are never integers here (`True` is not a token count), and floats never pass
as integers (`1.5` is not a seed), whatever Python's numeric tower says.
"""

from __future__ import annotations

import math
import numbers
import reprlib
from typing import Callable

from mini_engine.engine.errors import ArgumentError, ArgumentTypeError

# (argument name, message) -> the exception to raise
ErrorFactory = Callable[[str, str], Exception]


def argument_error(name: str, message: str) -> Exception:
    return ArgumentError(name, f"{name} {message}")


def argument_type_error(name: str, message: str) -> Exception:
    return ArgumentTypeError(name, f"{name} {message}")


def is_int(value: object) -> bool:
    """An integer that is not a bool (Python ints and numpy integers)."""
    return type(value) is int or (isinstance(value, numbers.Integral)
                                  and not isinstance(value, bool))


def check_int(name: str, value: object, lo: int, hi: int, *,
              value_error: ErrorFactory = argument_error,
              type_error: ErrorFactory = argument_type_error,
              what: str = "an integer") -> int:
    """`value` as an int in [lo, hi], else an error naming `name` and the range."""
    if not is_int(value):
        raise type_error(name, f"must be {what}, got {shown(value)} ({type(value).__name__})")
    value = int(value)
    if not lo <= value <= hi:
        raise value_error(name, f"must be between {lo} and {hi}, got {shown(value)}")
    return value


def check_bool(name: str, value: object, *,
               type_error: ErrorFactory = argument_type_error) -> bool:
    if not isinstance(value, bool):
        raise type_error(name, f"must be True or False, got {shown(value)} "
                               f"({type(value).__name__})")
    return value


def check_real(name: str, value: object, *,
               value_error: ErrorFactory = argument_error,
               type_error: ErrorFactory = argument_type_error) -> float:
    """A finite real number (int or float, not bool) as a float."""
    if type(value) is float and math.isfinite(value):
        return value
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise type_error(name, f"must be a number, got {shown(value)} ({type(value).__name__})")
    try:
        result = float(value)
    except OverflowError:
        raise value_error(name, f"must be a finite number, got {shown(value)}") from None
    if not math.isfinite(result):
        raise value_error(name, f"must be a finite number, got {shown(value)}")
    return result


def shown(value: object) -> str:
    """`value` for a one-line message, never long: a 5,000-digit integer is shown by its size
    (its repr would be long, and above 4,300 digits raises), anything else abbreviated."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 30:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"{'-' if value < 0 else ''}an integer of about {digits} digits"
    return _REPR.repr(value)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
