"""The debugger as every TUI test opens it: a pinned theme, so TEXTUAL_THEME in the
environment can't change what a test sees or a snapshot draws."""

from __future__ import annotations

from tui.app import DebuggerApp


def pinned_app(source=None, **kwargs) -> DebuggerApp:
    app = DebuggerApp(source, **kwargs)
    app.theme = "textual-dark"
    return app
