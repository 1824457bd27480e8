"""The one-line bars above and below the panels: the run and the cursor (header), and the
breakpoint hit, the n/N event kind and why the selected request waits (status). Names,
ids and breakpoints are user data: drawn through tui.text.shown.

Both are drawn from reactive attributes that the app data-binds to its own state, so a
change of the cursor, of play or speed, of the event kind or of the selection redraws them
with no call from the app.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui.styles import ComponentStyles
from tui.text import shown

PLAY_SPEEDS = (1, 2, 4, 8, 16, 32, 64)  # steps per second


def settings_line(config) -> str:
    """The engine settings in one header line."""
    return (f"budget {config.max_num_batched_tokens}  seqs {config.max_num_seqs}"
            f"  threshold {config.long_prefill_token_threshold}"
            f"  blocks {config.num_gpu_blocks - 1}×{config.block_size}"
            f"  prefix {'on' if config.enable_prefix_caching else 'off'}"
            f"  chunked {'on' if config.enable_chunked_prefill else 'off'}  {config.policy}")


class Bar(ComponentStyles, Widget):
    """A one-line bar; subclasses build its text in `line()`."""

    DEFAULT_CSS = """
    Bar { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """


    def render(self) -> Text:
        return self.line()

    def line(self) -> Text:
        return Text()


class HeaderBar(Bar):
    COMPONENT_CLASSES = {"header--name", "header--step", "header--recording", "header--playing"}

    name_text: reactive[str] = reactive("")  # the scenario's name
    settings: reactive[str] = reactive("")  # the engine settings, one line
    cursor: reactive[int] = reactive(0)
    recorded_steps: reactive[int] = reactive(0)  # the last recorded step so far
    complete: reactive[bool] = reactive(False)
    playing: reactive[bool] = reactive(False)
    speed_index: reactive[int] = reactive(0)  # into PLAY_SPEEDS
    activity: reactive[str | None] = reactive(None)  # work under way: "opening x.yaml"
    stopped: reactive[bool] = reactive(False)  # the recording failed part way

    def line(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        busy = self.part_style("header--recording")
        if not self.name_text:
            if self.activity:
                t.append(f"{shown(self.activity)}…", style=busy)
            return t
        t.append(shown(self.name_text), style=self.part_style("header--name"))
        t.append(f"  step {self.cursor} / {self.recorded_steps}",
                 style=self.part_style("header--step"))
        if self.stopped:
            t.append(f" (recording stopped at {self.recorded_steps})", style=busy)
        elif not self.complete:
            t.append(f" (recording… {self.recorded_steps})", style=busy)
        if self.activity:
            t.append(f" ({shown(self.activity)}…)", style=busy)
        t.append(f"  {self.settings}")
        if self.playing:
            t.append(f"  ▶ {PLAY_SPEEDS[self.speed_index]}/s",
                     style=self.part_style("header--playing"))
        return t


class StatusBar(Bar):
    COMPONENT_CLASSES = {"status--hit", "status--hint", "status--waits"}

    hits: reactive[tuple[str, ...]] = reactive(())  # breakpoints firing at the cursor
    event_kind: reactive[str] = reactive("")  # what n/N jump to
    selected: reactive[str | None] = reactive(None)
    selected_waits: reactive[str | None] = reactive(None)  # why `selected` waits, if it does

    def line(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.hits:
            t.append("● breakpoint: " + "; ".join(map(shown, self.hits)) + "  ",
                     style=self.part_style("status--hit"))
        t.append(f"n/N jump to: {self.event_kind} (e changes)",
                 style=self.part_style("status--hint"))
        if self.selected and self.selected_waits:
            t.append(f"  {shown(self.selected)} waits: {self.selected_waits}",
                     style=self.part_style("status--waits"))
        return t
