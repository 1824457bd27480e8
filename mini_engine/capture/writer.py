"""The capture's file: buffered JSON lines, flushed every FLUSH_EVERY lines and at shutdown.

It runs inside vLLM's EngineCore process, so it must never take the server down: the
first failure to open or write is logged once (logging, never stdout) and the capture
stops; nothing is raised into the caller.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading

logger = logging.getLogger("mini_engine.capture")

FLUSH_EVERY = 64  # lines buffered between two writes to the file


class CaptureWriter:
    """Append-only JSON-lines file; `write` buffers, `flush`/`close` write, errors logged once."""

    def __init__(self, path: str, flush_every: int = FLUSH_EVERY) -> None:
        self.path = path
        self.flush_every = max(1, flush_every)
        self.buffer: list[str] = []
        self.failed = False
        self.closed = False
        self.lock = threading.Lock()
        try:
            self.file = open(path, "w", encoding="utf-8")
        except OSError as e:
            self.file = None
            self.fail(e)
        atexit.register(self.close)

    def fail(self, error: BaseException) -> None:
        if not self.failed:
            logger.error("mini-engine capture: cannot write %s (%s); capture stopped, "
                         "the server goes on", self.path, error)
        self.failed = True
        self.buffer.clear()

    def write(self, obj: dict) -> None:
        """Buffer one line; write the buffer out every `flush_every` lines."""
        if self.failed or self.closed:
            return
        try:
            self.buffer.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
        except (TypeError, ValueError) as e:
            self.fail(e)
            return
        if len(self.buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        with self.lock:
            if self.failed or self.file is None or not self.buffer:
                return
            try:
                self.file.writelines(self.buffer)
                self.file.flush()
            except (OSError, ValueError) as e:
                self.fail(e)
            self.buffer.clear()

    def close(self, final: dict | None = None) -> None:
        """Write `final` (once) and what is buffered, and close the file; safe to call twice."""
        if self.closed:
            return
        if final is not None:
            self.write(final)
        self.flush()
        self.closed = True
        if self.file is not None:
            try:
                self.file.close()
            except OSError as e:
                self.fail(e)
