"""Play pacing: which step play should show now, so the speed shown is the speed reached.

A timer ticks at the chosen speed, but a tick comes late when a step's redraw takes
longer than the tick; moving one step per tick then plays slower than the header says
(issue 9, defect 11: 12 steps/s under "64/s"). The pacer counts steps due since play
started from a clock and lets a late tick move several steps (at most MAX_PLAY_STRIDE:
after a long stall play goes on from where it is rather than racing to catch up).
"""

from __future__ import annotations

import time
from typing import Callable

MAX_PLAY_STRIDE = 16


class PlayPacer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._t0, self._s0, self._last = 0.0, 0, 0  # play counts from (t0, s0); last target

    def start(self, step: int) -> None:
        self._t0, self._s0, self._last = self.clock(), step, step

    def target(self, cursor: int, last_step: int, speed: int) -> int:
        """The step to show at this tick (at least cursor + 1, at most last_step)."""
        now = self.clock()
        if cursor != self._last:  # the user moved meanwhile: count from here
            self._t0, self._s0 = now, cursor
        due = self._s0 + int((now - self._t0) * speed)
        target = min(last_step, cursor + MAX_PLAY_STRIDE, max(cursor + 1, due))
        if due > target:
            self._t0, self._s0 = now, target
        self._last = target
        return target
