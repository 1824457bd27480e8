"""Writing a user's file all-or-nothing, and showing user data on a terminal safely.

`atomic_write(path)` is the one way mini_engine writes a file a user named (exports, the
TUI's save): it refuses targets it must not touch (a directory, a FIFO, a device, a
symlink, a missing or read-only directory, an existing file unless `force=True`), writes
to a fresh temporary file beside the target (`tempfile.mkstemp`: O_CREAT|O_EXCL, never
following a planted link) and moves it into place only when the whole body succeeded.
On any exception, and on SIGTERM or SIGHUP while it writes, the temporary file is
removed, so an interrupted export never leaves half a file or a stray `*.tmp`.

`safe_text(text)` is what every line printed from user data goes through: a scenario
name like "\\x1b]0;PWNED\\x07" must not retitle the terminal, so control characters
are shown escaped (and the text stays on one line).
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import tempfile
import threading
from contextlib import contextmanager
from typing import IO, Iterator

from mini_engine.errors import MiniEngineError
from mini_engine.files.read import display_name
from mini_engine.files.text import safe_json_text, safe_text  # re-exported: the CLI's printers

# Why a write can fail that is about the disk, not a bug: shown as one line.
_WRITE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.ENAMETOOLONG, errno.EIO, errno.EFBIG))
# Signals that end a process politely; while writing, each removes the temporary file.
CLEANUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                        if hasattr(signal, name))


class OutputFileError(MiniEngineError):
    """A file the user asked to write that can't or mustn't be written (one line)."""

    title = "Cannot write file"


class OutputExistsError(OutputFileError):
    """The target is an existing regular file and overwriting was not allowed (a CLI
    passes --force, the TUI asks and retries with force=True)."""


def _refuse(path: str, message: str, cls: type[OutputFileError] = OutputFileError):
    return cls(message, path=display_name(path))


def _os_reason(error: OSError) -> str:
    return error.strerror or os.strerror(error.errno or 0) or type(error).__name__


def check_target(path: str | os.PathLike, *, force: bool = False) -> str:
    """The target as a `str` if it may be written, else OutputFileError (one line naming
    it). Cheap: call it before long work so a bad name fails at once."""
    path = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if not path:
        raise OutputFileError("no file name given (the output path is empty)")
    if path.endswith(("/", os.sep)) or (os.altsep and path.endswith(os.altsep)):
        raise _refuse(path, "names a directory (ends with '/'); give a file name")
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None  # the directory checks below say what is wrong
    except OSError as e:
        raise _refuse(path, _os_reason(e)) from None
    if st is not None:
        _check_existing(path, st, force)
    parent = os.path.dirname(path) or os.curdir
    try:
        parent_st = os.stat(parent)
    except FileNotFoundError:
        raise _refuse(path, f"directory {safe_text(parent)!r} does not exist") from None
    except OSError as e:
        raise _refuse(path, f"directory {safe_text(parent)!r}: {_os_reason(e)}") from None
    if not stat.S_ISDIR(parent_st.st_mode):
        raise _refuse(path, f"{safe_text(parent)!r} is not a directory")
    if _read_only(parent, parent_st, os.W_OK | os.X_OK):
        raise _refuse(path, f"directory {safe_text(parent)!r} is not writable")
    return path


def _read_only(path: str, st: os.stat_result, access: int) -> bool:
    """Not writable by us, or marked read-only for everyone (no w bit: root too respects it)."""
    return not os.access(path, access) or not st.st_mode & 0o222


def _check_existing(path: str, st: os.stat_result, force: bool) -> None:
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise _refuse(path, "is a directory; give a file name")
    if stat.S_ISLNK(mode):
        raise _refuse(path, "is a symbolic link; refusing to write through it or replace it")
    if not stat.S_ISREG(mode):
        raise _refuse(path, "is not a regular file (a FIFO, device or socket); refusing to "
                            "replace it")
    if not force:
        read_only = " and is read-only" if _read_only(path, st, os.W_OK) else ""
        raise _refuse(path, f"already exists{read_only}; refusing to overwrite it "
                            f"(--force overwrites)", OutputExistsError)


def _umask() -> int:
    """The process umask: read from /proc where it can be (setting it to read it back
    would race with other threads creating files), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class _CleanupSignals:
    """While active (main thread only), SIGTERM/SIGHUP raise SystemExit(128 + signal) so
    `finally` blocks run; the previous handlers come back afterwards. An ignored signal
    (nohup) stays ignored."""

    def __init__(self) -> None:
        self.saved: dict[int, object] = {}

    @staticmethod
    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    def __enter__(self) -> "_CleanupSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in CLEANUP_SIGNALS:
                previous = signal.getsignal(signum)
                if previous is not signal.SIG_IGN:
                    self.saved[signum] = signal.signal(signum, self._raise)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self.saved.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back for a few system calls that must happen
    together (create a file and learn its name, move it into place, remove it); one that
    came meanwhile is delivered (and raises) once they are done."""
    deferred = (signal.SIGINT, *CLEANUP_SIGNALS)
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _create_temp(target: str) -> tuple[int, str]:
    """A new 0600 file beside `target` (O_EXCL, so a planted name or link is never used)."""
    parent = os.path.dirname(target) or os.curdir
    try:
        return tempfile.mkstemp(prefix=".mini-engine-", suffix=".tmp", dir=parent)
    except OSError as e:
        raise _refuse(target, f"cannot create a file in {safe_text(parent)!r}: "
                              f"{_os_reason(e)}") from None


def _place(tmp: str, target: str, force: bool) -> None:
    """Move the finished temporary file to `target`. Without force, a hard link makes the
    no-overwrite check atomic (a file that appeared meanwhile is not clobbered)."""
    if not force:
        try:
            os.link(tmp, target, follow_symlinks=False)
            return
        except FileExistsError:
            raise _refuse(target, "already exists; refusing to overwrite it "
                                  "(--force overwrites)", OutputExistsError) from None
        except OSError:
            pass  # no hard links here (FAT, some network file systems): check, then rename
    check_target(target, force=force)
    os.replace(tmp, target)


def _sync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike, *, force: bool = False, mode: str = "w") -> Iterator[IO]:
    """Write a user's file all-or-nothing; yields the open file ("w": UTF-8 text with
    '\\n' line ends, "wb": bytes). Refuses (OutputFileError, one line naming the file) an
    empty path, a path ending in '/', a directory, an existing FIFO, device or symlink
    (never followed), a missing or read-only directory, and an existing regular file
    unless `force` (OutputExistsError). The body writes to a temporary file in the target
    directory (0644 less the umask once done), which replaces the target only if the body
    finished and is removed on any exception, on Ctrl-C, and on SIGTERM/SIGHUP (which then
    exit with 128 + the signal number)."""
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = check_target(path, force=force)
    fd = tmp = None
    with _CleanupSignals():
        try:
            with _signals_deferred():  # a signal raises after, not between, these two
                fd, tmp = _create_temp(target)
            f = (os.fdopen(fd, "w", encoding="utf-8", newline="\n") if mode == "w"
                 else os.fdopen(fd, "wb"))
            fd = None  # f owns it now
            with f:
                yield f
                f.flush()
                os.fchmod(f.fileno(), 0o644 & ~_umask())
                os.fsync(f.fileno())
            with _signals_deferred():
                _place(tmp, target, force)
        except OSError as e:
            # A write error of this file (not, say, the body failing to read its input).
            if e.filename in (None, tmp, target) and e.errno in _WRITE_ERRNOS:
                raise _refuse(target, f"cannot write: {_os_reason(e)}") from None
            raise
        finally:
            with _signals_deferred():
                if fd is not None:
                    os.close(fd)
                if tmp is not None:
                    _remove(tmp)
    _sync_dir(os.path.dirname(target) or os.curdir)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = ["CLEANUP_SIGNALS", "OutputExistsError", "OutputFileError", "atomic_write",
           "check_target", "safe_json_text", "safe_text"]
