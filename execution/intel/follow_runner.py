"""Following one live log: the tail-follower feeds the engine, checkpoints and publishes.

:class:`FollowRunner` polls the rotated log (:class:`streaming.follow.Follower`)
and feeds what is new to the engine (through the history's snapshotter when the
history is on). On the throttle it stores the snapshots taken, checkpoints the
engine state and the follower position together (one atomic document), then
publishes both documents. A restart resumes from the checkpoint, so no event is
lost or counted twice; an unusable checkpoint stops it with a clear error instead
of a silent fresh start. A failed checkpoint or publish (read-only or full disk)
is reported and retried on the next interval while consumption goes on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execution.config import IntelConfig
from execution.intel.events import source_label
from execution.intel.expectancy_v6 import EngineStateError, ExpectancyEngine
from execution.intel.history import Snapshot, Snapshotter
from execution.intel.history_store import HistoryError, HistoryStore, open_store
from execution.intel.publisher import Publisher
from streaming.checkpoint import CheckpointStore
from streaming.follow import Follower
from streaming.identity import Position
from streaming.inputs import as_text
from streaming.throttle import Throttle

log = logging.getLogger("intel")
CHECKPOINT_FORMAT = "expectancy_v6-follow"
CHECKPOINT_FILE = "expectancy_v6.ckpt"  # in the state directory, unless given
REPORT_INTERVAL_S = 60.0


@dataclass(slots=True)
class FollowStats:
    polls: int = 0
    lines: int = 0
    gaps: int = 0
    commits: int = 0
    commit_failures: int = 0
    resumed_from: str = ""  # "", "current" or "previous" checkpoint generation
    last_error: str = ""
    unavailable: dict[str, str] = field(default_factory=dict)  # file -> why, right now


class FollowRunner:
    """Follows one live log; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        cfg: IntelConfig,
        *,
        state_dir: str | Path,
        checkpoint: str | Path | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        max_poll_bytes: int = 8 << 20,
        history: bool | None = None,
        heartbeat: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.state_dir = Path(state_dir)
        self.store = CheckpointStore(
            Path(checkpoint) if checkpoint else self.state_dir / CHECKPOINT_FILE
        )
        self.engine = ExpectancyEngine.from_config(cfg, source=source_label(path))
        self.publisher = Publisher(self.state_dir, cfg.score, wall, mode="follow")
        self.clock = clock
        self.throttle = Throttle(cfg.publish_interval_s if interval is None else interval, clock)
        self._report = Throttle(REPORT_INTERVAL_S, clock)
        beat = cfg.heartbeat_s if heartbeat is None else heartbeat
        self._heartbeat = Throttle(beat, clock) if beat > 0 else None
        if self._heartbeat is not None:
            self._heartbeat.mark()  # the first line after one interval
        self.wall = wall
        self.stats = FollowStats()
        h = cfg.history
        self.snapper: Snapshotter | None = None
        self.history: HistoryStore | None = None
        self._snapshots: list[Snapshot] = []  # taken, not yet in the history
        if h.enabled if history is None else history:
            self.history = open_store(self.state_dir, h)
            self.snapper = Snapshotter(self.engine, h.cadence_s, h.windows, cfg.score)
        position = self._resume()
        self.follower = Follower(
            self.path, position, max_poll_bytes=max_poll_bytes, grace_s=cfg.follow_grace_s
        )
        self._dirty = True  # publish once at the first commit, even with nothing new

    def _resume(self) -> Position | None:
        loaded = self.store.load()  # CheckpointError: refuse to start
        if loaded is None:
            return None
        payload = loaded.payload
        if not isinstance(payload, Mapping) or payload.get("format") != CHECKPOINT_FORMAT:
            raise EngineStateError(f"{self.store.path}: not a checkpoint of this follower")
        source = as_text(self.path.resolve())
        if payload.get("source") != source:
            raise EngineStateError(
                f"{self.store.path}: checkpoint follows {payload.get('source')}, not {source}"
            )
        self.engine.restore(payload["engine"])
        if self.snapper is not None:
            self.snapper.restore(payload.get("history"))
        if loaded.problem:
            log.warning("checkpoint: %s; resumed from the previous generation", loaded.problem)
        self.stats.resumed_from = loaded.generation
        return Position.from_state(payload["position"])

    def poll(self) -> bool:
        """Read what is new and feed it; True when more is waiting right now."""
        batch = self.follower.poll()
        self.stats.polls += 1
        self.stats.unavailable = self.follower.unavailable
        if batch.frames or batch.gaps:
            self._dirty = True
        if self.snapper is None:
            self.engine.feed_many(batch.frames)
        else:
            self._snapshots += self.snapper.feed(batch.frames)
        self.stats.lines += len(batch.frames)
        for gap in batch.gaps:
            log.warning("possible data loss (%s) in %s: %s", gap.kind, gap.path, gap.detail)
        self.engine.note_gaps(len(batch.gaps))
        self.stats.gaps += len(batch.gaps)
        return batch.more

    def checkpoint_payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "source": as_text(self.path.resolve()),
            "engine": self.engine.to_state(),
            "position": self.follower.position.to_state(),
            "history": None if self.snapper is None else self.snapper.to_state(),
        }

    def commit(self) -> bool:
        """Store the snapshots taken, checkpoint, then publish (so a checkpoint never
        holds a state past a snapshot that is not in the history). A failure is
        counted, reported at most once per minute, and retried at the next commit;
        consumption is unaffected."""
        if not self._dirty:
            return True
        try:
            if self.history is not None and self._snapshots:
                self.history.append(self._snapshots)
                self._snapshots = []
            self.store.save(self.checkpoint_payload())
            self.publisher.publish(self.engine)
        except (OSError, HistoryError) as exc:
            self.stats.commit_failures += 1
            self.stats.last_error = (
                f"{exc.filename or ''}: {exc.strerror or exc}"
                if isinstance(exc, OSError)
                else str(exc)
            )
            if self._report.due():
                log.warning(
                    "cannot checkpoint/publish (%d failures so far): %s; will retry",
                    self.stats.commit_failures,
                    self.stats.last_error,
                )
            return False
        self._dirty = False
        self.stats.commits += 1
        return True

    def step(self) -> bool:
        """One poll, and a commit when the throttle says so; True when more is waiting."""
        more = self.poll()
        if self.throttle.due():
            self.commit()
        if self._heartbeat is not None and self._heartbeat.due():
            log.info("%s", self.heartbeat_line())
        return more

    def lag_bytes(self) -> int:
        """Bytes of the followed files not consumed yet (the live file's size now)."""
        lag = 0
        for f in self.follower.position.files:
            size = f.size
            if f.live:
                with contextlib.suppress(OSError):
                    size = max(size, self.path.stat().st_size)
            lag += max(0, size - f.offset)
        return lag

    def heartbeat_line(self) -> str:
        """What follow is doing: events applied, lines rejected, how far behind."""
        i = self.engine.inputs
        wm = i.watermark
        behind = "—" if wm is None else f"{max(0.0, self.wall() - wm):,.0f} s"
        return (
            f"heartbeat: {i.orders + i.trades:,} events, {sum(i.rejected.values()):,} "
            f"rejected, {self.stats.lines:,} lines read this run; lag {self.lag_bytes():,} "
            f"bytes, event time {behind} behind the clock; {self.stats.commits} publishes, "
            f"{self.stats.commit_failures} failed"
        )

    def run(
        self,
        should_stop: Callable[[], bool],
        *,
        poll_interval: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> FollowStats:
        """Follow until ``should_stop()``; then read what is waiting for at most one
        more ``poll_interval`` and commit (a larger backlog is read after a restart,
        from the checkpoint), so a stop takes effect within about one interval."""
        try:
            while not should_stop():
                if not self.step():
                    sleep(poll_interval)
            deadline = self.clock() + poll_interval
            while self.poll() and self.clock() < deadline:
                pass
            self.commit()
        finally:
            self.close()
        return self.stats

    def close(self) -> None:
        self.follower.close()
        if self.history is not None:
            self.history.close()
