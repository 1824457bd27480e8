"""The progress bar long commands show on stderr, and recording a source under one."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from mini_engine.recording.store import Recording
from mini_engine.sources import Source

PROGRESS_DELAY = 0.5  # seconds before a progress bar appears


@contextmanager
def progress(label: str, total: int | None = None,
             enabled: bool | None = None) -> Iterator[Callable[[int], None]]:
    """A transient rich progress bar on stderr, shown only when stderr is a terminal and
    the work has taken more than PROGRESS_DELAY seconds. Yields `update(completed)`."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    start = time.monotonic()
    bar = None
    task = None

    def update(completed: int) -> None:
        nonlocal bar, task
        if not enabled:
            return
        if bar is None:
            if time.monotonic() - start < PROGRESS_DELAY:
                return
            bar = _start_bar(total)
            task = bar.add_task(label, total=total)
        bar.update(task, completed=completed if not total else min(completed, total))

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


def _start_bar(total: int | None):
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)
    columns = [SpinnerColumn(), TextColumn("{task.description}")]
    if total:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed} steps")]
    columns.append(TimeElapsedColumn())
    bar = Progress(*columns, console=Console(stderr=True), transient=True)
    bar.start()
    return bar


def record_with_progress(source: Source, until: int | None = None,
                         label: str | None = None) -> Recording:
    """A source's recording (a scenario is recorded now, up to `until` steps), with a bar."""
    with progress(label or f"recording {source.name}", source.expected_steps(until)) as update:
        return source.recording(until, update)
