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
from mini_engine.files.write import check_target

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
    """Mixed into DebuggerApp (which provides session, source_path, activity,
    recording_stopped, open_source, notify, push_screen and call_after_refresh)."""

    def action_open_file(self) -> None:
        def done(path: str | None) -> None:
            if path:
                self.open_source(path)

        self.push_screen(PromptScreen("Open a scenario (.yaml, or a bundled name) or a "
                                      "recording (.jsonl):", self.source_path or ""), done)

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
        if not session.complete and not self.recording_stopped:
            self.notify("the recording is still being computed; try again when it is done",
                        timeout=3)
            return

        def done(path: str | None) -> None:
            if path:
                self.write_export(session, kind, what, path)

        self.push_screen(PromptScreen(f"Write the {what} to:", session.export_name(kind)), done)

    def write_export(self, session: DebugSession, kind: str, what: str, path: str,
                     force: bool = False) -> None:
        """Refuse at once what can't be written (a cheap check), ask before overwriting,
        then write. A large recording takes seconds: the header says what is being written
        before the write starts. It runs on the UI thread, where atomic_write's SIGTERM and
        SIGHUP handlers remove its temporary file if the debugger is killed meanwhile."""
        if self._export_refused(lambda: check_target(path, force=force),
                                session, kind, what, path):
            return
        before, self.activity = self.activity, f"writing {path}"

        def write() -> None:
            try:
                if not self._export_refused(lambda: session.export(kind, path, force=force),
                                            session, kind, what, path):
                    self.notify(f"wrote {what} to {shown(path)}", timeout=3, markup=False)
            finally:
                self.activity = before

        self.call_after_refresh(write)

    def _export_refused(self, attempt, session: DebugSession, kind: str, what: str,
                        path: str) -> bool:
        """Run `attempt()`: False if it went through; True once the user was asked whether
        to overwrite (an existing file) or shown why not (a one-line dialog)."""
        try:
            attempt()
        except OutputExistsError:
            def confirmed(overwrite: bool | None) -> None:
                if overwrite:
                    self.write_export(session, kind, what, path, force=True)

            self.push_screen(ConfirmScreen(f"{shown(path)} already exists. Overwrite it?",
                                           "Overwrite"), confirmed)
            return True
        except Exception as err:  # noqa: BLE001 - the write is atomic: nothing is lost
            self.push_screen(ErrorScreen(f"Could not write the {what}",
                                         describe_error(err, shown(path))))
            return True
        return False

    def action_export_jsonl(self) -> None:
        self._export("jsonl", EXPORTS["jsonl"])

    def action_export_perfetto(self) -> None:
        self._export("perfetto", EXPORTS["perfetto"])
