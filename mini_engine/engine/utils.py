"""`ConstantList`: a read-only view of a list that its owner keeps mutating (vllm/v1/utils.py).

`Request` hands these out for its token lists so nothing outside request.py can
append to them behind its counters' back. Reading goes through the view (a
slice returns a plain list copy, as vLLM's does); every mutating method raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import Generic, Iterator, TypeVar, overload

T = TypeVar("T")


class ConstantList(Sequence, Generic[T]):
    """A live, read-only view of `x[start:]` (start 0: the whole list)."""

    __slots__ = ("_x", "_start")

    def __init__(self, x: list[T], start: int = 0) -> None:
        self._x = x
        self._start = start

    @overload
    def __getitem__(self, item: int) -> T: ...

    @overload
    def __getitem__(self, item: slice) -> list[T]: ...

    def __getitem__(self, item):
        if self._start:
            return self._x[self._start:][item]
        return self._x[item]

    def __len__(self) -> int:
        return len(self._x) - self._start

    def __iter__(self) -> Iterator[T]:
        return islice(self._x, self._start, None) if self._start else iter(self._x)

    def __contains__(self, item: object) -> bool:
        return item in self.copy()

    def copy(self) -> list[T]:
        return self._x[self._start:]

    def __eq__(self, other: object) -> bool:
        # Equal to a list (or view) with the same items, as the list itself would be.
        if isinstance(other, ConstantList):
            other = other.copy()
        return self.copy() == other

    __hash__ = None  # type: ignore[assignment]  (mutable underneath)

    def __repr__(self) -> str:
        return f"ConstantList({self.copy()!r})"

    def _read_only(self, *args, **kwargs):
        raise TypeError("this token list is read-only: the Request appends through its own methods")

    append = extend = insert = pop = remove = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = _read_only
