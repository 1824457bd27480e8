"""The engine states a recording keeps to resume from, within a memory budget.

A live recording keeps a `RunnerSnapshot` every SNAPSHOT_STEPS steps, so resuming at
any recorded step (`resume_at`: the debugger's "what if" and live view) replays fewer
than SNAPSHOT_STEPS steps. A snapshot packs the block pool (about 16 bytes a block: 16
MB with a million blocks) and the state of every request that changed (a decoding
request's holds all its tokens), and a long run would keep thousands. So the snapshots
of one recording stay within about MAX_SNAPSHOT_BYTES (`snapshot_bytes` estimates each):
past it, every other one is dropped and the interval doubles (resuming then replays up
to that interval instead; the result is the same).
"""

from __future__ import annotations

from mini_engine.recording.store import Recording
from mini_engine.scenarios.runner import RunnerSnapshot, ScenarioRunner

__all__ = ["MAX_SNAPSHOT_BYTES", "SNAPSHOT_STEPS", "SnapshotKeeper", "resume_at", "snapshot_bytes"]

SNAPSHOT_STEPS = 64  # a live recording keeps the engine's state every this many steps (at first)
MAX_SNAPSHOT_BYTES = 256 * 1024 ** 2  # what one recording's snapshots may hold, about
SNAPSHOT_BASE_BYTES = 4096  # queues and counters, roughly
REQUEST_STATE_BYTES = 400  # one request's state, its token tuples aside, roughly
MIN_SNAPSHOTS = 8  # kept whatever their size


class SnapshotKeeper:
    """Decides which steps of `recording` get a snapshot, and thins them to the budget."""

    def __init__(self, recording: Recording) -> None:
        self.snapshots = recording.snapshots
        self.recording = recording
        if not recording.snapshot_every:
            recording.snapshot_every = SNAPSHOT_STEPS
        self.sizes = {step: 0 for step in self.snapshots}  # estimated bytes of each one kept
        self.last: RunnerSnapshot | None = None

    def due(self, step: int) -> bool:
        return step % self.recording.snapshot_every == 0 and step not in self.snapshots

    def keep(self, step: int, snapshot: RunnerSnapshot) -> None:
        self.snapshots[step] = snapshot
        self.sizes[step] = snapshot_bytes(snapshot, self.last)
        self.last = snapshot
        while sum(self.sizes.values()) > MAX_SNAPSHOT_BYTES and len(self.snapshots) > MIN_SNAPSHOTS:
            every = self.recording.snapshot_every = self.recording.snapshot_every * 2
            for k in [k for k in self.snapshots if k % every]:
                del self.snapshots[k]
                self.sizes.pop(k, None)


def snapshot_bytes(snapshot: RunnerSnapshot, previous: RunnerSnapshot | None) -> int:
    """About how much memory `snapshot` adds to `previous`: its packed block pool, plus
    the request states it does not share with it (a decoding request's state holds all
    its tokens, so long runs of many requests weigh more than the block count says)."""
    engine, pool = snapshot.engine, snapshot.engine.block_pool
    size = SNAPSHOT_BASE_BYTES
    for packed in (pool.ref_cnt, pool.block_hash, pool.free_queue, pool.cached_hashes,
                   pool.cached_blocks):
        size += len(packed) if isinstance(packed, bytes) else 40 * len(packed)
    shared = set(map(id, previous.engine.requests)) if previous is not None else set()
    for state in engine.requests:
        if id(state) not in shared:
            size += REQUEST_STATE_BYTES + 8 * (len(state.output_token_ids)
                                               + len(state.block_hashes))
    return size


def resume_at(recording: Recording, step: int, **changed_settings) -> ScenarioRunner:
    """A live runner at frame `step` of a recorded run, optionally with new scheduler settings.

    It resumes the nearest earlier engine snapshot the recording keeps and replays the
    steps after it (fewer than SNAPSHOT_STEPS while the budget allows). A recording
    without them (loaded from a file) gets them made on the way, by replaying its
    scenario once, and keeps them.
    """
    if not 0 <= step <= recording.num_steps:
        raise IndexError(f"step {step} out of range 0..{recording.num_steps}")
    keeper = SnapshotKeeper(recording)
    snapshots = recording.snapshots
    base = max((k for k in snapshots if k <= step), default=None)
    runner = (ScenarioRunner.resume(snapshots[base]) if base is not None
              else ScenarioRunner(recording.scenario))
    runner.engine.take_events()  # frame `base` is recorded already
    while runner.steps_done < step:
        if keeper.due(runner.steps_done):
            keeper.keep(runner.steps_done, runner.snapshot())
        runner.step()
        runner.engine.take_events()  # already in the recording's frames
    if changed_settings:
        return ScenarioRunner.resume(runner.snapshot(), **changed_settings)
    return runner
