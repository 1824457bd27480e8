"""The debugger's file actions: open a file, reload it, export the recording.

Opening goes through `DebuggerApp.open_source` (a background load: any error becomes a
dialog and the session on screen stays). An export offers a safe name in the working
directory (the scenario's name is user data: `../../../x` is offered as `x.jsonl`),
writes atomically (mini_engine.debug.export) and overwrites an existing file only after
the user confirms; any refusal (a missing or read-only directory, a symlink, a FIFO) is
one line in an error dialog.
"""

from __future__ import annotations

from mini_engine.debug.export import OutputExistsError
from mini_engine.debug.session import DebugSession
from mini_engine.errors import MiniEngineError, error_line

from tui.screens.confirm import ConfirmScreen
from tui.screens.error import ErrorScreen
from tui.screens.prompt import PromptScreen
from tui.text import shown

EXPORTS = {"jsonl": "JSONL recording", "perfetto": "Perfetto trace"}


def describe_error(err: BaseException, label: str) -> str:
    """One line for a dialog: a MiniEngineError or OSError as it is (it names the file),
    anything else with its type, after what was being opened."""
    if isinstance(err, (MiniEngineError, OSError)):
        return error_line(err)
    return f"{label}: {type(err).__name__}: {error_line(err)}"


class FileActions:
    """Mixed into DebuggerApp (which provides session, source_path, open_source, notify
    and push_screen)."""

    def action_open_file(self) -> None:
        def done(path: str | None) -> None:
            if path:
                self.open_source(path)

        # A path that is not printable is not offered again (the field would draw it raw).
        offer = self.source_path if self.source_path and shown(self.source_path) == \
            self.source_path else ""
        self.push_screen(PromptScreen("Open a scenario (.yaml, or a bundled name) or a "
                                      "recording (.jsonl):", offer), done)

    def action_reload(self) -> None:
        if self.source_path is None:
            self.notify("nothing to reload: this session was not opened from a file", timeout=3)
            return
        self.open_source(self.source_path, keep_step=True)

    def _export(self, kind: str, what: str) -> None:
        """Ask where to write (a safe name in the working directory is offered), then
        write atomically; an existing file is overwritten only once the user says so."""
        session = self.session
        if session is None:
            return
        if not session.complete:
            self.notify("the recording is still being computed; try again when it is done",
                        timeout=3)
            return

        def done(path: str | None) -> None:
            if path:
                self.write_export(session, kind, what, path)

        self.push_screen(PromptScreen(f"Write the {what} to:", session.export_name(kind)), done)

    def write_export(self, session: DebugSession, kind: str, what: str, path: str,
                     force: bool = False) -> None:
        try:
            session.export(kind, path, force=force)
        except OutputExistsError:
            def confirmed(overwrite: bool | None) -> None:
                if overwrite:
                    self.write_export(session, kind, what, path, force=True)

            self.push_screen(ConfirmScreen(f"{shown(path)} already exists. Overwrite it?",
                                           "Overwrite"), confirmed)
            return
        except Exception as err:  # noqa: BLE001 - the write is atomic: nothing is lost
            self.push_screen(ErrorScreen(f"Could not write the {what}",
                                         describe_error(err, shown(path))))
            return
        self.notify(f"wrote {what} to {shown(path)}", timeout=3, markup=False)

    def action_export_jsonl(self) -> None:
        self._export("jsonl", EXPORTS["jsonl"])

    def action_export_perfetto(self) -> None:
        self._export("perfetto", EXPORTS["perfetto"])
