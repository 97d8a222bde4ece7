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

import contextlib
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
from execution.intel.events import UNKNOWN, event_ids, make_decoder, source_label
from execution.intel.expectancy_v6 import (
    EngineStateError,
    ExpectancyEngine,
    log_files,
)
from execution.intel.history import Snapshot, Snapshotter
from execution.intel.history_store import HistoryError, HistoryStore, open_store
from execution.intel.symbol_score_v6 import drift_of, score_symbols
from execution.state_publish import publish_intel, read_state
from streaming.checkpoint import CheckpointStore
from streaming.decode import IdTrace, RecentIds
from streaming.follow import Follower
from streaming.framing import OVERLONG, Frame
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
# Lines fed at a time in a replay that takes the history (the snapshots they close
# are stored before the next ones are taken).
HISTORY_BATCH = 4096


@dataclass(slots=True)
class Publisher:
    """Builds both documents from an engine and writes them atomically."""

    state_dir: Path
    score: ScoreConfig
    wall: Callable[[], float] = time.time
    # what produced the documents: "replay" (complete: the whole log was read) or
    # "follow" (live; never complete), written into both as ``source``
    mode: str = "replay"

    def documents(self, engine: ExpectancyEngine) -> tuple[dict[str, Any], dict[str, Any]]:
        now = self.wall()
        expectancy = engine.document(generated_at=now)
        health = read_state(self.state_dir, ROUTER_HEALTH_FILE)
        drift = drift_of(engine, self.score)
        scores = score_symbols(expectancy, health, config=self.score, generated_at=now, drift=drift)
        source = {"mode": self.mode, "complete": self.mode == "replay"}
        expectancy["source"] = source
        scores["source"] = dict(source)
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
    # how the log was folded: "one process", "N parts, all merged", "N parts, M merged,
    # K folded again in order", or why the parts fell back to one process
    parallel: str = "one process"
    # the parts (0-based) that could not be merged and were folded again, in order
    refolded: tuple[int, ...] = ()
    # buckets whose snapshots this replay stored in the history (None: no history)
    snapshots: int | None = None


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
# Bytes read back from a part's start, at most, for the ids before it (its seed; a
# horizon of 100,000 events of the canonical log is about 33 MB), and per read.
SEED_MAX_BYTES = 96 << 20
SEED_READ = 4 << 20


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


def seed_ids(
    files: Sequence[Path],
    at: tuple[Path, int],
    horizon: int,
    max_bytes: int = SEED_MAX_BYTES,
) -> list[str]:
    """A guess at the ids a one-process replay holds for de-duplication where a part
    starts, at byte ``at[1]`` of ``at[0]`` (one of ``files``, the log oldest first):
    the ids of the valid events of the lines just before it, de-duplicated among
    themselves over ``horizon`` ids, oldest first. The lines are read back from the
    cut until they hold a little more than ``horizon`` events, ``max_bytes`` were
    read, or the log's first line or a compressed file (which cannot be read
    backwards) is reached. Only a guess: :func:`fold_part` records what its fold
    depended on, and :func:`replay` checks that against the true recent ids."""
    path, pos = at
    if horizon <= 0 or path not in files:
        return []
    earlier = files[: list(files).index(path)]
    sources = [(path, pos), *((f, f.stat().st_size) for f in reversed(earlier))]
    want = horizon + horizon // 32  # a margin for duplicates among themselves
    decode = make_decoder(None).decode_many  # the engine's decoding, no de-duplication
    chunks: list[list[str]] = []
    got, budget = 0, max_bytes
    for source, stop in sources:
        if source.suffix == ".gz" or got >= want or budget <= 0:
            break
        step, end = SEED_READ, stop
        while end > 0 and got < want and budget > 0:
            back = min(step, end, budget)
            budget -= back
            begin = _line_start_after(source, end - back) if back < end else 0
            if begin >= end:  # a line longer than ``back`` ends at the cut: look further
                step *= 2
                continue
            frames = [
                f
                for got_frames, _ in iter_frames(source, offset=begin, stop=end)
                for f in got_frames
                if f is not OVERLONG
            ]
            events, _ = decode(frames)  # type: ignore[arg-type]
            ids = [k for k in event_ids(events) if k is not None]
            chunks.append(ids)
            got += len(ids)
            end = begin
    seed = RecentIds(horizon)
    seed.add_many([k for chunk in reversed(chunks) for k in chunk])
    return list(seed)


def fold_part(
    engine: ExpectancyEngine,
    pieces: list[Piece],
    floor: float | None = None,
    log_files: Sequence[Path] | None = None,
) -> tuple[ExpectancyEngine, IdTrace | None, int]:
    """Feed ``pieces`` to ``engine`` (a fresh one; a copy in a worker). Returns the
    engine, its head (None when the fold's de-duplication did not all go through
    the traced recent ids, so it cannot be checked) and the lines read.

    With ``log_files`` (the whole log, oldest first) the de-duplication starts from
    :func:`seed_ids` of the lines before the part rather than from nothing. The head
    is the trace of the ids the decoder was offered (the events that decoded and
    passed the record check, in order) and which of them it rejected as
    duplicates, up to the ``horizon``-th id it added: once ``horizon`` ids of its
    own were added, the recent ids no longer depend on where they started, so
    neither does anything later (:func:`head_agrees`). The returned engine's recent
    ids hold only ids it added itself (the seed's dropped when fewer than
    ``horizon`` were), so that :meth:`ExpectancyEngine.merge` after an engine that
    decided the head alike yields the recent ids of one pass. With the ``floor`` of
    the whole log's watermark, time-window events that can no longer be seen are
    dropped before the engine travels back."""
    recent = engine.recent_ids
    if log_files is not None and pieces:
        path, start, _ = pieces[0]
        recent.reset(seed_ids(log_files, (path, start), recent.horizon))
    recent.trace(recent.horizon)
    lines = 0
    try:
        for batch in _batches(pieces):
            lines += len(batch)
            engine.feed_many(batch)
    finally:
        head = recent.untrace()
    traced = _traced_all(engine, head)  # if not, this part is never merged
    if traced and not head.complete:
        recent.reset(head.additions())
    if floor is not None:
        engine.forget(floor)
    return engine, head if traced else None, lines


def _traced_all(engine: ExpectancyEngine, trace: IdTrace) -> bool:
    """Whether the trace saw every de-duplication decision of the fold: as many
    duplicates as the engine rejected, and as many additions as events it took
    (applied, or rejected for a group limit after de-duplication)."""
    rejected = engine.inputs.rejected
    taken = engine.inputs.orders + engine.inputs.trades + rejected.get("too_many_groups", 0)
    duplicates = rejected.get("duplicate_id", 0)
    return trace.duplicates == duplicates and trace.offered - trace.duplicates == taken


def head_agrees(recent: RecentIds, head: IdTrace | None) -> bool:
    """Whether a fold that recorded ``head`` (:func:`fold_part`) decided each of its
    ids as a fold continuing from ``recent`` decides it (``recent`` is unchanged;
    no head never agrees).

    When it did, the two added the same ids up to the end of the head; a complete
    head holds ``horizon`` additions, after which both hold exactly those, so
    every later decision is the same too; an incomplete head is the whole part."""
    return head is not None and recent.copy().add_many(head.ids) == head.dups


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
    history: bool = False,
) -> ReplayResult:
    """Replay complete log files through a fresh engine and publish once.

    A large log is cut at line starts into ``jobs`` parts (default
    :func:`default_jobs`): worker processes fold all but the last, this process the
    last, and the engines merge in log order. The engine is a monoid, so the
    documents equal a one-process replay (floats up to rounding) as long as every
    part de-duplicated as one pass does. Each part starts its de-duplication from
    the ids of the lines before its cut (:func:`seed_ids`) and records its head
    (:func:`fold_part`); before a part is merged, its head is decided again against
    the recent ids of the parts before it (:func:`head_agrees`). Where that differs
    (a duplicate of an id the seed lacked, an id the seed held that one pass had
    let age out), or the part met a group limit, the part is folded again here, in
    order: duplicates across a cut are rejected exactly as in a single pass, and
    ``refolded`` in the result names those parts.

    The earlier parts drop time-window events below a floor of the final watermark
    (:func:`watermark_floor`). A floor above the merged watermark (it came from a
    line the one-process replay rejects, such as a duplicate with a far-future
    ``ts``) would have dropped events that count: the log is then folded again in
    one process, never a different answer; ``parallel`` in the result says how the
    log was folded, and the fallback is logged.

    With ``history`` (the CLI's default: ``cfg.history.enabled``) the log is
    folded in one process, in order, and a snapshot is stored at every bucket close
    (:mod:`execution.intel.history`): the snapshots need the state in log order,
    which parts folded apart do not have."""
    started = time.perf_counter()
    given = list(paths)
    files = replay_files(given, rotated=rotated)
    label = source_label(given[0]) if given else UNKNOWN
    fresh = ExpectancyEngine.from_config(cfg, windows, source=label)
    jobs = default_jobs() if jobs is None else jobs
    plain = sum(f.stat().st_size for f in files if f.suffix != ".gz")
    parts = plan_parts(files, jobs) if jobs > 1 and plain >= parallel_min_bytes else []
    lines = 0
    how = "one process"
    refolded: list[int] = []
    with_history = history
    if with_history and len(parts) >= 2:
        how = "one process: the history's snapshots need the log in order"
        parts = []

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

    stored: int | None = None
    if with_history:
        whole: list[Piece] = [(f, 0, None) for f in files]
        engine, stored = fold_with_history(fresh, whole, cfg, Path(state_dir), done)
    elif len(parts) < 2:
        engine = fold_into(fresh, [(f, 0, None) for f in files])
    else:
        floor = watermark_floor(files, floor_tail_bytes, fresh.recent_ids.horizon)
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(len(parts) - 1, mp_context=mp.get_context(method)) as pool:
            futures = [
                pool.submit(fold_part, copy.deepcopy(fresh), p, floor, files) for p in parts[:-1]
            ]
            last = fold_part(copy.deepcopy(fresh), parts[-1], None, files)
            results = [*(f.result() for f in futures), last]
        engine, _, n = results[0]  # it starts where the log does: nothing to check
        done(n)
        for k, (pieces, (part, head, n)) in enumerate(zip(parts[1:], results[1:], strict=True)):
            if not head_agrees(engine.recent_ids, head):
                why = "its start de-duplicated otherwise than one pass does"
            elif not engine.mergeable(part):
                why = "a group limit"
            else:
                engine.merge(part)
                done(n)
                continue
            refolded.append(k + 1)
            log.info("replay: part %d of %d folded again in order: %s", k + 2, len(parts), why)
            fold_into(engine, pieces)
        how = f"{len(parts)} parts, " + (
            f"{len(parts) - len(refolded)} merged, {len(refolded)} folded again in order"
            if refolded
            else "all merged"
        )
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
    seconds = time.perf_counter() - started
    return ReplayResult(
        expectancy, scores, files, lines, seconds, how, tuple(refolded), stored
    )


def fold_with_history(
    engine: ExpectancyEngine,
    pieces: list[Piece],
    cfg: IntelConfig,
    state_dir: Path,
    done: Callable[[int], None],
) -> tuple[ExpectancyEngine, int]:
    """Feed ``pieces`` in order and store a snapshot at every bucket close into the
    history of ``state_dir``; the engine and the snapshots stored (a bucket already
    in the history, from an earlier replay of the same log, is not stored again)."""
    h = cfg.history
    snapper = Snapshotter(engine, h.cadence_s, h.windows, cfg.score)
    stored = 0
    with open_store(state_dir, h) as store:
        for batch in _batches(pieces):
            # snapshots are stored as they come, a few buckets at a time: held in
            # memory they grew with buckets × symbols of a whole read
            for i in range(0, len(batch), HISTORY_BATCH):
                stored += store.append(snapper.feed(batch[i : i + HISTORY_BATCH]))
            done(len(batch))
        store.compact()
    return engine, stored


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
        source = str(self.path.resolve())
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
            "source": str(self.path.resolve()),
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
