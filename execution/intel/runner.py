"""Replaying complete files through a fresh engine and publishing once.

:func:`replay` reads a rotated set of complete log files (plain or gzip), oldest
first: in one process, in parts folded by worker processes and merged in order
(:mod:`execution.intel.replay_parts`), or in order with a snapshot into the
history at every bucket close (:func:`fold_with_history`); then it publishes once
(:class:`~execution.intel.publisher.Publisher`). Following a live log is
:mod:`execution.intel.follow_runner`.

IO lives here; the engine and the score are pure.
"""

from __future__ import annotations

import copy
import logging
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from execution.config import IntelConfig
from execution.intel.events import UNKNOWN, source_label
from execution.intel.expectancy_v6 import ExpectancyEngine, log_files
from execution.intel.history import Snapshotter
from execution.intel.history_store import open_store
from execution.intel.publisher import Publisher
from execution.intel.replay_parts import (
    FLOOR_TAIL_BYTES,
    Piece,
    _batches,
    default_jobs,
    fold_part,
    head_agrees,
    plan_parts,
    watermark_floor,
)
from streaming.framing import Frame
from streaming.inputs import InputError

__all__ = ["ReplayResult", "fold_with_history", "replay", "replay_files"]

log = logging.getLogger("intel")
# Lines fed at a time in a replay that takes the history (the snapshots they close
# are stored before the next ones are taken).
HISTORY_BATCH = 4096
# Plain log bytes from which a replay folds parts in parallel processes.
PARALLEL_MIN_BYTES = 32 << 20


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
        for batch in _read(pieces):
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
        for batch in _read(pieces):
            # snapshots are stored as they come, a few buckets at a time: held in
            # memory they grew with buckets × symbols of a whole read
            for i in range(0, len(batch), HISTORY_BATCH):
                stored += store.append(snapper.feed(batch[i : i + HISTORY_BATCH]))
            done(len(batch))
        store.compact()
    return engine, stored


def _read(pieces: list[Piece]) -> Iterator[list[Frame]]:
    """:func:`_batches`, a failed read (EIO, …) an :class:`InputError` naming the file."""
    for piece in pieces:
        try:
            yield from _batches([piece])
        except OSError as exc:
            raise InputError(f"{piece[0]}: {exc.strerror or exc}") from None
