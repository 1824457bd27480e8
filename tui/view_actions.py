"""The debugger's view actions (mixed into DebuggerApp): the request detail, a KV
block's detail, the scenario's description, help, legend, filter, ordering, zoom and
the charts. Each opens a screen or flips one widget; none changes the session."""

from __future__ import annotations

import re

from tui.screens.block import BlockScreen
from tui.screens.description import DescriptionScreen
from tui.screens.detail import RequestDetailScreen
from tui.screens.help import HelpScreen
from tui.screens.legend import LegendScreen
from tui.screens.prompt import PromptScreen
from tui.widgets.kv_map import KVMap
from tui.widgets.queues import Queues
from tui.widgets.request_table import RequestTable


MAX_GIST = 100  # characters of the description's first sentence shown at startup


def first_line(description: str | None) -> str:
    """The first sentence of the description's first line (what the scenario is about),
    cut at a word past MAX_GIST characters and marked with '…'; '' if there is none."""
    line = next((x.strip() for x in (description or "").splitlines() if x.strip()), "")
    sentence = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
    if len(sentence) <= MAX_GIST:
        return sentence
    return sentence[:MAX_GIST - 1].rsplit(" ", 1)[0] + "…"


class ViewActions:
    """Mixed into DebuggerApp (which provides session, selected, run_settings, timeline,
    charts, query_one and push_screen)."""

    def action_toggle_detail(self) -> None:
        if self.session is not None and self.selected is not None:
            self.push_screen(RequestDetailScreen(self.session, self.selected,
                                                 self.session.cursor))

    def on_kvmap_block_clicked(self, message: KVMap.BlockClicked) -> None:
        if self.session is not None:
            self.push_screen(BlockScreen(self.session, message.block_id, self.session.cursor))

    def action_about(self) -> None:
        """The scenario's description (what to look at) and its settings."""
        if self.session is not None:
            scenario = self.session.recording.scenario
            self.push_screen(DescriptionScreen(scenario.name, scenario.description,
                                               self.run_settings))

    def action_filter(self) -> None:
        table = self.query_one(RequestTable)

        def done(text: str | None) -> None:
            table.set_filter(text or "")

        self.push_screen(PromptScreen("Filter requests by id or status words "
                                      "(empty shows all):", table.filter_text), done)

    def action_toggle_active_first(self) -> None:
        table = self.query_one(RequestTable)
        table.set_active_first(not table.active_first)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_overrides))

    def action_legend(self) -> None:
        self.push_screen(LegendScreen())

    def action_zoom(self, delta: int) -> None:
        self.timeline.action_zoom(delta)

    def action_toggle_charts(self) -> None:  # the charts in place of the queues, or back
        self.charts.display = not self.charts.display
        self.query_one(Queues).display = not self.charts.display
