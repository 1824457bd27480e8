"""Opening a user's file for reading without hanging, without reading without end, and
with errors that name the file on one printable line.

    with open_input(path, what="a recording", max_bytes=LIMIT) as f: ...   # a binary file
    text = read_text(path, what="a scenario", max_bytes=LIMIT)             # decoded UTF-8
    display_name(path)                                                     # for any message

Only regular files are read: a FIFO would block `open()` until a writer comes (forever),
and a device like /dev/zero never ends. The path is judged by `os.stat` (symlinks are
followed, so a link named x.yaml to /dev/zero is a character device) before it is
opened, then opened with O_NONBLOCK and judged again by `fstat` on the descriptor (the
file may have been swapped in between). A file above `max_bytes` is refused before a
byte is read, and the returned file object never yields more than `max_bytes` (a file
growing while it is read raises `InputFileError`).

Every error is an `InputFileError` (a `MiniEngineError`), one line: `NAME: what went wrong`,
with NAME from `display_name` (control characters, line breaks and undecodable bytes
escaped, long paths shortened in the middle).
"""

from __future__ import annotations

import errno
import io
import os
import stat
from typing import BinaryIO

from mini_engine.errors import MiniEngineError
from mini_engine.files.text import printable

__all__ = ["InputFileError", "display_name", "format_size", "open_input", "printable",
           "read_text"]

MAX_DISPLAY_CHARS = 200  # display_name shortens longer paths (an ellipsis in the middle)
MB = 1024 * 1024
_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)
_OS_REASONS = {
    errno.ENOENT: "no such file",
    errno.ENAMETOOLONG: "file name too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "too many levels of symbolic links",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EISDIR: "is a directory",
}


def display_name(path: str | bytes | os.PathLike | None) -> str:
    """`path` as one printable line for a message: control characters and line breaks as
    escapes (`\\n`, `\\x1b`), bytes that are not UTF-8 as `\\xNN`, other unprintable
    characters as `\\uNNNN`, and a path over MAX_DISPLAY_CHARS characters shortened with
    `...` in the middle. Idempotent: a displayed name displays as itself. `''` for empty."""
    if path is None:
        return "''"
    try:
        raw = os.fspath(path)
    except TypeError:
        raw = str(path)
    text = os.fsdecode(raw) if isinstance(raw, bytes) else str(raw)
    return printable(text, MAX_DISPLAY_CHARS) if text else "''"


def format_size(num_bytes: int) -> str:
    """A size for a message: `17.2 MB` (MB = 2**20 bytes), `16 MB`, `900 KB`, `12 bytes`."""
    for unit, scale in (("GB", 1024 * MB), ("MB", MB), ("KB", 1024)):
        if num_bytes >= scale:
            value = f"{num_bytes / scale:.1f}"
            return f"{value.removesuffix('.0')} {unit}"
    return f"{num_bytes} bytes"


class InputFileError(MiniEngineError):
    """A file that cannot be read as input: missing, not a regular file, too large, not
    UTF-8, or an OS error. `path` is the displayed name (one printable line); the path as
    given is kept in `filename`."""

    title = "Cannot read file"

    def __init__(self, message: object, path: str | bytes | os.PathLike | None = None,
                 line: int | None = None, field: str | None = None) -> None:
        self.filename = path
        super().__init__(message, display_name(path), line, field)


def _limit_message(size: int, max_bytes: int, what: str) -> str:
    shown, limit = format_size(size), format_size(max_bytes)
    if shown == limit:  # just over the limit: rounded, they would read the same
        shown, limit = f"{size} bytes", f"{limit} ({max_bytes} bytes)"
    return f"{shown} is over the {limit} limit for {what}"


def _check_regular(mode: int, what: str) -> str | None:
    for test, reason in _NOT_REGULAR:
        if test(mode):
            return f"{reason}, not a regular file; {what} must be a regular file"
    if not stat.S_ISREG(mode):
        return f"is not a regular file; {what} must be a regular file"
    return None


def _os_reason(error: OSError) -> str:
    reason = _OS_REASONS.get(error.errno)
    if reason is None:
        reason = " ".join(str(error.strerror or error).split()) or type(error).__name__
        reason = reason[:1].lower() + reason[1:]
    return f"cannot read: {reason}" if error.errno not in (errno.ENOENT,) else reason


class _BoundedReader(io.RawIOBase):
    """A raw file that raises InputFileError instead of yielding more than `max_bytes`."""

    def __init__(self, raw: io.FileIO, path, what: str, max_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self._path = path
        self._what = what
        self._left = max_bytes
        self._max = max_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        view = memoryview(buffer)
        want = min(len(view), self._left + 1)
        try:
            n = self._raw.readinto(view[:want]) or 0
        except OSError as e:
            raise InputFileError(_os_reason(e), self._path) from None
        if n > self._left:
            raise InputFileError(f"grew while being read, past the {format_size(self._max)} "
                                 f"limit for {self._what}", self._path)
        self._left -= n
        return n

    def fileno(self) -> int:
        return self._raw.fileno()

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_input(path: str | bytes | os.PathLike, *, what: str, max_bytes: int) -> BinaryIO:
    """Open a user's file for reading, safely: an empty path, a missing file, a directory
    and anything that is not a regular file (FIFO, device, socket; symlinks judged by their
    target) are refused without blocking; so is a file above `max_bytes`, with the limit in
    the message (`what` names the kind: "a scenario"). OS errors become one line naming
    the file. The returned binary file never yields more than `max_bytes`."""
    try:
        raw_path = os.fspath(path)
    except TypeError:
        raise InputFileError(f"expected a file name, got {type(path).__name__}", str(path)) \
            from None
    if not raw_path:
        raise InputFileError(f"empty file name: give the path of {what}", raw_path)
    if "\x00" in (raw_path if isinstance(raw_path, str) else raw_path.decode("latin-1")):
        raise InputFileError("file name contains a NUL character", raw_path)
    try:
        reason = _check_regular(os.stat(raw_path).st_mode, what)
    except OSError as e:
        raise InputFileError(_os_reason(e), raw_path) from None
    except ValueError as e:  # e.g. a path the platform cannot encode
        raise InputFileError(f"cannot read: {e}", raw_path) from None
    if reason is not None:
        raise InputFileError(reason, raw_path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(raw_path, flags)
    except OSError as e:
        raise InputFileError(_os_reason(e), raw_path) from None
    try:
        info = os.fstat(fd)
        reason = _check_regular(info.st_mode, what)
        if reason is not None:
            raise InputFileError(reason, raw_path)
        if info.st_size > max_bytes:
            raise InputFileError(_limit_message(info.st_size, max_bytes, what), raw_path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        raw = io.FileIO(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(_BoundedReader(raw, raw_path, what, max_bytes))


def read_text(path: str | bytes | os.PathLike, *, what: str, max_bytes: int) -> str:
    """The whole file (see `open_input`) decoded as UTF-8, a leading byte-order mark
    dropped; bytes that are not UTF-8 raise InputFileError with their line and offset."""
    with open_input(path, what=what, max_bytes=max_bytes) as f:
        try:
            data = f.read()
        except OSError as e:
            raise InputFileError(_os_reason(e), path) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputFileError(f"not UTF-8 text (invalid byte 0x{data[e.start]:02x} at offset "
                             f"{e.start})", path,
                             data.count(b"\n", 0, e.start) + 1) from None
