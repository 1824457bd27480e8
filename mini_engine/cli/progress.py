"""The progress bar long commands show on stderr, recording a source under one, and
reading a run's steps while it is recorded (so `run` prints as it goes)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from mini_engine.errors import MiniEngineError
from mini_engine.files.write import safe_text
from mini_engine.recording.store import Recording
from mini_engine.sources import RECORD_BATCH, Source

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
            task = bar.add_task(safe_text(label), total=total)
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
    # markup=False: a scenario named "[/x]" is a name, not rich markup.
    columns = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
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


def recorded_steps(source: Source, until: int | None = None,
                   update: Callable[[int], None] | None = None) -> tuple[Recording, Iterator[int]]:
    """The run's recording and its step numbers 1, 2, ... (at most `until`), each yielded
    as soon as it is recorded: a scenario is recorded RECORD_BATCH steps at a time as the
    steps are read (calling `update(steps_recorded)`), so what reads them can print the
    first steps of a long run at once. A MiniEngineError while recording (the step
    limit) is raised once the steps recorded before it have been read. A loaded
    recording is read as it is."""
    if source.is_recording:
        rec = source.loaded
        last = rec.num_steps if until is None else min(until, rec.num_steps)
        return rec, iter(range(1, last + 1))
    from mini_engine.recording.recorder import Recorder
    recorder = Recorder(source.scenario, until)
    rec = recorder.recording

    def steps() -> Iterator[int]:
        step, error = 1, None
        while until is None or step <= until:
            while step > rec.num_steps:
                if recorder.done or error is not None:
                    if error is not None:
                        raise error  # after every step recorded before it was read
                    return
                left = RECORD_BATCH if until is None else min(RECORD_BATCH, until - rec.num_steps)
                try:
                    recorder.advance(left)
                except MiniEngineError as e:  # the step limit, a failing model
                    error = e
                if update is not None:
                    update(rec.num_steps)
            yield step
            step += 1

    return rec, steps()
