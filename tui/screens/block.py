"""One KV block in detail: its state and owners at the cursor (the reference count is how
many requests hold it), and every step it changed (recording.history.block_history):
who took it (allocated, or as a prefix-cache hit), who let it go, when it became cached
(free but keeping its hash, reusable by a prefix hit) and when that hash was evicted.

The recording keeps whether a block holds a cached hash, not the hash's value, so the
screen says "holds a cached hash" rather than printing one.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mini_engine.debug.session import DebugSession
from mini_engine.recording.history import BlockChange, block_history

from tui.screens.base import DialogScreen
from tui.styles import ComponentStyles
from tui.text import shown

STATE_TEXT = {
    "free": "free (no hash: nothing to reuse)",
    "in_use": "in use",
    "cached_free": "cached: free, keeps its hash (a prefix hit can reuse it; evicted when "
                   "allocated to another request)",
    "shared": "shared: held by several requests (prefix-cache hits)",
    "null": "the null block (vLLM reserves block 0; never allocated)",
}
MAX_CHANGES = 2000  # lines drawn; beyond, one line says how many more


def change_line(c: BlockChange) -> str:
    """One step of a block's history."""
    parts = []
    allocated = [r for r in c.gained_by if r not in c.hit_by]
    if allocated:
        parts.append("allocated to " + ", ".join(map(shown, allocated)))
    if c.hit_by:
        parts.append("prefix hit by " + ", ".join(map(shown, c.hit_by)))
    if c.lost_by:
        parts.append("freed by " + ", ".join(map(shown, c.lost_by)))
    if c.evicted:
        parts.append("cached hash evicted")
    if c.state == "cached_free":
        parts.append("cached (kept its hash)")
    owners = ", ".join(map(shown, c.owners)) or "-"
    return (f"{c.step:>8}  {c.state:<11}  ref {len(c.owners):<3} owners {owners}"
            + ("  · " + "; ".join(parts) if parts else ""))


class BlockScreen(ComponentStyles, DialogScreen[None]):
    DEFAULT_CSS = """
    BlockScreen > #dialog { width: 96%; max-width: 140; height: 80%; padding: 0; }
    BlockScreen VerticalScroll { padding: 0 1; overflow-x: auto; }
    BlockScreen #block-body { width: auto; }
    """
    COMPONENT_CLASSES = {"block--heading", "block--now", "block--history"}
    BINDINGS = [Binding("enter,q", "close", "Close", id="close-block")]

    def __init__(self, session: DebugSession, block_id: int, step: int) -> None:
        super().__init__()
        self.session, self.block_id, self.step = session, block_id, step
        self.dialog_title = f"KV block {block_id} at step {step}  (escape closes)"
        self.changes = block_history(session.recording, block_id)

    def compose_dialog(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="block-body")

    def on_mount(self) -> None:
        self.query_one("#block-body", Static).update(self.body())

    def body(self) -> Text:
        heading = self.part_style("block--heading")
        state = self.session.state(self.step)
        owners = sorted(r for r, table in state.block_tables.items() if self.block_id in table)
        now = [c for c in self.changes if c.step <= self.step]
        state_name = now[-1].state if now else ("null" if self.block_id == 0 else "free")
        t = Text(no_wrap=True)
        t.append("now    ", style=heading)
        t.append(STATE_TEXT.get(state_name, state_name) + "\n", style=self.part_style("block--now"))
        t.append("owners ", style=heading)
        t.append((", ".join(map(shown, owners)) or "none") + f"  (reference count {len(owners)})\n")
        if state_name in ("cached_free", "in_use", "shared"):
            cached = [c.step for c in now if c.state == "cached_free"]
            t.append("hash   ", style=heading)
            t.append("holds a cached hash (its value is not recorded)"
                     if state_name == "cached_free" else
                     "recorded once the block is freed and cached")
            t.append(f"; last cached at step {cached[-1]}\n" if cached else "\n")
        evictions = [c.step for c in self.changes if c.evicted]
        cached_at = [c.step for c in self.changes if c.state == "cached_free"]
        t.append("cached ", style=heading)
        t.append((", ".join(map(str, cached_at[:20])) or "never")
                 + (f" … ({len(cached_at)} times)" if len(cached_at) > 20 else "") + "\n")
        t.append("evicted", style=heading)
        t.append(" " + (", ".join(map(str, evictions[:20])) or "never")
                 + (f" … ({len(evictions)} times)" if len(evictions) > 20 else "") + "\n")
        t.append("\nhistory (every step it changed; ▶ up to the cursor)\n", style=heading)
        t.append(f"{'step':>8}  {'state':<11}  holders\n", style=heading)
        history = self.part_style("block--history")
        for c in self.changes[:MAX_CHANGES]:
            mark = "▶" if c is (now[-1] if now else None) else " "
            t.append(mark + change_line(c)[1:] + "\n",
                     style=history if c.step > self.step else "")
        if len(self.changes) > MAX_CHANGES:
            t.append(f"… {len(self.changes) - MAX_CHANGES} more steps\n", style=history)
        if not self.changes:
            t.append("  (never used in the recorded steps)\n", style=history)
        return t
