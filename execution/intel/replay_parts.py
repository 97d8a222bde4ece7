"""One log replayed in parts: cutting it, seeding each part, checking each part's head.

A large log is cut at line starts into parts of about equal size
(:func:`plan_parts`) that worker processes fold apart (:func:`fold_part`). A part
starts its de-duplication from a guess at the ids one pass would hold where it
starts (:func:`seed_ids`, read back from the lines before the cut) and records its
head, the de-duplication decisions that could depend on that guess;
:func:`head_agrees` decides the head again against the true recent ids before the
part is merged. Earlier parts drop time-window events below a guess at the final
watermark (:func:`watermark_floor`). :func:`~execution.intel.runner.replay` puts
these together; this module reads files and folds, and publishes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from execution.intel.events import event_ids, make_decoder
from execution.intel.expectancy_v6 import ExpectancyEngine
from streaming.framing import OVERLONG, Frame
from streaming.inputs import iter_frames
from streaming.recent_ids import IdTrace, RecentIds

# Lines per engine batch in a replay: large enough that the columnar path's
# per-group cost vanishes, small enough to bound the decoded events held at once.
REPLAY_BATCH = 1 << 16
# Bytes per read in a replay (about 50,000 lines of the canonical log).
REPLAY_READ = 16 << 20
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
