"""Command palette entries: open a bundled scenario or any file, reload, export, breakpoints."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from mini_engine.scenarios.catalog import bundled_names


class DebuggerCommands(Provider):
    def _commands(self) -> list[tuple[str, object, str]]:
        app = self.app
        commands = [
            ("Open file…", app.action_open_file, "a scenario .yaml or a recording .jsonl"),
            ("Reload current file (keep the step)", app.action_reload, "re-read it from disk"),
            ("Export JSONL recording…", app.action_export_jsonl, "replayable without the engine"),
            ("Export Perfetto trace…", app.action_export_perfetto, "open in ui.perfetto.dev"),
            ("Breakpoints…", app.action_breakpoints, "add or remove breakpoints"),
        ]
        for kind in ("preemption", "finish", "admission", "kv_full"):
            commands.append((f"Break on {kind}", partial(app.add_breakpoint, kind),
                             "event breakpoint"))
        for name in bundled_names():
            commands.append((f"Open scenario: {name}", partial(app.open_source, name),
                             "bundled scenario"))
        return commands

    async def discover(self) -> Hits:
        for text, callback, help_text in self._commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self._commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)
