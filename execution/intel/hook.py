"""The in-executor tap: keeps ``expectancy_v6.json`` and ``symbol_scores_v6.json``
current while the executor runs, without touching what it does.

Both kinds observe the executor's **own log file**, not its objects, and are called
through :class:`~execution.executor_live.GuardedHooks`, which counts and reports
any failure, so nothing they do can reach an order. ``close`` drains the rest of
the log and publishes a last time, so the final documents equal a replay of it.

* :class:`IntelProcessHook` (``"hook": "process"``, the default) runs the engine in
  a process of its own that follows the log: the loop's thread does nothing per
  bar, so the tap adds no latency to the loop however many symbols it scores.
* :class:`IntelHook` (``"hook": "inline"``) works on the loop's own thread: at most
  once per ``publish_interval_s`` (an injected clock) it reads at most
  ``max_bytes_per_call`` of new log lines through the tail-follower, feeds them to
  the engine and publishes. Its work per call is bounded and it holds no thread
  that could stall the loop through the interpreter lock.

A missing log is skipped quietly (nothing is published until there is an event).
The tap starts from the beginning of the retained log each time the executor
starts (a dry run starts a fresh log); a long-lived deployment that wants restart
without re-reading runs ``python -m execution.intel follow`` beside the executor,
which checkpoints.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from execution.config import IntelConfig
from execution.intel.events import source_label
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.history import Snapshot, Snapshotter
from execution.intel.history_store import HistoryStore, open_store
from execution.intel.publisher import Publisher
from streaming.follow import Follower
from streaming.throttle import Throttle

DEFAULT_MAX_BYTES_PER_CALL = 256 << 10


class IntelHook:
    """An :class:`~execution.executor_live.ExecutorHook` feeding the intel engine."""

    __slots__ = (
        "_dirty",
        "_history_at",
        "_snapshots",
        "engine",
        "follower",
        "history",
        "publisher",
        "publishes",
        "snapper",
        "throttle",
    )

    def __init__(
        self,
        metrics_path: str | Path,
        state_dir: str | Path,
        cfg: IntelConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_bytes_per_call: int = DEFAULT_MAX_BYTES_PER_CALL,
    ) -> None:
        self.engine = ExpectancyEngine.from_config(cfg, source=source_label(metrics_path))
        self.follower = Follower(metrics_path, max_poll_bytes=max_bytes_per_call)
        self.publisher = Publisher(Path(state_dir), cfg.score, wall, mode="follow")
        self.throttle = Throttle(cfg.publish_interval_s, clock)
        self.publishes = 0
        self._dirty = False
        # the history (docs/history.md): snapshots are stored at each publish (the
        # store is opened then, so a tap that never publishes creates nothing)
        self.history: HistoryStore | None = None
        self.snapper: Snapshotter | None = None
        self._snapshots: list[Snapshot] = []
        h = cfg.history
        self._history_at = (Path(state_dir), h)
        if h.enabled:
            self.snapper = Snapshotter(self.engine, h.cadence_s, h.windows, cfg.score)

    def poll(self) -> bool:
        """Read and feed what is new (a bounded read); True when more is waiting."""
        batch = self.follower.poll()
        if batch.frames or batch.gaps:
            self._dirty = True
            if self.snapper is None:
                self.engine.feed_many(batch.frames)
            else:
                self._snapshots += self.snapper.feed(batch.frames)
            self.engine.note_gaps(len(batch.gaps))
        return batch.more

    def publish(self) -> None:
        """Write both documents, when anything changed since the last time."""
        if self._dirty:
            if self._snapshots:
                if self.history is None:
                    self.history = open_store(*self._history_at)
                self.history.append(self._snapshots)
                self._snapshots = []
            self.publisher.publish(self.engine)
            self.publishes += 1
            self._dirty = False

    def on_bar(self, ts: float) -> None:
        if self.throttle.due():
            self.poll()
            self.publish()

    def close(self) -> None:
        try:
            while self.poll():
                pass
            self.publish()
        finally:
            self.follower.close()
            if self.history is not None:
                self.history.close()


# How often the tap's process looks for new log lines when it has caught up, and how
# long the executor waits at close for it to drain the log.
POLL_INTERVAL_S = 0.05
CLOSE_TIMEOUT_S = 300.0


def follow_until(
    metrics_path: str,
    state_dir: str,
    cfg: IntelConfig,
    stop: Any,
    poll_interval: float = POLL_INTERVAL_S,
) -> None:
    """The tap's process: follow the log, publish on the throttle, and when ``stop``
    is set, drain the log and publish a last time."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(TAP_NICENESS)  # the executor comes first when both want a core
    hook = IntelHook(metrics_path, state_dir, cfg, max_bytes_per_call=PROCESS_MAX_BYTES)
    try:
        while not stop.is_set():
            more = hook.poll()
            if hook.throttle.due():
                hook.publish()
            if not more:
                stop.wait(poll_interval)
    finally:
        hook.close()


PROCESS_MAX_BYTES = 8 << 20
TAP_NICENESS = 10


class IntelProcessHook:
    """An :class:`~execution.executor_live.ExecutorHook` whose engine lives in its
    own process (a fresh interpreter: nothing of the executor's state is shared).
    ``on_bar`` does nothing; ``close`` asks the process to drain and publish, waits
    for it, and raises (to the guard) if it failed."""

    __slots__ = ("_proc", "_stop", "timeout")

    def __init__(
        self,
        metrics_path: str | Path,
        state_dir: str | Path,
        cfg: IntelConfig,
        *,
        timeout: float = CLOSE_TIMEOUT_S,
    ) -> None:
        ctx = mp.get_context("spawn")
        self._stop = ctx.Event()
        self.timeout = timeout
        self._proc = ctx.Process(
            target=follow_until,
            args=(str(metrics_path), str(state_dir), cfg, self._stop),
            name="intel-tap",
            daemon=True,
        )
        self._proc.start()

    @property
    def alive(self) -> bool:
        return self._proc.is_alive()

    def on_bar(self, ts: float) -> None:
        """Nothing: the tap's process follows the log on its own."""

    def close(self) -> None:
        self._stop.set()
        self._proc.join(self.timeout)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join()
            raise RuntimeError(f"intel tap did not finish within {self.timeout} s")
        if self._proc.exitcode != 0:
            raise RuntimeError(f"intel tap exited with status {self._proc.exitcode}")
