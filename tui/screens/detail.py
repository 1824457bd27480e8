"""One request in detail: its counters now, latencies, generated text, block table, and its
whole history step by step (recording.history): status and counters after each step,
what was scheduled (prefill chunk, recompute, decode), prefix hits, blocks gained and
lost, and why it waited, with each wait reason explained at the bottom.

Runs of steps that differ only in their counters (decodes, waits for the same reason)
are folded into one line ("steps 3–9"), so a request that decoded for a thousand steps
reads in a screenful and still shows every step it was touched.
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mini_engine.debug.session import DebugSession
from mini_engine.recording.history import HistoryStep, request_history

from tui.screens.base import DialogScreen
from tui.styles import ComponentStyles
from tui.text import shown
from tui.widgets.queues import reason_explanation, reason_label

FIELDS_WIDTH = 64  # the counter lines pack whole fields up to this many cells (80x24 fits)
EXPLANATION_WIDTH = 96  # wait-reason explanations wrap at this many cells
MAX_HISTORY_LINES = 2000  # folded lines drawn; beyond, one line says how many more


def pack(fields: list[str], width: int = FIELDS_WIDTH, indent: str = "") -> str:
    """`fields` joined by two spaces into lines of at most `width` cells, breaking only
    between fields (a field is never split)."""
    lines, line = [], ""
    for f in fields:
        if line and len(line) + 2 + len(f) > width:
            lines.append(line)
            line = f
        else:
            line = f"{line}  {f}" if line else f
    lines.append(line)
    return ("\n" + indent).join(lines)


def _events(h: HistoryStep) -> list[str]:
    out = []
    for e in h.happenings:
        if e.kind == "admission":
            out.append("admitted" + (f", prefix hit {e.num_tokens} tok" if e.num_tokens else ""))
        elif e.kind == "resume":
            out.append("resumed" + (f", prefix hit {e.num_tokens} tok" if e.num_tokens else ""))
        elif e.kind == "preemption":
            out.append(f"PREEMPTED: lost {e.num_tokens} computed tok "
                       f"(KV {e.usage_before:.0%}→{e.usage_after:.0%})")
        elif e.kind == "ignore":
            out.append(f"IGNORED: {shown(e.stop_reason)}")
        elif e.kind == "finish":
            out.append(f"finished ({shown(e.reason or e.status)})")
        elif e.kind == "abort":
            out.append(f"aborted (was {shown(e.prev_status)})")
        else:
            out.append(e.kind.replace("_", " "))
    return out


def _foldable(h: HistoryStep) -> tuple | None:
    """What must match for consecutive steps to share one line; None: never folded."""
    if h.happenings or h.blocks_gained or h.blocks_lost:
        return None
    return (h.status, h.scheduled, h.waiting_reason)


def fold(history: list[HistoryStep]) -> list[tuple[HistoryStep, HistoryStep]]:
    """(first, last) of each run of steps alike but for their counters."""
    runs: list[tuple[HistoryStep, HistoryStep]] = []
    for h in history:
        key = _foldable(h)
        if runs and key is not None and _foldable(runs[-1][1]) == key \
                and runs[-1][1].step == h.step - 1:
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return runs


def history_line(first: HistoryStep, last: HistoryStep) -> str:
    """One folded run as a line: steps, status, counters, scheduled, blocks, events, why."""
    steps = f"{first.step}" if first is last else f"{first.step}–{last.step}"
    counters = f"{last.num_computed_tokens}/{last.num_tokens}"
    sched = ""
    if last.scheduled:
        count = last.step - first.step + 1
        sched = f"{last.scheduled} +{last.scheduled_tokens}" + (f" ×{count}" if count > 1 else "")
    blocks = f"{last.num_blocks} blk"
    if last.blocks_gained:
        blocks += " +[" + " ".join(map(str, last.blocks_gained)) + "]"
    if last.blocks_lost:
        blocks += " −[" + " ".join(map(str, last.blocks_lost)) + "]"
    notes = _events(last)
    if last.waiting_reason:
        notes.append(f"waits: {reason_label(last.waiting_reason)}")
    return (f"{steps:>11}  {last.status:<16} {counters:>11}  {sched:<28} {blocks}"
            + ("  · " + "; ".join(notes) if notes else ""))


class RequestDetailScreen(ComponentStyles, DialogScreen[None]):
    DEFAULT_CSS = """
    RequestDetailScreen > #dialog { width: 96%; max-width: 160; height: 90%; padding: 0; }
    RequestDetailScreen VerticalScroll { padding: 0 1; overflow-x: auto; }
    RequestDetailScreen #detail-body { width: auto; }
    """
    COMPONENT_CLASSES = {"detail--heading", "detail--waiting", "detail--text",
                         "detail--history", "detail--event"}
    BINDINGS = [Binding("enter,d,q", "close", "Close", id="close-detail")]

    def __init__(self, session: DebugSession, request_id: str, step: int) -> None:
        super().__init__()
        self.session, self.request_id, self.step = session, request_id, step
        self.dialog_title = f"request {shown(request_id)} at step {step}  (escape closes)"
        self.history = request_history(session.recording, request_id)

    def compose_dialog(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="detail-body")

    def on_mount(self) -> None:
        # Styles come from the stylesheet, which applies once the screen is mounted.
        self.query_one("#detail-body", Static).update(self._body())

    def _body(self) -> Text:
        session, rid, step = self.session, self.request_id, self.step
        r = session.state(step).request(rid)
        m = session.request_metrics(rid)
        heading = self.part_style("detail--heading")
        t = Text(no_wrap=True)
        t.append("now      ", style=heading)
        t.append(pack([r.status, f"computed {r.num_computed_tokens}/{r.num_tokens} tokens",
                       f"prompt {r.num_prompt_tokens}", f"output {r.num_output_tokens}",
                       f"blocks {r.num_blocks}", f"prefix hit {max(r.num_cached_tokens, 0)}",
                       f"preemptions {r.num_preemptions}", f"priority {r.priority}",
                       f"arrives at step {r.arrival_step}"], indent=" " * 9) + "\n")
        if r.waiting_reason:
            t.append(textwrap.fill("waiting: " + reason_explanation(r.waiting_reason),
                                   EXPLANATION_WIDTH, subsequent_indent="  ") + "\n",
                     style=self.part_style("detail--waiting"))
        self._ignored(t)
        t.append("\nlatency  ", style=heading)
        finished = (f"finished at step {_v(m.finish_step)} ({shown(m.final_status)}"
                    f"{', ' + shown(m.finish_reason) if m.finish_reason else ''})")
        t.append(pack([f"queue {_v(m.queue_steps)} steps", f"TTFT {_v(m.ttft_steps)} steps",
                       f"mean inter-token {_v(m.mean_inter_token_steps)} steps",
                       f"recomputed tokens {m.recomputed_tokens}", finished],
                      indent=" " * 9) + "\n")
        t.append("\ngenerated so far  ", style=heading)
        t.append(shown(repr(session.text(rid, step))) + "\n",
                 style=self.part_style("detail--text"))
        t.append("\nblock table  ", style=heading)
        t.append((" ".join(map(str, r.block_table)) or "(no blocks held)") + "\n")
        self._history(t)
        return t

    def _ignored(self, t: Text) -> None:
        """An ignored request: why, when, and the step engine.step() reported it in."""
        for h in self.history:
            for e in h.happenings:
                if e.kind == "ignore":
                    reported = self.session.recording.reported_steps(self.request_id)
                    t.append(f"IGNORED at step {h.step} (when it arrived): "
                             f"{shown(e.stop_reason)}"
                             + (f"; reported finished by step {reported[0]}\n"
                                if reported else "\n"),
                             style=self.part_style("detail--waiting"))

    def _history(self, t: Text) -> None:
        heading = self.part_style("detail--heading")
        t.append("\nhistory, step by step (counters after the step; alike steps folded)\n",
                 style=heading)
        t.append(f"{'step':>11}  {'status':<16} {'computed':>11}  {'scheduled':<28} "
                 f"blocks (+gained −lost) · what happened, why it waited\n", style=heading)
        history, event = self.part_style("detail--history"), self.part_style("detail--event")
        runs = fold(self.history)
        reasons = []
        for first, last in runs[:MAX_HISTORY_LINES]:
            current = first.step <= self.step <= last.step
            line = ("▶" if current else " ") + history_line(first, last)[1:]
            t.append(line + "\n", style=event if (last.happenings or current) else history)
            if last.waiting_reason and last.waiting_reason not in reasons:
                reasons.append(last.waiting_reason)
        if len(runs) > MAX_HISTORY_LINES:
            t.append(f"… {len(runs) - MAX_HISTORY_LINES} more lines\n", style=history)
        if not runs:
            t.append("  (not arrived in the recorded steps)\n", style=history)
        if reasons:
            t.append("\nwhy it waited\n", style=heading)
            for reason in reasons:
                t.append(textwrap.fill(reason_explanation(reason), EXPLANATION_WIDTH,
                                       initial_indent="  ", subsequent_indent="    ") + "\n")


def _v(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
