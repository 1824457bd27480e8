"""TUI speed and memory on the large bundled workload (issue 4, "Speed"), headless.

    python benchmarks/tui_bench.py [--scenario large_workload] [--keys 30] [--no-memory]

Measures, in one fresh process:
  1. first paint: wall and CPU time from process start (imports included) to the end of
     the first compositor refresh that draws a loaded session, while the recording
     worker is still running;
  2. per-key CPU cost once the recording is complete, for the step keys (right,
     shift+right, end/home, p) and a timeline click and drag-scrub: CPU time
     (time.process_time) spent in DebuggerApp.watch_cursor (the handler) plus
     Screen._compositor_refresh and Screen._refresh_layout (the redraw), as
     textual-toolchain.md section 3 recommends, rather than Pilot wall time (which has
     a ~60-100 ms floor of idle polling). The whole-process CPU per key (including
     Textual's message dispatch and Pilot's polling) is printed too, as an upper bound;
  3. memory of the running app: ru_maxrss of this process, and the tracemalloc peak of
     a second app instance opened, recorded and stepped under tracemalloc.

Figures are printed (median and p95), never asserted. Targets (issue 4): first paint
< 1 s; each step key or scrub < 20 ms CPU. Issue 9 measures the whole-process CPU per
key against a trivial Textual app measured the same way in the same run (ratios printed
at the end): <= 2.5x for a step, <= 3.5x for a timeline click. Both are measured twice:
with Pilot (press/click then pause, which pings every widget, so the figure grows with
the number of widgets on screen) and with TerminalInput (events posted as a terminal
driver posts them, settled when the process goes quiet).
"""

from __future__ import annotations

import time

_T0_CPU = time.process_time()  # CPU since the process started: imports are counted
_T0_WALL = time.time()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _process_start_wall() -> float:
    """Wall-clock time the process started (Linux /proc), else when this module ran."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return time.time() - (uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return _T0_WALL


PROCESS_START = min(_process_start_wall(), _T0_WALL)

from textual import events  # noqa: E402
from textual.screen import Screen  # noqa: E402

from tui.app import DebuggerApp  # noqa: E402
from tui.widgets.timeline import Timeline  # noqa: E402

SIZE = (120, 36)


class Probe:
    """Wraps the handler and the redraw with CPU counters (functools.wraps keeps the
    signatures Textual inspects)."""

    def __init__(self) -> None:
        self.handler = 0.0  # CPU in DebuggerApp.watch_cursor (draws the panels for a step)
        self.redraw = 0.0  # CPU in compositor refreshes and layouts (outermost calls only)
        self.compositor = 0.0  # of which Screen._compositor_refresh
        self.layouts = 0  # Screen._refresh_layout calls
        self.gc = 0.0  # CPU in the garbage collector (anywhere)
        self.gc_max_generation = -1
        self._gc_start = 0.0
        self.first_paint: tuple[float, float] | None = None  # (wall, cpu) since process start
        self.app: DebuggerApp | None = None
        self._depth = {"handler": 0, "redraw": 0}
        self._installed: list[tuple[type, str, object]] = []

    def reset(self) -> None:
        self.handler = self.redraw = self.compositor = self.gc = 0.0
        self.layouts = 0
        self.gc_max_generation = -1

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_start = time.process_time()
        else:
            self.gc += time.process_time() - self._gc_start
            self.gc_max_generation = max(self.gc_max_generation, info["generation"])

    def install(self) -> None:
        probe = self

        def wrap(cls: type, name: str, kind: str) -> None:
            original = getattr(cls, name)

            @functools.wraps(original)
            def wrapper(self, *args, **kwargs):
                start = time.process_time()
                probe._depth[kind] += 1
                try:
                    return original(self, *args, **kwargs)
                finally:
                    probe._depth[kind] -= 1
                    spent = time.process_time() - start
                    outermost = probe._depth[kind] == 0  # a layout may refresh inside it
                    if kind == "handler":
                        if outermost:
                            probe.handler += spent
                    else:
                        if outermost:
                            probe.redraw += spent
                        if name == "_refresh_layout":
                            probe.layouts += 1
                        if name == "_compositor_refresh":
                            probe.compositor += spent
                            if (probe.first_paint is None and probe.app is not None
                                    and probe.app.session is not None
                                    and self is probe.app.screen):
                                probe.first_paint = (time.time() - PROCESS_START,
                                                     time.process_time())

            self._installed.append((cls, name, original))
            setattr(cls, name, wrapper)

        wrap(DebuggerApp, "watch_cursor", "handler")
        wrap(Screen, "_compositor_refresh", "redraw")
        wrap(Screen, "_refresh_layout", "redraw")
        gc.callbacks.append(self._on_gc)

    def uninstall(self) -> None:
        gc.callbacks.remove(self._on_gc)
        for cls, name, original in reversed(self._installed):
            setattr(cls, name, original)
        self._installed.clear()


class TerminalInput:
    """Input as a terminal delivers it, and settling without pinging every widget.

    Pilot's press/click/pause post a callback to every widget on the screen and wait for
    each (`_wait_for_screen`, ~0.17 ms of CPU per widget per pause on this machine), so
    with Pilot the per-key CPU grows with the number of widgets even when they have
    nothing to do: a test-harness cost a real terminal never pays. Here keys and mouse
    events are posted to the app the way the driver posts them (MouseDown/MouseUp: the
    app itself makes the Click), and the app has settled when a 20 ms sleep passes with
    (almost) no CPU spent: dispatch, handlers, the compositor frame are all counted."""

    QUIET = 0.0003  # s of CPU in one 20 ms sleep that still counts as settled

    def __init__(self, app) -> None:
        self.app = app

    async def pause(self) -> None:
        for _ in range(100):
            before = time.process_time()
            await asyncio.sleep(0.02)
            if time.process_time() - before < self.QUIET:
                return

    async def press(self, key: str) -> None:
        self.app.post_message(events.Key(key, None))
        await self.pause()

    def _mouse(self, cls, widget_type, offset, button: int = 1):
        widget = self.app.screen.query_one(widget_type)
        x, y = widget.region.offset + offset
        return cls(widget=None, x=x, y=y, delta_x=0, delta_y=0, button=button, shift=False,
                   meta=False, ctrl=False, screen_x=x, screen_y=y)

    async def click(self, widget_type, offset) -> None:
        self.app.post_message(self._mouse(events.MouseDown, widget_type, offset))
        self.app.post_message(self._mouse(events.MouseUp, widget_type, offset))
        await self.pause()

    async def mouse_down(self, widget_type, offset) -> None:
        self.app.post_message(self._mouse(events.MouseDown, widget_type, offset))
        await self.pause()

    async def hover(self, widget_type, offset) -> None:  # a move with the button held
        self.app.post_message(self._mouse(events.MouseMove, widget_type, offset))
        await self.pause()

    async def mouse_up(self, widget_type, offset) -> None:
        self.app.post_message(self._mouse(events.MouseUp, widget_type, offset))
        await self.pause()


def summary(values_ms: list[float]) -> str:
    values = sorted(values_ms)
    p95 = values[min(len(values) - 1, max(0, round(0.95 * len(values)) - 1))]
    return (f"median {statistics.median(values):6.2f} ms   p95 {p95:6.2f} ms   "
            f"max {values[-1]:6.2f} ms   (n={len(values)})")


async def measure_keys(app: DebuggerApp, pilot, probe: Probe, n: int) -> dict[str, dict]:
    """CPU per action: {name: {"instrumented": [...ms], "process": [...ms]}}. `pilot` is
    the Pilot or a TerminalInput (the same press/click/hover/pause methods)."""
    results: dict[str, dict] = {}
    timeline = app.query_one(Timeline)
    last = app.session.last_step

    async def one(name: str, action) -> None:
        probe.reset()
        before = time.process_time()
        await action()
        await pilot.pause()
        total = time.process_time() - before
        entry = results.setdefault(name, {"instrumented": [], "handler": [], "compositor": [],
                                          "process": [], "layouts": [], "gc": [], "gen2": 0})
        entry["layouts"].append(probe.layouts)
        entry["gc"].append(1000 * probe.gc)
        entry["gen2"] += probe.gc_max_generation == 2
        entry["instrumented"].append(1000 * (probe.handler + probe.redraw))
        entry["handler"].append(1000 * probe.handler)
        entry["compositor"].append(1000 * probe.compositor)
        entry["process"].append(1000 * total)

    def key(k: str):
        return lambda: pilot.press(k)

    app.go(last // 4)
    await pilot.pause()
    for _ in range(n):
        await one("right", key("right"))
    app.go(last // 2)
    await pilot.pause()
    for _ in range(n):
        await one("shift+right (10 steps)", key("shift+right"))
    for i in range(n):
        await one("end / home", key("end" if i % 2 == 0 else "home"))
    app.go(0)
    await pilot.pause()
    for _ in range(n):
        await one("p (next preemption)", key("p"))
    app.go(last // 3)
    await pilot.pause()
    width = timeline.scrollable_content_region.width
    for i in range(n):
        k = (7 + 37 * i) % width
        await one("timeline click", lambda k=k: pilot.click(Timeline, offset=(1 + k, 1)))
    # Drag-scrub: one mouse move per sample while the button is held.
    await pilot.mouse_down(Timeline, offset=(1 + 2, 1))
    await pilot.pause()
    width = min(width, app.query_one(Timeline).scrollable_content_region.width)
    for i in range(n):
        k = 3 + (5 * i) % (width - 4)
        await one("timeline drag (per move)",
                  lambda k=k: pilot.hover(Timeline, offset=(1 + k, 1)))
    await pilot.mouse_up(Timeline, offset=(1 + 3, 1))
    return results


RATIO_ACTIONS = (("right", "right", 2.5), ("shift+right (10 steps)", "shift+right", 2.5),
                 ("timeline click", "timeline click", 3.5))  # (action, label, issue target)


def print_ratios(results: dict[str, dict], trivial_ms: float, how: str) -> None:
    print(f"ratio to the trivial app ({how}; trivial {trivial_ms:.2f} ms/key):")
    for name, label, target in RATIO_ACTIONS:
        if name in results:
            median = statistics.median(results[name]["process"])
            print(f"  {label:<16} {median:6.2f} ms = {median / trivial_ms:4.1f}x   "
                  f"(target <= {target}x)")


async def run_timing(scenario: str, n: int) -> tuple[dict, dict]:
    """First paint, then per-key CPU with Pilot and with TerminalInput."""
    probe = Probe()
    probe.install()
    app = DebuggerApp(scenario)
    app.theme = "textual-dark"
    probe.app = app
    app_start_wall = time.time() - PROCESS_START
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(500):
            if probe.first_paint is not None:
                break
            await asyncio.sleep(0.005)
        steps_at_paint = app.session.last_step
        complete_at_paint = app.session.complete
        await app.workers.wait_for_complete()
        recorded_wall = time.time() - PROCESS_START
        await pilot.pause()
        session = app.session
        print(f"scenario {scenario}: {len(session.request_index)} requests, "
              f"{session.last_step} steps; "
              f"terminal {SIZE[0]}x{SIZE[1]} (headless run_test)")
        print()
        print("first paint (from process start, imports included):")
        if probe.first_paint is None:
            print("  no compositor refresh seen")
        else:
            wall, cpu = probe.first_paint
            print(f"  wall {wall * 1000:7.1f} ms   CPU {cpu * 1000:7.1f} ms   "
                  f"(app created at {app_start_wall * 1000:.0f} ms; "
                  f"{steps_at_paint} steps recorded then, complete={complete_at_paint})")
        print(f"  recording complete at {recorded_wall:.2f} s wall (background worker)")
        print()
        results = await measure_keys(app, pilot, probe, n)
        print("per action, CPU: handler (watch_cursor) + redraw (compositor refresh + layout)")
        for name, entry in results.items():
            print(f"  {name:<26} {summary(entry['instrumented'])}")
        print("  of which the handler alone:")
        for name, entry in results.items():
            print(f"    {name:<24} {summary(entry['handler'])}")
        print("  of which compositor refreshes alone:")
        for name, entry in results.items():
            print(f"    {name:<24} {summary(entry['compositor'])}")
        print("  layouts per action, and garbage collection (CPU; full gen-2 collections):")
        for name, entry in results.items():
            print(f"    {name:<24} layouts {statistics.mean(entry['layouts']):.1f}/action   "
                  f"GC total {sum(entry['gc']):6.1f} ms over {len(entry['gc'])} actions, "
                  f"max {max(entry['gc']):6.1f} ms; actions with a gen-2 collection: "
                  f"{entry['gen2']}")
        print("per action, whole-process CPU (dispatch + Pilot polling included; upper bound):")
        for name, entry in results.items():
            print(f"  {name:<26} {summary(entry['process'])}")
        terminal = await measure_keys(app, TerminalInput(app), probe, n)
        print("per action, whole-process CPU with terminal-like input (TerminalInput: no "
              "per-widget Pilot callbacks):")
        for name, entry in terminal.items():
            print(f"  {name:<26} {summary(entry['process'])}")
    probe.uninstall()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print()
    print(f"memory: ru_maxrss {rss:.0f} MB after opening, recording and stepping the workload")
    return results, terminal


async def run_memory(scenario: str) -> None:
    tracemalloc.start()
    app = DebuggerApp(scenario)
    app.theme = "textual-dark"
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("right", "shift+right", "end", "home", "p")
        await pilot.pause()
        current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"memory: tracemalloc peak {peak / 2**20:.0f} MB, current {current / 2**20:.0f} MB "
          f"(a second app instance, traced from creation); ru_maxrss now {rss:.0f} MB")


async def run_trivial(n: int) -> dict[str, float]:
    """Median whole-process CPU per key press of a trivial Textual app (one Static, one
    binding), measured as run_timing measures the debugger (with Pilot, and with
    TerminalInput): the baselines of the ratios."""
    from textual.app import App
    from textual.widgets import Static

    class Trivial(App):
        BINDINGS = [("right", "bump", "Bump")]

        def compose(self):
            yield Static("0", id="n")

        def action_bump(self) -> None:
            self.query_one(Static).update(str(time.process_time()))

    app = Trivial()
    medians = {}
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for how, drv in (("pilot", pilot), ("terminal", TerminalInput(app))):
            samples = []
            for _ in range(n):
                before = time.process_time()
                await drv.press("right")
                await drv.pause()
                samples.append(1000 * (time.process_time() - before))
            print(f"trivial app (one Static, one binding), whole-process CPU per key "
                  f"({how}): {summary(samples)}")
            medians[how] = statistics.median(samples)
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="large_workload")
    parser.add_argument("--keys", type=int, default=30, help="samples per action")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)
    os.environ.pop("NO_COLOR", None)
    print("command: python benchmarks/tui_bench.py " + " ".join(argv or sys.argv[1:]))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    # The debugger first: its first paint counts from process start.
    results, terminal = asyncio.run(run_timing(args.scenario, args.keys))
    print()
    trivial = asyncio.run(run_trivial(args.keys))
    print_ratios(results, trivial["pilot"], "Pilot press + pause, as the issue measures")
    print_ratios(terminal, trivial["terminal"], "terminal-like input")
    if not args.no_memory:
        asyncio.run(run_memory(args.scenario))
    return 0


if __name__ == "__main__":
    sys.exit(main())
