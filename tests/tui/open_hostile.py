"""`python tests/tui/open_hostile.py PATH...`: open each PATH in a headless debugger through
the open dialog (as the palette's "Open file…" does) and print one JSON line per path.

test_tui_hardening.py runs this in a subprocess with a memory limit and a timeout, because
what it opens (a FIFO with no writer, a link to /dev/zero, a huge file) would hang the
test run or eat the machine's memory if a loader failed to refuse it. A path whose load
has not finished after LOAD_TIMEOUT seconds is reported as {"hang": true} and the
process ends at once (a thread blocked in open() cannot be stopped); if the whole process
is stuck, faulthandler prints every thread's stack and ends it.
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import os
import sys

from textual.widgets import Input, Static

from tui.app import DebuggerApp
from tui.screens.error import ErrorScreen
from tui.screens.prompt import PromptScreen

LOAD_TIMEOUT = 60.0
BASE = "kv_preemption"  # the session that must survive every open
BASE_STEP = 7


async def open_each(paths: list[str]) -> None:
    app = DebuggerApp(BASE)
    app.theme = "textual-dark"
    async with app.run_test(size=(120, 36)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        session = app.session
        for path in paths:
            app.go(BASE_STEP)
            app.action_open_file()
            await pilot.pause()
            assert isinstance(app.screen, PromptScreen)
            app.screen.query_one(Input).value = path
            await pilot.press("enter")
            # asyncio.wait, not wait_for: it never cancels what it waits for (Textual's
            # wait_for_complete swallows a cancellation and would end the wait silently).
            waiting = asyncio.ensure_future(app.workers.wait_for_complete())
            finished, _ = await asyncio.wait({waiting}, timeout=LOAD_TIMEOUT)
            if not finished:
                print(json.dumps({"path": path, "hang": True}), flush=True)
                os._exit(3)
            await pilot.pause()
            dialog = isinstance(app.screen, ErrorScreen)
            message = str(app.screen.query_one("#error-message", Static).content) \
                if dialog else None
            result = {"path": path, "hang": False, "dialog": dialog, "message": message,
                      "same_session": app.session is session,
                      "cursor": app.session.cursor if app.session else None}
            await pilot.press("escape")
            await pilot.press("right")  # still answering keys
            await pilot.pause()
            result["responsive"] = not isinstance(app.screen, ErrorScreen) and \
                app.session.cursor == BASE_STEP + 1
            print(json.dumps(result), flush=True)
            if app.session is not session:
                break


if __name__ == "__main__":
    # A last resort if even the event loop blocks: where every thread was, on stderr.
    faulthandler.dump_traceback_later(4 * LOAD_TIMEOUT, exit=True)
    asyncio.run(open_each(sys.argv[1:]))
