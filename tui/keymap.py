"""Key bindings as data: one registry with stable ids, from which the footer and help screen are built.

Lowercase moves forward, uppercase moves back (toolong's convention); arrows and
vi keys both work. Users remap keys by binding id in a keymap file
(mini_engine.debug.keymap_config); the app applies it at mount with `App.set_keymap`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding

from mini_engine.debug.keymap_config import load_keymap


@dataclass(frozen=True)
class KeySpec:
    id: str
    keys: str  # comma-separated Textual key names
    action: str
    description: str  # short, for the footer
    help: str  # one line, for the help screen
    group: str
    show: bool = False  # in the footer
    priority: bool = False


KEYMAP: tuple[KeySpec, ...] = (
    # Stepping through time.
    KeySpec("step-forward", "right,l", "step(1)", "Step", "Next step", "Time", show=True),
    KeySpec("step-back", "left,h", "step(-1)", "Back", "Previous step", "Time"),
    KeySpec("step-forward-10", "shift+right,L", "step(10)", "+10", "Ten steps forward", "Time"),
    KeySpec("step-back-10", "shift+left,H", "step(-10)", "-10", "Ten steps back", "Time"),
    KeySpec("go-start", "home,g", "jump_start", "Start", "First step (before step 1)", "Time"),
    KeySpec("go-end", "end,G", "jump_end", "End", "Last step", "Time"),
    KeySpec("go-to", "colon,ctrl+g", "goto", "Go to", "Go to step N (previews while you type)",
            "Time"),
    KeySpec("play", "space", "toggle_play", "Play", "Play / pause (stops at breakpoints)",
            "Time", show=True),
    KeySpec("faster", "plus,equals_sign", "speed(1)", "Faster", "Play faster", "Time"),
    KeySpec("slower", "minus", "speed(-1)", "Slower", "Play slower", "Time"),
    # Jumping to events.
    KeySpec("next-preemption", "p", "jump_event('preemption', 1)", "Preempt",
            "Next preemption", "Events", show=True),
    KeySpec("prev-preemption", "P", "jump_event('preemption', -1)", "Prev preempt",
            "Previous preemption", "Events"),
    KeySpec("next-event", "n", "jump_event(None, 1)", "Next event",
            "Next event of the chosen kind (e to choose)", "Events"),
    KeySpec("prev-event", "N", "jump_event(None, -1)", "Prev event",
            "Previous event of the chosen kind", "Events"),
    KeySpec("cycle-event-kind", "e", "cycle_event_kind", "Event kind",
            "Choose the kind n/N jump to: preemption, admission, finish, chunk, ...", "Events"),
    KeySpec("next-request-event", "r", "jump_request_event(1)", "Req event",
            "Next step where the selected request changes", "Events"),
    KeySpec("prev-request-event", "R", "jump_request_event(-1)", "Prev req event",
            "Previous step where the selected request changes", "Events"),
    # Breakpoints and bookmarks.
    KeySpec("continue", "c", "continue_run(1)", "Continue", "Continue forward to the next breakpoint",
            "Breakpoints"),
    KeySpec("reverse-continue", "C", "continue_run(-1)", "Rev continue",
            "Continue backward to the previous breakpoint", "Breakpoints"),
    KeySpec("breakpoints", "b", "breakpoints", "Breaks",
            "Add or remove breakpoints (events and conditions)", "Breakpoints", show=True),
    KeySpec("bookmark", "m", "toggle_bookmark", "Bookmark", "Bookmark this step", "Breakpoints"),
    KeySpec("next-bookmark", "apostrophe", "jump_bookmark(1)", "Next mark", "Next bookmark",
            "Breakpoints"),
    KeySpec("prev-bookmark", "quotation_mark", "jump_bookmark(-1)", "Prev mark",
            "Previous bookmark", "Breakpoints"),
    # The timeline and charts.
    KeySpec("zoom-out", "z", "zoom(1)", "Zoom out",
            "Timeline: twice as many steps per cell (up to 16384)", "View"),
    KeySpec("zoom-in", "Z", "zoom(-1)", "Zoom in", "Timeline: half as many steps per cell",
            "View"),
    KeySpec("charts", "v", "toggle_charts", "Charts",
            "Charts (KV, running, waiting, tokens, preemptions) in place of the queues",
            "View"),
    KeySpec("legend", "i", "legend", "Legend",
            "What the timeline, overview, chart and KV-map glyphs and colours mean", "View"),
    KeySpec("about", "I", "about", "About",
            "About this scenario (its description: what to look at)", "View"),
    # Views.
    KeySpec("detail", "enter,d", "toggle_detail", "Detail", "Show the selected request's detail",
            "View"),
    KeySpec("active-first", "o", "toggle_active_first", "Active first",
            "Order the table: running, then waiting, then the rest (again: by id)", "View"),
    KeySpec("filter", "slash", "filter", "Filter", "Filter the request table", "View"),
    KeySpec("help", "question_mark,f1", "help", "Help", "All keys", "View", show=True),
    KeySpec("quit", "q", "quit", "Quit", "Quit", "View", show=True),
    KeySpec("quit-now", "ctrl+c", "quit", "Quit", "Quit (from anywhere)", "View", priority=True),
)


def bindings(group: str | None = None) -> list[Binding]:
    """Textual bindings for the registry (or one group of it)."""
    return [Binding(k.keys, k.action, k.description, show=k.show, id=k.id, tooltip=k.help,
                    priority=k.priority)
            for k in KEYMAP if group is None or k.group == group]


def defaults() -> dict[str, str]:
    """Binding id -> its default keys (what a keymap file may override)."""
    return {k.id: k.keys for k in KEYMAP}


def user_keymap(path: str) -> dict[str, str]:
    """The checked overrides in the user's keymap file (mini_engine.debug.keymap_config;
    none when there is no file); a MiniEngineError names the file, line and binding id."""
    return load_keymap(path, defaults())


def help_rows(overrides: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(group, keys as shown, what it does) for the help screen: every binding (with the
    keys `overrides` gives it, from the user's keymap file), then the mouse and palette
    actions."""
    overrides = overrides or {}
    pretty = {"right": "→", "left": "←", "shift+right": "shift+→", "shift+left": "shift+←",
              "colon": ":", "space": "space", "plus": "+", "equals_sign": "=", "minus": "-",
              "slash": "/", "question_mark": "?", "apostrophe": "'", "quotation_mark": '"'}
    return [(k.group, " ".join(pretty.get(key, key)
                               for key in overrides.get(k.id, k.keys).split(",")), k.help)
            for k in KEYMAP] + list(OTHER_ACTIONS)


# What the breakpoint dialog's keys, the mouse and the command palette do (not app bindings:
# listed in the help screen).
OTHER_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Mouse", "click/drag timeline", "Go to that step; drag scrubs"),
    ("Mouse", "wheel on timeline", "Scroll the timeline (the cursor stays)"),
    ("Mouse", "click/drag overview", "Go anywhere in the whole run (the strip above the "
                                     "timeline)"),
    ("Mouse", "click table row", "Select the request (its blocks light up in the KV map)"),
    ("Break list", "b, then type", "An event (preemption, finish req-3, kv_full, ...) or a condition "
                                   "(kv_cache_usage > 90%: 90% = 0.9; waiting > 5; "
                                   "req-3.status == RUNNING; and/or/not)"),
    ("Break list", "when / while", "Prefix of a condition: when (the default) stops where it "
                                   "becomes true, while on every step where it holds"),
    ("Break list", "tab", "From the input to the list (hit counts: at or before the cursor "
                          "/ in the run)"),
    ("Break list", "e space", "Turn the selected breakpoint on or off"),
    ("Break list", "w", "Switch the selected condition between when and while"),
    ("Break list", "delete", "Remove the selected breakpoint"),
    ("Palette", "ctrl+p", "Command palette: open a file or bundled scenario, reload, export "
                          "JSONL or Perfetto, breakpoints, break on an event"),
)
