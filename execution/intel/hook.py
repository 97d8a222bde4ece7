"""The in-executor tap: keeps ``expectancy_v6.json`` and ``symbol_scores_v6.json``
current while the executor runs, without touching what it does.

It observes the executor's **own log file**, not its objects: at most once per
``publish_interval_s`` (an injected clock), on the loop's own thread, it reads at
most ``max_bytes_per_call`` of new log lines through the tail-follower, feeds them
to the engine and publishes. So its work per call is bounded, it holds no thread
that could stall the loop through the interpreter lock, and nothing it does can
reach an order: the executor calls it through
:class:`~execution.executor_live.GuardedHooks`, which counts and reports any
failure. A missing log is skipped quietly (nothing is published until there is an
event). ``close`` drains the rest of the log and publishes a last time, so the
final documents equal a replay of the same log.

The tap starts from the beginning of the retained log each time the executor
starts (a dry run starts a fresh log); a long-lived deployment that wants restart
without re-reading runs ``python -m execution.intel follow`` beside the executor,
which checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from execution.config import IntelConfig
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.runner import Publisher
from streaming.follow import Follower
from streaming.throttle import Throttle

DEFAULT_MAX_BYTES_PER_CALL = 256 << 10


class IntelHook:
    """An :class:`~execution.executor_live.ExecutorHook` feeding the intel engine."""

    __slots__ = ("_dirty", "engine", "follower", "publisher", "publishes", "throttle")

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
        self.engine = ExpectancyEngine.from_config(cfg)
        self.follower = Follower(metrics_path, max_poll_bytes=max_bytes_per_call)
        self.publisher = Publisher(Path(state_dir), cfg.score, wall)
        self.throttle = Throttle(cfg.publish_interval_s, clock)
        self.publishes = 0
        self._dirty = False

    def _poll(self) -> bool:
        batch = self.follower.poll()
        if batch.frames or batch.gaps:
            self._dirty = True
            self.engine.feed_many(batch.frames)
            self.engine.note_gaps(len(batch.gaps))
        return batch.more

    def _publish(self) -> None:
        if self._dirty:
            self.publisher.publish(self.engine)
            self.publishes += 1
            self._dirty = False

    def on_bar(self, ts: float) -> None:
        if self.throttle.due():
            self._poll()
            self._publish()

    def close(self) -> None:
        try:
            while self._poll():
                pass
            self._publish()
        finally:
            self.follower.close()
