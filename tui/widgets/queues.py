"""The three queues: WAITING (with why each request waits), RUNNING (in order), FINISHED (why)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from mini_engine.debug.session import PENDING, StepState
from mini_engine.recording.vocabulary import WAIT_REASONS, explain, wait_label

from tui.styles import ComponentStyles
from tui.text import shown



def reason_label(reason: str) -> str:
    """A wait reason as every view spells it (recording.vocabulary: the stored key)."""
    return wait_label(reason) if reason in WAIT_REASONS else shown(reason)


def reason_explanation(reason: str) -> str:
    """The long explanation of a wait reason (recording.vocabulary)."""
    return explain(reason) if reason in WAIT_REASONS else ""


FINISH_LABELS = {"FINISHED_STOPPED": "stop", "FINISHED_LENGTH": "length",
                 "FINISHED_LENGTH_CAPPED": "length",
                 "FINISHED_ABORTED": "abort", "FINISHED_IGNORED": "ignored"}
MAX_LINES = 12  # more than a panel shows; beyond this it says how many more


class QueuePanel(Static):
    DEFAULT_CSS = """
    QueuePanel { border: round $secondary; width: 1fr; height: 1fr; padding: 0 1;
                 overflow-y: auto;
                 text-wrap: nowrap; text-overflow: ellipsis; }
    """
    shown: tuple[str, Text] | None = None  # the title and lines on screen


class Queues(ComponentStyles, Horizontal):
    DEFAULT_CSS = """
    Queues { height: 8; }
    """
    COMPONENT_CLASSES = {"queues--preempted", "queues--running", "queues--note",
                         "queues--faint", "queues--selected"}

    def compose(self) -> ComposeResult:
        yield QueuePanel(id="waiting")
        yield QueuePanel(id="running")
        yield QueuePanel(id="finished")

    def show(self, state: StepState, selected: str | None,
             request_index: Mapping[str, int]) -> None:
        """Fill the panels for `state`; `request_index` maps ids to the state's columns."""
        style = self.part_style
        note, faint = style("queues--note"), style("queues--faint")

        def name(rid: str, base: Style) -> Style:
            return base + style("queues--selected") if rid == selected else base

        waiting = Text(no_wrap=True, overflow="ellipsis")
        for rid, reason in list(zip(state.waiting, state.waiting_reasons))[:MAX_LINES]:
            preempted = state.status_name(rid) == "PREEMPTED"
            waiting.append(shown(rid), style=name(rid, style("queues--preempted") if preempted
                                                else Style()))
            if preempted:
                waiting.append(" (P)", style=style("queues--preempted"))
            waiting.append(f" {reason_label(reason)}\n", style=note)
        pending = int(np.count_nonzero(state.status == PENDING))
        if pending:
            waiting.append(f"+{pending} not arrived yet\n", style=faint)
        self._set("waiting", f"WAITING ({len(state.waiting)})", waiting, len(state.waiting))

        running = Text(no_wrap=True, overflow="ellipsis")
        for rid in state.running[:MAX_LINES]:
            i = request_index[rid]
            running.append(shown(rid), style=name(rid, style("queues--running")))
            running.append(f" {int(state.num_computed_tokens[i])}/{int(state.num_tokens[i])}\n",
                           style=note)
        self._set("running", f"RUNNING ({len(state.running)})", running, len(state.running))

        finished = Text(no_wrap=True, overflow="ellipsis")
        for rid in state.finished[:MAX_LINES]:
            finished.append(shown(rid), style=name(rid, Style()))
            finished.append(f" {FINISH_LABELS.get(state.status_name(rid), '')}\n", style=note)
        self._set("finished", f"FINISHED ({len(state.finished)})", finished, len(state.finished))


    def _set(self, panel_id: str, title: str, text: Text, count: int) -> None:
        if count > MAX_LINES:
            text.append(f"… +{count - MAX_LINES} more", style=self.part_style("queues--faint"))
        panel = self.query_one(f"#{panel_id}", QueuePanel)
        if panel.shown == (title, text):
            return  # the same lines: nothing to repaint (most steps, for two of the three)
        panel.shown = (title, text)
        panel.border_title = title
        panel.update(text, layout=False)  # fixed height: repaint, no relayout
