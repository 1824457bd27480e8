"""`python -m tui.headless_check [SOURCE]`: start the debugger headless, let it record and
draw, and exit 0 only if it did (CI runs this against the installed wheel).

It fails if a stylesheet is missing from the install (Textual refuses to start), if the
app's own rules are not in effect, or if the first screen does not show the run.
"""

from __future__ import annotations

import asyncio
import html
import sys

from tui.app import DebuggerApp
from tui.text import shown

SIZE = (120, 36)


async def check(source: str) -> list[str]:
    """The problems found (empty: the app started, recorded and drew its screen)."""
    app = DebuggerApp(source)
    problems: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        sheets = [str(path) for path, _ in app.stylesheet.source]
        if not any(path.endswith("app.tcss") for path in sheets):
            problems.append(f"app.tcss is not among the stylesheets read: {sheets}")
        if app.query_one("#side").outer_size.width != 40:  # `#side { width: 40; }` in app.tcss
            problems.append("app.tcss rules are not applied (#side is not 40 cells wide)")
        session = app.session
        if session is None or not session.complete:
            problems.append("the recording did not finish")
        screen = html.unescape(app.export_screenshot()).replace("\xa0", " ")  # SVG text
        name = shown(session.scenario_name if session is not None else source)
        if name not in screen or "step 0 /" not in screen:
            problems.append(f"the header does not show {name!r} at step 0")
    return problems


def main(argv: list[str]) -> int:
    source = argv[0] if argv else "hello"
    try:
        problems = asyncio.run(check(source))
    except Exception as err:  # a missing stylesheet stops Textual here: StylesheetError
        problems = [f"the app did not start: {type(err).__name__}: {err}"]
    for problem in problems:
        print(f"tui headless check: {problem}", file=sys.stderr)
    if not problems:
        print(f"tui headless check: ok ({source}, {SIZE[0]}x{SIZE[1]})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
