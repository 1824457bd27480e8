"""One request in detail: counters, its lifecycle (the lab's event list), generated text,
block table and latencies in steps."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mini_engine.recording.store import Recording


class RequestDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    RequestDetailScreen { align: center middle; }
    RequestDetailScreen > Vertical { width: 90%; max-width: 110; height: 90%;
                                     border: round $accent; background: $surface; }
    RequestDetailScreen VerticalScroll { padding: 0 1; }
    """
    BINDINGS = [Binding("escape,enter,d,q", "dismiss", "Close", id="close-detail")]

    def __init__(self, recording: Recording, request_id: str, step: int) -> None:
        super().__init__()
        self.recording, self.request_id, self.step = recording, request_id, step

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"request {self.request_id} at step {self.step}  (escape closes)"
            with VerticalScroll():
                yield Static(self._body(), id="detail-body")

    def _body(self) -> Text:
        rec, rid, step = self.recording, self.request_id, self.step
        r = rec.seek(step).request(rid)
        m = rec.request_metrics(rid)
        t = Text()
        t.append("now  ", style="bold")
        t.append(f"{r.status}  computed {r.num_computed_tokens}/{r.num_tokens} tokens  "
                 f"prompt {r.num_prompt_tokens}  output {r.num_output_tokens}  "
                 f"blocks {r.num_blocks}  prefix hit {max(r.num_cached_tokens, 0)}  "
                 f"preemptions {r.num_preemptions}  priority {r.priority}  "
                 f"arrives at step {r.arrival_step}\n")
        if r.waiting_reason:
            t.append(f"waiting because: {r.waiting_reason}\n", style="yellow1")
        t.append("\nlatency in steps  ", style="bold")
        t.append(f"queue {_v(m.queue_steps)}  TTFT {_v(m.ttft_steps)}  "
                 f"mean inter-token {_v(m.mean_inter_token_steps)}  "
                 f"recomputed tokens {m.recomputed_tokens}  "
                 f"finished at {_v(m.finish_step)} ({m.final_status}"
                 f"{', ' + m.finish_reason if m.finish_reason else ''})\n")
        text = rec.text(rid, step)
        t.append("\ngenerated so far  ", style="bold")
        t.append(repr(text) + "\n", style="green3")
        t.append("\nblock table  ", style="bold")
        t.append((" ".join(map(str, r.block_table)) or "(no blocks held)") + "\n")
        t.append("\nlifecycle over the whole run (the lab's events: after each step it ran, "
                 "status computed/tokens)\n", style="bold")
        for i, (_, status, computed, tokens) in enumerate(rec.lifecycle(rid)):
            t.append(f"  {status:<16} {computed:>6}/{tokens:<6}\n",
                     style="grey62" if i else "")
        return t


def _v(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
