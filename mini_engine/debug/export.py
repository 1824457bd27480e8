"""Writing a debug session's recording to a file the user names (the debugger's exports).

`export_recording(recording, kind, path, force=False)` writes through
`mini_engine.files.write.atomic_write`: all or nothing (a failed export leaves no half
file and no temporary file), never through a symlink, and never over an existing file
unless `force` (else `OutputExistsError`: the debugger asks, then retries with
force=True); a missing or read-only directory is refused with one line.

`suggested_file_name(name, kind)` is what an export prompt offers: the scenario's name
(user data) reduced to a safe basename, so that accepting the suggestion writes in the
working directory whatever the name says (`../../../x` -> `x.jsonl`).
"""

from __future__ import annotations

import os
import re

from mini_engine.files.write import OutputExistsError, OutputFileError, atomic_write

EXPORT_SUFFIXES = {"jsonl": ".jsonl", "perfetto": ".perfetto.json"}
MAX_STEM_CHARS = 80  # a suggested name's length before the suffix
DEFAULT_STEM = "recording"  # when nothing of the name is left
_UNSAFE_RUN = re.compile(r"[^\w.-]+")  # path separators, blanks, control characters, quotes


def suggested_file_name(name: str, kind: str) -> str:
    """`name` as a file name in the working directory: runs of anything but letters,
    digits, `.`, `_` and `-` become `_`; leading and trailing `.`, `_`, `-` go (no
    hidden file, no `..`, no option-like `-x`); at most MAX_STEM_CHARS before the suffix."""
    stem = _UNSAFE_RUN.sub("_", str(name)).strip("._-")[:MAX_STEM_CHARS].rstrip("._-")
    return (stem or DEFAULT_STEM) + EXPORT_SUFFIXES[kind]


def export_recording(recording, kind: str, path: str | os.PathLike, *,
                     force: bool = False) -> None:
    """Write `recording` as kind "jsonl" (replayable) or "perfetto" (a trace for
    ui.perfetto.dev) to `path`, atomically. Raises OutputExistsError for an existing file
    without `force`, OutputFileError (one line naming the file) for any other refusal."""
    if kind == "jsonl":
        from mini_engine.recording.jsonl import save_jsonl as write
    elif kind == "perfetto":
        from mini_engine.exports.perfetto import write_perfetto as write
    else:
        raise ValueError(f"unknown export kind {kind!r}")
    with atomic_write(path, force=force) as f:
        write(recording, f)


__all__ = ["EXPORT_SUFFIXES", "OutputExistsError", "OutputFileError", "export_recording",
           "suggested_file_name"]
