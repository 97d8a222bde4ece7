"""Running the engine over files and publishing its documents.

* :func:`replay` — complete files (a rotated set, plain or gzip) through a fresh
  engine, then one publish.
* :class:`FollowRunner` — a live log: the tail-follower feeds the engine; on the
  throttle the engine state and the follower position are checkpointed together
  (one atomic document), then both documents are published. A restart resumes
  from the checkpoint, so no event is lost or counted twice; an unusable
  checkpoint stops it with a clear error instead of a silent fresh start. A failed
  checkpoint or publish (read-only or full disk) is reported and retried on the
  next interval while consumption goes on.

IO lives here; the engine and the score are pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution.config import IntelConfig, ScoreConfig
from execution.intel.expectancy_v6 import (
    EngineStateError,
    ExpectancyEngine,
    iter_log_frames,
    log_files,
)
from execution.intel.symbol_score_v6 import score_symbols
from execution.state_publish import publish_intel, read_state
from streaming.checkpoint import CheckpointStore
from streaming.follow import Follower, Position
from streaming.framing import Frame
from streaming.throttle import Throttle

log = logging.getLogger("intel")
ROUTER_HEALTH_FILE = "router_health.json"
CHECKPOINT_FORMAT = "expectancy_v6-follow"
REPORT_INTERVAL_S = 60.0
# Lines per engine batch in a replay: large enough that the columnar path's
# per-group cost vanishes, small enough to bound the decoded events held at once.
REPLAY_BATCH = 1 << 16


@dataclass(slots=True)
class Publisher:
    """Builds both documents from an engine and writes them atomically."""

    state_dir: Path
    score: ScoreConfig
    wall: Callable[[], float] = time.time

    def documents(self, engine: ExpectancyEngine) -> tuple[dict[str, Any], dict[str, Any]]:
        now = self.wall()
        expectancy = engine.document(generated_at=now)
        health = read_state(self.state_dir, ROUTER_HEALTH_FILE)
        scores = score_symbols(expectancy, health, config=self.score, generated_at=now)
        return expectancy, scores

    def publish(self, engine: ExpectancyEngine) -> tuple[dict[str, Any], dict[str, Any]]:
        expectancy, scores = self.documents(engine)
        publish_intel(self.state_dir, expectancy, scores)
        return expectancy, scores


@dataclass(slots=True)
class ReplayResult:
    expectancy: dict[str, Any]
    scores: dict[str, Any]
    files: list[Path]
    lines: int
    seconds: float


def replay_files(paths: Iterable[str | Path], *, rotated: bool = True) -> list[Path]:
    """The files to replay, oldest first, each once; a missing path is an error."""
    out: dict[Path, None] = {}
    for p in paths:
        path = Path(p)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if path.is_dir():
            raise IsADirectoryError(f"{path}: is a directory, not a log file")
        for f in log_files(path, rotated=rotated):
            out[f.resolve()] = None
    return list(out)


def replay(
    paths: Iterable[str | Path],
    cfg: IntelConfig,
    *,
    state_dir: str | Path,
    windows: Iterable[str] | None = None,
    rotated: bool = True,
    progress: Callable[[int], None] | None = None,
    wall: Callable[[], float] = time.time,
    publish: bool = True,
) -> ReplayResult:
    """Replay complete log files through a fresh engine and publish once."""
    started = time.perf_counter()
    files = replay_files(paths, rotated=rotated)
    engine = ExpectancyEngine.from_config(cfg, windows)
    lines = 0
    batch: list[Frame] = []
    for frames, _ in iter_log_frames(files):
        batch += frames
        if len(batch) >= REPLAY_BATCH:
            engine.feed_many(batch)
            lines += len(batch)
            batch = []
            if progress is not None:
                progress(lines)
    engine.feed_many(batch)
    lines += len(batch)
    publisher = Publisher(Path(state_dir), cfg.score, wall)
    expectancy, scores = (publisher.publish if publish else publisher.documents)(engine)
    return ReplayResult(expectancy, scores, files, lines, time.perf_counter() - started)


@dataclass(slots=True)
class FollowStats:
    polls: int = 0
    lines: int = 0
    gaps: int = 0
    commits: int = 0
    commit_failures: int = 0
    resumed_from: str = ""  # "", "current" or "previous" checkpoint generation
    last_error: str = ""


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
    ) -> None:
        self.path = Path(path)
        self.state_dir = Path(state_dir)
        self.store = CheckpointStore(
            Path(checkpoint) if checkpoint else self.state_dir / "expectancy_v6.ckpt"
        )
        self.engine = ExpectancyEngine.from_config(cfg)
        self.publisher = Publisher(self.state_dir, cfg.score, wall)
        self.throttle = Throttle(cfg.publish_interval_s if interval is None else interval, clock)
        self._report = Throttle(REPORT_INTERVAL_S, clock)
        self.stats = FollowStats()
        position = self._resume()
        self.follower = Follower(self.path, position, max_poll_bytes=max_poll_bytes)
        self._dirty = True  # publish once at the first commit, even with nothing new

    def _resume(self) -> Position | None:
        loaded = self.store.load()  # CheckpointError: refuse to start
        if loaded is None:
            return None
        payload = loaded.payload
        if not isinstance(payload, Mapping) or payload.get("format") != CHECKPOINT_FORMAT:
            raise EngineStateError(f"{self.store.path}: not a checkpoint of this follower")
        source = str(self.path.resolve())
        if payload.get("source") != source:
            raise EngineStateError(
                f"{self.store.path}: checkpoint follows {payload.get('source')}, not {source}"
            )
        self.engine.restore(payload["engine"])
        if loaded.problem:
            log.warning("checkpoint: %s; resumed from the previous generation", loaded.problem)
        self.stats.resumed_from = loaded.generation
        return Position.from_state(payload["position"])

    def poll(self) -> bool:
        """Read what is new and feed it; True when more is waiting right now."""
        batch = self.follower.poll()
        self.stats.polls += 1
        if batch.frames or batch.gaps:
            self._dirty = True
        self.engine.feed_many(batch.frames)
        self.stats.lines += len(batch.frames)
        for gap in batch.gaps:
            log.warning("possible data loss (%s) in %s: %s", gap.kind, gap.path, gap.detail)
        self.engine.note_gaps(len(batch.gaps))
        self.stats.gaps += len(batch.gaps)
        return batch.more

    def checkpoint_payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "source": str(self.path.resolve()),
            "engine": self.engine.to_state(),
            "position": self.follower.position.to_state(),
        }

    def commit(self) -> bool:
        """Checkpoint, then publish. A failure is counted, reported at most once per
        minute, and retried at the next commit; consumption is unaffected."""
        if not self._dirty:
            return True
        try:
            self.store.save(self.checkpoint_payload())
            self.publisher.publish(self.engine)
        except OSError as exc:
            self.stats.commit_failures += 1
            self.stats.last_error = f"{exc.filename or ''}: {exc.strerror or exc}"
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
        return more

    def run(
        self,
        should_stop: Callable[[], bool],
        *,
        poll_interval: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> FollowStats:
        """Follow until ``should_stop()``; then read what is left and commit."""
        try:
            while not should_stop():
                if not self.step():
                    sleep(poll_interval)
            while self.poll():
                pass
            self.commit()
        finally:
            self.follower.close()
        return self.stats

    def close(self) -> None:
        self.follower.close()
