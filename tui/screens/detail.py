"""One request in detail: counters, its lifecycle (the lab's event list), generated text,
block table and latencies in steps."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mini_engine.debug.session import DebugSession

from tui.screens.base import DialogScreen
from tui.styles import ComponentStyles
from tui.text import shown


class RequestDetailScreen(ComponentStyles, DialogScreen[None]):
    DEFAULT_CSS = """
    RequestDetailScreen > #dialog { max-width: 110; height: 90%; padding: 0; }
    RequestDetailScreen VerticalScroll { padding: 0 1; }
    """
    COMPONENT_CLASSES = {"detail--heading", "detail--waiting", "detail--text",
                         "detail--history"}
    BINDINGS = [Binding("enter,d,q", "close", "Close", id="close-detail")]

    def __init__(self, session: DebugSession, request_id: str, step: int) -> None:
        super().__init__()
        self.session, self.request_id, self.step = session, request_id, step
        self.dialog_title = f"request {shown(request_id)} at step {step}  (escape closes)"

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
        t = Text()
        t.append("now  ", style=heading)
        t.append(f"{r.status}  computed {r.num_computed_tokens}/{r.num_tokens} tokens  "
                 f"prompt {r.num_prompt_tokens}  output {r.num_output_tokens}  "
                 f"blocks {r.num_blocks}  prefix hit {max(r.num_cached_tokens, 0)}  "
                 f"preemptions {r.num_preemptions}  priority {r.priority}  "
                 f"arrives at step {r.arrival_step}\n")
        if r.waiting_reason:
            t.append(f"waiting because: {shown(r.waiting_reason)}\n",
                     style=self.part_style("detail--waiting"))
        t.append("\nlatency in steps  ", style=heading)
        t.append(f"queue {_v(m.queue_steps)}  TTFT {_v(m.ttft_steps)}  "
                 f"mean inter-token {_v(m.mean_inter_token_steps)}  "
                 f"recomputed tokens {m.recomputed_tokens}  "
                 f"finished at {_v(m.finish_step)} ({shown(m.final_status)}"
                 f"{', ' + shown(m.finish_reason) if m.finish_reason else ''})\n")
        t.append("\ngenerated so far  ", style=heading)
        t.append(shown(repr(session.text(rid, step))) + "\n",
                 style=self.part_style("detail--text"))
        t.append("\nblock table  ", style=heading)
        t.append((" ".join(map(str, r.block_table)) or "(no blocks held)") + "\n")
        t.append("\nlifecycle over the whole run (the lab's events: after each step it ran, "
                 "status computed/tokens)\n", style=heading)
        history = self.part_style("detail--history")
        for i, (_, status, computed, tokens) in enumerate(session.lifecycle(rid)):
            t.append(f"  {shown(status):<16} {computed:>6}/{tokens:<6}\n",
                     style=history if i else "")
        return t


def _v(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
