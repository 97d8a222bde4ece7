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

import copy
import logging
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execution.config import IntelConfig, ScoreConfig
from execution.intel.events import make_decoder
from execution.intel.expectancy_v6 import (
    EngineStateError,
    ExpectancyEngine,
    log_files,
)
from execution.intel.symbol_score_v6 import score_symbols
from execution.state_publish import publish_intel, read_state
from streaming.checkpoint import CheckpointStore
from streaming.follow import Follower
from streaming.framing import Frame
from streaming.identity import Position
from streaming.inputs import iter_frames
from streaming.throttle import Throttle

log = logging.getLogger("intel")
ROUTER_HEALTH_FILE = "router_health.json"
CHECKPOINT_FORMAT = "expectancy_v6-follow"
CHECKPOINT_FILE = "expectancy_v6.ckpt"  # in the state directory, unless given
REPORT_INTERVAL_S = 60.0
# Lines per engine batch in a replay: large enough that the columnar path's
# per-group cost vanishes, small enough to bound the decoded events held at once.
REPLAY_BATCH = 1 << 16
# Bytes per read in a replay (about 50,000 lines of the canonical log).
REPLAY_READ = 16 << 20


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
    # how the log was folded: "one process", "N parts", or why parts fell back
    parallel: str = "one process"


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


# Plain log bytes from which a replay folds parts in parallel processes.
PARALLEL_MIN_BYTES = 32 << 20
# Bytes at the end of the newest file read for the watermark floor.
FLOOR_TAIL_BYTES = 1 << 16
# A piece of a log file: path, first byte, byte to stop before (None: its end).
Piece = tuple[Path, int, int | None]


def default_jobs() -> int:
    """The processes a replay may use: the cores this process may run on, at most 4
    (each part carries its own copy of the time windows to the merge)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def _line_start_after(path: Path, pos: int) -> int:
    """The offset of the first line that starts at or after ``pos`` (the file's size
    when none does)."""
    with open(path, "rb") as fh:
        fh.seek(max(pos - 1, 0))
        at = fh.tell()
        while block := fh.read(1 << 16):
            nl = block.find(b"\n")
            if nl >= 0:
                return at + nl + 1
            at += len(block)
    return at


def plan_parts(files: Sequence[Path], parts: int) -> list[list[Piece]]:
    """The byte stream of ``files`` (oldest first) cut at line starts into at most
    ``parts`` runs of about equal size, in order; a gzip file is never cut."""
    sizes = [(f, f.stat().st_size) for f in files]
    target = max(1, sum(size for _, size in sizes) // max(parts, 1))
    out: list[list[Piece]] = [[]]
    filled = 0
    for path, size in sizes:
        start = 0
        while start < size or (start == 0 and size == 0):
            room = target - filled
            if len(out) == parts or path.suffix == ".gz" or size - start <= room:
                out[-1].append((path, start, None))
                filled += size - start
                break
            cut = _line_start_after(path, start + room)
            if cut >= size:
                out[-1].append((path, start, None))
                filled += size - start
                break
            out[-1].append((path, start, cut))
            out.append([])
            filled, start = 0, cut
        if filled >= target and len(out) < parts:
            out.append([])
            filled = 0
    return [p for p in out if p]


def _batches(pieces: Iterable[Piece]) -> Iterator[list[Frame]]:
    """The frames of the pieces, in order, a read of :data:`REPLAY_READ` bytes (at
    most about :data:`REPLAY_BATCH` lines) at a time."""
    for path, start, stop in pieces:
        for frames, _ in iter_frames(path, offset=start, stop=stop, read_size=REPLAY_READ):
            for i in range(0, len(frames), REPLAY_BATCH):
                yield frames[i : i + REPLAY_BATCH]


def _accepted(engine: ExpectancyEngine) -> int:
    return engine.inputs.orders + engine.inputs.trades


def watermark_floor(
    files: Sequence[Path],
    tail_bytes: int = FLOOR_TAIL_BYTES,
    dedup_horizon: int | None = None,
) -> float | None:
    """A guess at a lower bound of the replay's watermark: the largest ``ts`` among
    the valid events in the last ``tail_bytes`` of the newest file (None when it is
    compressed or holds none), de-duplicated among themselves over
    ``dedup_horizon`` ids. A line there can still repeat the id of an event before
    the tail, which a one-process replay rejects: :func:`replay` checks the guess
    against the merged watermark and folds in one process when it was too high."""
    if not files or files[-1].suffix == ".gz":
        return None
    path = files[-1]
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        start = fh.seek(max(0, size - tail_bytes))
        lines = fh.read().split(b"\n")[1 if start else 0 :]  # the first may be cut
    decoder = make_decoder() if dedup_horizon is None else make_decoder(dedup_horizon)
    events, _ = decoder.decode_many(lines)
    return max((e.ts for e in events), default=None)


def fold_part(
    engine: ExpectancyEngine, pieces: list[Piece], floor: float | None = None
) -> tuple[ExpectancyEngine, list[str], int]:
    """Feed ``pieces`` to ``engine`` (a fresh copy in a worker). Returns the engine,
    the ids of its first accepted events up to the de-duplication horizon (the only
    ones a part before it could hold a duplicate of) and the lines read. With the
    ``floor`` of the whole log's watermark, time-window events that can no longer be
    seen are dropped before the engine travels back."""
    recent = engine.recent_ids
    head: list[str] | None = None
    lines = 0
    for batch in _batches(pieces):
        lines += len(batch)
        if head is not None:
            engine.feed_many(batch)
            continue
        # until the horizon fills, at most a horizon of lines at a time, so the ids
        # of each step are still held after it
        for i in range(0, len(batch), recent.horizon):
            step = batch[i : i + recent.horizon]
            if head is not None:
                engine.feed_many(step)
                continue
            before, known = _accepted(engine), list(recent)
            engine.feed_many(step)
            after = _accepted(engine)
            if after > recent.horizon:
                new = list(recent)[len(recent) - (after - before) :]
                head = known + new[: recent.horizon - before]
    if floor is not None:
        engine.forget(floor)
    return engine, list(recent) if head is None else head, lines


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
    jobs: int | None = None,
    parallel_min_bytes: int = PARALLEL_MIN_BYTES,
    floor_tail_bytes: int = FLOOR_TAIL_BYTES,
) -> ReplayResult:
    """Replay complete log files through a fresh engine and publish once.

    A large log is cut at line starts into ``jobs`` parts (default
    :func:`default_jobs`): worker processes fold all but the last, this process the
    last, and the engines merge in log order. The engine is a monoid, so the
    documents equal a one-process replay (floats up to rounding). A part whose
    first ids repeat a recent id of the parts before it is folded again, in order,
    here, so duplicates across a cut are rejected as in a single pass.

    The earlier parts drop time-window events below a floor of the final watermark
    (:func:`watermark_floor`). A floor above the merged watermark (it came from a
    line the one-process replay rejects, such as a duplicate with a far-future
    ``ts``) would have dropped events that count: the log is then folded again in
    one process, never a different answer; ``parallel`` in the result says how the
    log was folded, and the fallback is logged."""
    started = time.perf_counter()
    files = replay_files(paths, rotated=rotated)
    fresh = ExpectancyEngine.from_config(cfg, windows)
    jobs = default_jobs() if jobs is None else jobs
    plain = sum(f.stat().st_size for f in files if f.suffix != ".gz")
    parts = plan_parts(files, jobs) if jobs > 1 and plain >= parallel_min_bytes else []
    lines = 0
    how = "one process"

    def done(n: int) -> None:
        nonlocal lines
        lines += n
        if progress is not None:
            progress(lines)

    def fold_into(engine: ExpectancyEngine, pieces: list[Piece]) -> ExpectancyEngine:
        for batch in _batches(pieces):
            engine.feed_many(batch)
            done(len(batch))
        return engine

    if len(parts) < 2:
        engine = fold_into(fresh, [(f, 0, None) for f in files])
    else:
        floor = watermark_floor(files, floor_tail_bytes, fresh.recent_ids.horizon)
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(len(parts) - 1, mp_context=mp.get_context(method)) as pool:
            futures = [pool.submit(fold_part, copy.deepcopy(fresh), p, floor) for p in parts[:-1]]
            last = fold_part(copy.deepcopy(fresh), parts[-1])
            results = [*(f.result() for f in futures), last]
            engine, _, n = results[0]
            done(n)
            for pieces, (part, head, n) in zip(parts[1:], results[1:], strict=True):
                if engine.recent_ids.isdisjoint(head) and engine.mergeable(part):
                    engine.merge(part)
                    done(n)
                else:  # a duplicate or a group limit across the cut: fold it again
                    fold_into(engine, pieces)
        how = f"{len(parts)} parts"
        watermark = engine.inputs.watermark
        if floor is not None and (watermark is None or watermark < floor):
            how = (
                f"one process: the watermark floor {floor!r} from the log's last lines "
                f"is above the replay's watermark {watermark!r}"
            )
            log.warning("replay: %s; folded again in one process", how)
            lines = 0
            engine = fold_into(copy.deepcopy(fresh), [(f, 0, None) for f in files])
    publisher = Publisher(Path(state_dir), cfg.score, wall)
    expectancy, scores = (publisher.publish if publish else publisher.documents)(engine)
    return ReplayResult(expectancy, scores, files, lines, time.perf_counter() - started, how)


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
    ) -> None:
        self.path = Path(path)
        self.state_dir = Path(state_dir)
        self.store = CheckpointStore(
            Path(checkpoint) if checkpoint else self.state_dir / CHECKPOINT_FILE
        )
        self.engine = ExpectancyEngine.from_config(cfg)
        self.publisher = Publisher(self.state_dir, cfg.score, wall)
        self.clock = clock
        self.throttle = Throttle(cfg.publish_interval_s if interval is None else interval, clock)
        self._report = Throttle(REPORT_INTERVAL_S, clock)
        self.stats = FollowStats()
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
        self.stats.unavailable = self.follower.unavailable
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
            self.follower.close()
        return self.stats

    def close(self) -> None:
        self.follower.close()
