"""What the step did: budget bar, prefill vs decode, who was admitted, resumed, preempted,
finished, KV usage and the vLLM-named metrics."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mini_engine.debug.session import StepRecord, StepState

from tui.styles import ComponentStyles
from tui.text import shown
from tui.widgets.queues import reason_label

BAR_WIDTH = 20
KV_BAR_WIDTH = 6


def bar(used: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = 0 if total <= 0 else round(width * min(used, total) / total)
    return "█" * filled + "░" * (width - filled)


class StepPanel(ComponentStyles, Static):
    DEFAULT_CSS = """
    StepPanel { border: round $secondary; padding: 0 1; height: 2fr; max-height: 16;
                min-height: 5; overflow-y: auto;
                text-wrap: nowrap; text-overflow: ellipsis; }
    """
    COMPONENT_CLASSES = {"step-panel--note", "step-panel--prefill", "step-panel--admitted",
                         "step-panel--preempted", "step-panel--stopped", "step-panel--kv"}
    _shown: tuple[str, Text] | None = None  # the title and text on screen


    def show(self, record: StepRecord, state: StepState, cumulative_preemptions: int) -> None:
        m = record.metrics
        note = self.part_style("step-panel--note")
        t = Text(no_wrap=True, overflow="ellipsis")
        if record.step == 0:
            t.append("before step 1: nothing scheduled yet\n", style=note)
        t.append("budget ")
        t.append(bar(m.num_scheduled_tokens, m.token_budget),
                 style=self.part_style("step-panel--prefill"))
        t.append(f" {m.num_scheduled_tokens}/{m.token_budget}\n")
        t.append(f"prefill {m.prefill_tokens}  decode {m.decode_tokens}  ({record.step_kind})\n")
        lines = _happenings(record)
        for label, component, items in lines:
            if items:
                t.append(f"{label} ", style=self.part_style(component))
                t.append(", ".join(items) + "\n")
        if m.waiting_stop_reason and state.waiting:
            head = f" at {shown(m.waiting_stop_req_id)}" if m.waiting_stop_req_id else ""
            t.append(f"admission stopped{head}: ", style=self.part_style("step-panel--stopped"))
            t.append(reason_label(m.waiting_stop_reason))
            t.append("\n")
            if m.waiting_stop_detail:
                t.append(f"  {shown(m.waiting_stop_detail)}\n", style=note)
        kv = self.part_style("step-panel--kv")
        if m.num_free_blocks_at_schedule is not None and record.step > 0:
            t.append("KV schedule() ", style=note)
            t.append(bar(round(m.kv_cache_usage_at_schedule * 1000), 1000, KV_BAR_WIDTH), style=kv)
            t.append(f" {m.kv_cache_usage_at_schedule:6.1%} {m.num_free_blocks_at_schedule} free\n")
        t.append("KV after step ", style=note)
        t.append(bar(round(m.kv_cache_usage_perc * 1000), 1000, KV_BAR_WIDTH), style=kv)
        t.append(f" {m.kv_cache_usage_perc:6.1%} {m.num_free_blocks} free\n")
        if m.num_cached_free_blocks:  # its own line: the panel is ~38 columns at 120
            t.append(f"  of them {m.num_cached_free_blocks} cached (reusable)\n", style=note)
        t.append(f"running {m.num_requests_running}  waiting {m.num_requests_waiting}\n",
                 style=note)
        t.append(f"preemptions {m.num_preemptions} (run total {cumulative_preemptions})\n",
                 style=note)
        t.append(f"prefix cache queries {m.prefix_cache_queries} hits {m.prefix_cache_hits}",
                 style=note)
        title = f"step {record.step}"
        if (title, t) == self._shown:
            return  # the same panel (a redraw for the same step): nothing to repaint
        self._shown = (title, t)
        self.border_title = title
        self.update(t, layout=False)  # fixed height: repaint, no relayout


def _happenings(record: StepRecord) -> list[tuple[str, str, list[str]]]:
    """(label, its component class, the items) for each kind of thing that happened."""
    admitted, resumed, preempted, finished, arrived, ignored = [], [], [], [], [], []
    for h in record.happenings:
        rid = shown(h.request_id)  # user data
        if h.kind == "admission":
            admitted.append(rid + (f" (hit {h.num_tokens})" if h.num_tokens else ""))
        elif h.kind == "resume":
            resumed.append(rid + (f" (hit {h.num_tokens})" if h.num_tokens else ""))
        elif h.kind == "preemption":
            preempted.append(f"{rid} (-{h.num_tokens} tok; as its blocks were freed KV "
                             f"{h.usage_before:.0%}→{h.usage_after:.0%})")
        elif h.kind == "ignore":
            ignored.append(f"{rid}: {shown(h.stop_reason)}")
        elif h.kind in ("finish", "abort"):
            finished.append(f"{rid} {shown(h.reason or h.kind)}")
        elif h.kind == "arrival":
            arrived.append(rid)
    chunks = [f"{shown(e.request_id)} +{e.num_tokens}" for e in record.scheduled if e.is_prefill]
    more = [f"+{len(chunks) - 6} more"] if len(chunks) > 6 else []
    return [("prefill", "step-panel--prefill", chunks[:6] + more),
            ("admitted", "step-panel--admitted", admitted),
            ("resumed", "step-panel--admitted", resumed),
            ("PREEMPTED", "step-panel--preempted", preempted),
            ("IGNORED", "step-panel--preempted", ignored),
            ("finished", "step-panel--note", finished),
            ("arrived", "step-panel--note", arrived)]
