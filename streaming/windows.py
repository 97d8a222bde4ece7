"""Windows by composition: any accumulator over the last N events or the last T of
event time, without a windowed copy of each statistic.

A window keeps the raw events it covers (bounded: N items, or the events of one
time span) and folds them through a fresh inner accumulator when read; updating
costs O(1). A read is kept until the window changes; a time window also keeps the
folds of its whole chunks, so its reads merge a few folds and refold only the rows
of the chunks its boundary cuts. ``read_many`` reads many windows of one kind at
once, their row blocks folded side by side (:func:`fold_blocks`). Merging
concatenates (``other`` after ``self``) and truncates, which keeps the monoid laws.

>>> from streaming.stats import MeanVar
>>> w = LastN(3, MeanVar)
>>> for x in [10.0, 1.0, 2.0, 3.0]:
...     w.update(x)
>>> w.result.mean
2.0
>>> t = TimeWindow(60.0, MeanVar)
>>> for ts, x in [(0.0, 100.0), (30.0, 1.0), (70.0, 3.0)]:
...     t.update((ts, x))
>>> t.result().mean      # events with ts > 70 - 60
2.0
>>> t.result(watermark=100.0).mean
3.0
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

from streaming.stats.base import State

X = TypeVar("X")
R = TypeVar("R")
X_contra = TypeVar("X_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Folder(Protocol[X_contra, R_co]):
    """What a window folds through: anything with ``update`` and ``result``."""

    def update(self, x: X_contra, /) -> None: ...

    def extend(self, xs: Iterable[X_contra], /) -> None: ...

    @property
    def result(self) -> R_co: ...


class Mergeable(Folder[X_contra, R_co], Protocol[X_contra, R_co]):
    """A folder whose folds combine: what a time window caches per chunk."""

    def merge(self, other: Any, /) -> None: ...


# Events per time-window chunk: a read folds at most two chunks' rows.
CHUNK = 1024


def jsonable(x: Any) -> Any:
    """Tuples become lists so a state compares equal after a JSON round trip."""
    if isinstance(x, tuple | list):
        return [jsonable(v) for v in x]
    return x


class LastN(Generic[X, R]):
    """The last ``n`` events, folded through ``factory()`` on read."""

    __slots__ = ("_read", "factory", "items", "n")

    def __init__(
        self, n: int, factory: Callable[[], Folder[X, R]], items: Iterable[X] = ()
    ) -> None:
        if n <= 0:
            raise ValueError(f"window size must be positive, got {n}")
        self.n = n
        self.factory = factory
        self.items: deque[X] = deque(items, maxlen=n)
        self._read: tuple[R] | None = None  # the result until the next change

    def update(self, x: X) -> None:
        self.items.append(x)
        self._read = None

    def extend(self, xs: Iterable[X]) -> None:
        self.items.extend(xs)
        self._read = None

    def merge(self, other: LastN[X, R]) -> None:
        self.items.extend(other.items)
        self._read = None

    def fold(self) -> Folder[X, R]:
        acc = self.factory()
        acc.extend(list(self.items))
        return acc

    @property
    def result(self) -> R:
        """The fold of the held items (kept until the next change)."""
        if self._read is None:
            self._read = (self.fold().result,)
        return self._read[0]

    @staticmethod
    def read_many(windows: Iterable[LastN[X, R]]) -> None:
        """Make the :attr:`result` of many windows over one kind of accumulator
        ready at once: the changed ones' items fold side by side
        (:func:`fold_blocks`)."""
        stale = [w for w in windows if w._read is None and w.items]
        if not stale:
            return
        rows = as_rows(list(itertools.chain.from_iterable(w.items for w in stale)))
        folds = fold_blocks(stale[0].factory, rows, [len(w.items) for w in stale])
        for w, acc in zip(stale, folds, strict=True):
            w._read = (acc.result,)

    def to_state(self) -> State:
        return {"n": self.n, "items": jsonable(list(self.items))}

    @classmethod
    def from_state(cls, state: State, factory: Callable[[], Folder[X, R]]) -> Self:
        return cls(int(state["n"]), factory, state["items"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastN) and self.to_state() == other.to_state()

    def __repr__(self) -> str:
        return f"LastN(n={self.n}, items={len(self.items)})"

    __hash__ = None  # type: ignore[assignment]


Rows = npt.NDArray[np.float64]


def as_rows(items: Sequence[Any]) -> Rows:
    """Items as a float array: one row per item (``None`` → NaN, ``bool`` → 0/1)."""
    return np.asarray(items, dtype=np.float64)


def row_items(rows: Rows) -> list[Any]:
    """The items of :func:`as_rows` output (NaN → ``None``; flags stay 0.0 / 1.0)."""
    if rows.ndim == 1:
        return [None if math.isnan(v) else v for v in rows.tolist()]
    return [tuple(None if math.isnan(v) else v for v in row) for row in rows.tolist()]


def fold_rows(acc: Any, rows: Rows) -> None:
    """Absorb a block of rows: through the accumulator's ``extend_rows`` when it has
    one (a vectorised fold), else item by item."""
    extend_rows = getattr(acc, "extend_rows", None)
    if extend_rows is not None:
        extend_rows(rows)
    else:
        acc.extend(row_items(rows))


def fold_blocks(factory: Callable[[], Any], rows: Rows, lengths: Sequence[int]) -> list[Any]:
    """A fresh fold of each block of consecutive ``rows`` (``lengths`` rows each):
    through the accumulator's ``of_blocks`` when it has one (the blocks side by side
    in one vectorised pass), else each through :func:`fold_rows`."""
    of_blocks = getattr(factory(), "of_blocks", None)
    if of_blocks is not None:
        return list(of_blocks(rows, lengths))
    out, start = [], 0
    for n in lengths:
        acc = factory()
        fold_rows(acc, rows[start : start + n])
        out.append(acc)
        start += n
    return out


def _fold_each(factory: Callable[[], Any], blocks: Sequence[Rows]) -> list[Any]:
    """:func:`fold_blocks` of separate blocks."""
    if not blocks:
        return []
    return fold_blocks(factory, np.concatenate(blocks), [len(b) for b in blocks])


def _merged(acc: Any, parts: Iterable[Any], fold: Callable[[Any, Rows], None]) -> Any:
    """``acc`` after absorbing ``parts`` in order: folds (merged), row blocks (given
    to ``fold``) and lists of items (extended)."""
    for part in parts:
        if isinstance(part, np.ndarray):
            fold(acc, part)
        elif isinstance(part, list):
            acc.extend(part)
        else:
            acc.merge(part)
    return acc


class _Chunk:
    """A run of consecutive events of a time window as columns (event times and
    item rows), with their time range and a cached fold, so a read merges one
    summary instead of folding the events again."""

    __slots__ = ("cut", "hi", "lo", "rows", "summary", "ts")

    def __init__(self, ts: Rows, rows: Rows) -> None:
        self.ts = ts
        self.rows = rows
        self.cut = 0  # events before this index are evicted
        self.lo = float(ts.min())
        self.hi = float(ts.max())
        self.summary: Any = None

    def __len__(self) -> int:
        return len(self.ts)

    def shell(self) -> _Chunk:
        """A chunk over the same (never mutated) arrays, with its own cut."""
        c = _Chunk.__new__(_Chunk)
        c.ts, c.rows, c.cut, c.lo, c.hi, c.summary = (
            self.ts, self.rows, self.cut, self.lo, self.hi, self.summary
        )  # fmt: skip
        return c


def _inside(c: _Chunk, horizon: float) -> bool:
    return c.cut == 0 and c.lo > horizon


def _live(parts: list[Any], c: _Chunk, horizon: float) -> float:
    """Add the rows of the chunk's events with ``ts > horizon`` to ``parts``; the
    earliest of them (infinity when none)."""
    if c.hi <= horizon:
        return math.inf
    ts, rows = c.ts[c.cut :], c.rows[c.cut :]
    live = ts > horizon
    if not live.any():
        return math.inf
    parts.append(rows[live])
    return float(ts[live].min())


def _summary(c: _Chunk, factory: Callable[[], Any]) -> Any:
    if c.summary is None:
        c.summary = factory()
        fold_rows(c.summary, c.rows)
    return c.summary


class _Runs:
    """Folds of runs of consecutive chunks for a window that slides forward: the
    queue-of-two-stacks aggregation. ``front[k]`` folds the chunks from ``f0 + k``
    up to ``f1``, ``back`` those from ``f1`` up to ``b1`` (chunk numbers count every
    chunk ever appended, so they survive eviction at the front). A read of the
    chunks from ``a`` to ``e`` merges ``front[a - f0]`` and ``back`` after adding the
    chunks up to ``e`` to ``back``; when ``a`` leaves the front it is rebuilt from the
    chunks in view. Each chunk is merged O(1) times on average. Only chunks that are
    no longer the newest are used: they never change again (but for the cut of the
    oldest, which makes it a boundary chunk, folded apart)."""

    __slots__ = ("b1", "back", "f0", "f1", "factory", "front", "popped")

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory
        self.popped = 0  # chunks evicted from the front, ever
        self.front: list[Any] = []
        self.f0 = self.f1 = self.b1 = 0
        self.back: Any = None

    def fold(self, chunks: deque[_Chunk], first: int, end: int) -> tuple[Any, Any]:
        """Two folds that, merged in order, fold ``chunks[first:end]`` (positions in
        the deque)."""
        a, e = self.popped + first, self.popped + end
        if not (self.f0 <= a < self.f1) or e < self.b1:
            suffix = [self.factory()]
            for i in range(end - 1, first - 1, -1):
                acc = self.factory()
                acc.merge(_summary(chunks[i], self.factory))
                acc.merge(suffix[-1])
                suffix.append(acc)
            self.front = suffix[:0:-1]
            self.f0, self.f1 = a, e
            self.back, self.b1 = self.factory(), e
        for i in range(self.b1, e):
            self.back.merge(_summary(chunks[i - self.popped], self.factory))
        self.b1 = e
        return self.front[a - self.f0], self.back


class TimeWindow(Generic[X, R]):
    """Events ``(ts, x)`` with ``ts > watermark - span``, folded through ``factory()``.

    The watermark is given when reading (the largest ``ts`` of the whole input, so
    every window of every group ends at the same instant); by default it is this
    window's own largest ``ts``. Events older than the window's own largest ``ts``
    minus ``span`` can never come back into view and are dropped as they age out.

    Items are numbers, flags or ``None``, or fixed-length tuples of them: the window
    stores them as float rows (:func:`as_rows`), in arrival order, in chunks of
    about :data:`CHUNK` events. Single updates collect in a short tail; blocks
    arrive whole through :meth:`extend_rows`. A read merges the cached fold of every
    chunk that lies wholly inside the window and folds the rows of the others (the
    one the boundary cuts through, the tail) with a mask, so its cost grows with the
    number of chunks, not events; an accumulator with ``extend_rows`` folds those
    rows with vectorised code.
    """

    __slots__ = (
        "_chunks",
        "_read",
        "_runs",
        "_tail",
        "_tail_ts",
        "chunk",
        "factory",
        "max_ts",
        "span",
    )

    def __init__(
        self,
        span: float,
        factory: Callable[[], Mergeable[X, R]],
        items: Iterable[tuple[float, X]] = (),
        max_ts: float | None = None,
        *,
        chunk: int = CHUNK,
    ) -> None:
        if not span > 0:
            raise ValueError(f"time span must be positive, got {span}")
        if chunk < 1:
            raise ValueError(f"chunk size must be positive, got {chunk}")
        self.span = span
        self.chunk = chunk
        self.factory = factory
        self._chunks: deque[_Chunk] = deque()
        self._runs = _Runs(factory)
        self._tail: list[X] = []
        self._tail_ts: list[float] = []
        # (horizon, earliest time counted, result) of the last read, until a change
        self._read: tuple[float, float, R] | None = None
        self.max_ts = max_ts
        batch = list(items)
        if batch:
            self.extend_rows(
                np.asarray([ts for ts, _ in batch], dtype=np.float64),
                as_rows([x for _, x in batch]),
            )

    @property
    def items(self) -> list[tuple[float, Any]]:
        """The events that can still come into view (``ts > max_ts - span``), oldest
        arrival first, items as :func:`row_items` gives them. Memory holds these and
        at most one chunk more."""
        if self.max_ts is None:
            return []
        horizon = self.max_ts - self.span
        out: list[tuple[float, Any]] = []
        for c in self._chunks:
            ts, rows = c.ts[c.cut :], c.rows[c.cut :]
            live = ts > horizon
            out += zip(ts[live].tolist(), row_items(rows[live]), strict=True)
        if self._tail:
            keep = [i for i, ts in enumerate(self._tail_ts) if ts > horizon]
            rows = as_rows(self._tail)[keep] if keep else np.empty(0)
            out += zip([self._tail_ts[i] for i in keep], row_items(rows), strict=True)
        return out

    def _see(self, top: float) -> None:
        if self.max_ts is None or top > self.max_ts:
            self.max_ts = top

    def _seal(self) -> None:
        """The tail becomes a chunk."""
        if self._tail:
            ts, rows = np.asarray(self._tail_ts, dtype=np.float64), as_rows(self._tail)
            self._tail, self._tail_ts = [], []
            self._append(ts, rows)

    def _append(self, ts: Rows, rows: Rows) -> None:
        """Whole chunks of at most ``chunk`` events; a short last chunk is topped up
        first (its cached fold, if any, is dropped), so chunks stay few."""
        chunks, size, i = self._chunks, self.chunk, 0
        last = chunks[-1] if chunks else None
        if last is not None and len(last) < size:
            take = size - len(last)
            last_ts = np.concatenate((last.ts, ts[:take]))
            last_rows = np.concatenate((last.rows, rows[:take]))
            top = _Chunk(last_ts, last_rows)
            top.cut = last.cut
            chunks[-1] = top
            i = take
        while i < len(ts):
            chunks.append(_Chunk(ts[i : i + size], rows[i : i + size]))
            i += size

    def update(self, item: tuple[float, X]) -> None:
        ts, x = item
        self._read = None
        self._see(ts)
        self._tail_ts.append(ts)
        self._tail.append(x)
        if len(self._tail) >= self.chunk:
            self._seal()
            self._evict()

    def extend(self, items: Iterable[tuple[float, X]]) -> None:
        """``update`` on each, in order."""
        batch = items if isinstance(items, list) else list(items)
        if batch:
            self.extend_rows(
                np.asarray([ts for ts, _ in batch], dtype=np.float64),
                as_rows([x for _, x in batch]),
            )

    def extend_rows(self, ts: Rows, rows: Rows) -> None:
        """A block of events as columns: their times and their item rows."""
        if len(ts) == 0:
            return
        self._read = None
        self._seal()
        self._see(float(ts.max()))
        self._append(ts, rows)
        self._evict()

    def merge(self, other: TimeWindow[X, R]) -> None:
        self._read = None
        self._seal()
        for c in other._chunks:
            if c.cut < len(c):
                self._chunks.append(c.shell())
        if other._tail:
            self._tail_ts += other._tail_ts
            self._tail += other._tail
        if other.max_ts is not None:
            self._see(other.max_ts)
        self._evict()

    def forget(self, watermark: float) -> None:
        """Drop events that no read at ``watermark`` or later can see (for a window
        whose input is known to continue up to at least that event time)."""
        self._read = None
        self._seal()
        self._evict(watermark - self.span)

    def _evict(self, horizon: float | None = None) -> None:
        if horizon is None:
            if self.max_ts is None:
                return
            horizon = self.max_ts - self.span
        chunks = self._chunks
        while chunks:
            c = chunks[0]
            if c.lo > horizon:
                break
            live = np.flatnonzero(c.ts[c.cut :] > horizon)
            if len(live) == 0:
                chunks.popleft()  # wholly aged out; keep looking
                self._runs.popped += 1
                continue
            c.cut += int(live[0])
            break

    def fold(self, watermark: float | None = None) -> Mergeable[X, R]:
        wm = self.max_ts if watermark is None else watermark
        if wm is None:
            return self.factory()
        return self._fold(wm - self.span)[0]

    def _fold(self, horizon: float) -> tuple[Mergeable[X, R], float]:
        """The fold of the events with ``ts > horizon``, and the earliest such ``ts``."""
        parts, earliest = self._plan(horizon)
        return _merged(self.factory(), parts, fold_rows), earliest

    def _plan(self, horizon: float) -> tuple[list[Any], float]:
        """What the fold of the events with ``ts > horizon`` merges, in order: folds
        of whole chunks, rows of the chunks it takes in part, items of the tail; and
        the earliest such ``ts``."""
        parts: list[Any] = []
        earliest = math.inf
        chunks = self._chunks
        # Usually every chunk but the boundary ones at the front (and the newest) is
        # wholly in view: their folds come from the running aggregates in one merge.
        first = 0
        while first < len(chunks) - 1 and not _inside(chunks[first], horizon):
            first += 1
        whole = range(first, len(chunks) - 1)
        if len(whole) > 1 and all(_inside(chunks[i], horizon) for i in whole):
            for c in itertools.islice(chunks, first):
                earliest = min(earliest, _live(parts, c, horizon))
            parts += self._runs.fold(chunks, first, len(chunks) - 1)
            earliest = min(earliest, *(chunks[i].lo for i in whole))
            chunks = deque([chunks[-1]])
        for c in chunks:
            if _inside(c, horizon):
                parts.append(_summary(c, self.factory))
                earliest = min(earliest, c.lo)
            else:
                earliest = min(earliest, _live(parts, c, horizon))
        if self._tail:
            fresh = [i for i, ts in enumerate(self._tail_ts) if ts > horizon]
            if fresh:
                parts.append([self._tail[i] for i in fresh])
                earliest = min(earliest, *(self._tail_ts[i] for i in fresh))
        return parts, earliest

    def result(self, watermark: float | None = None) -> R:
        """The fold of the events in view at ``watermark``. A read is kept until the
        window changes; a later read reuses it while no event it counted has aged
        out (its horizon is still below the earliest of them)."""
        wm = self.max_ts if watermark is None else watermark
        if wm is None:
            return self.factory().result
        horizon = wm - self.span
        read = self._read
        if read is None or not self._kept_for(horizon):
            acc, earliest = self._fold(horizon)
            read = self._read = (horizon, earliest, acc.result)
        return read[2]

    def _kept_for(self, horizon: float) -> bool:
        """Whether the kept read is the read at ``horizon``: none of the events it
        counted has aged out, and no event it left out has come into view."""
        read = self._read
        return read is not None and read[0] <= horizon < read[1]

    @staticmethod
    def read_many(windows: Iterable[TimeWindow[X, R]], watermark: float | None = None) -> None:
        """Make ``result(watermark)`` of many windows over one kind of accumulator
        ready at once: the row blocks their reads take in part fold side by side
        (:func:`fold_blocks`), then each read merges its parts in order."""
        stale = []
        for w in windows:
            wm = w.max_ts if watermark is None else watermark
            if wm is None:
                continue
            horizon = wm - w.span
            if not w._kept_for(horizon):
                stale.append((w, horizon))
        if not stale:
            return
        factory = stale[0][0].factory
        plans = [(w, horizon, *w._plan(horizon)) for w, horizon in stale]
        blocks = [p for _, _, parts, _ in plans for p in parts if isinstance(p, np.ndarray)]
        folds = iter(_fold_each(factory, blocks))

        def take(acc: Any, _: Rows) -> None:
            acc.merge(next(folds))

        for w, horizon, parts, earliest in plans:
            w._read = (horizon, earliest, _merged(w.factory(), parts, take).result)

    def _columns(self) -> tuple[Rows, Rows]:
        """The times and rows of the events that can still come into view (a read:
        the pending tail is taken as it is, not sealed into a chunk)."""
        if self.max_ts is None:
            return np.empty(0), np.empty(0)
        ts_parts = [c.ts[c.cut :] for c in self._chunks]
        row_parts = [c.rows[c.cut :] for c in self._chunks]
        if self._tail:
            ts_parts.append(np.asarray(self._tail_ts, dtype=np.float64))
            row_parts.append(as_rows(self._tail))
        if not ts_parts:
            return np.empty(0), np.empty(0)
        ts = np.concatenate(ts_parts)
        rows = np.concatenate(row_parts)
        live = ts > self.max_ts - self.span
        return ts[live], rows[live]

    def to_state(self) -> State:
        """The events that can still come into view, as columns: their times, their
        rows flattened (``width`` values each, 0 for plain numbers) with NaN written
        as 0 and its positions listed in ``missing`` (JSON has no NaN)."""
        ts, rows = self._columns()
        missing = np.isnan(rows)
        return {
            "span": self.span,
            "max_ts": self.max_ts,
            "ts": ts.tolist(),
            "width": rows.shape[1] if rows.ndim == 2 else 0,
            "rows": np.where(missing, 0.0, rows).ravel().tolist(),
            "missing": np.flatnonzero(missing.ravel()).tolist(),
        }

    @classmethod
    def from_state(
        cls, state: State, factory: Callable[[], Mergeable[X, R]], *, chunk: int = CHUNK
    ) -> Self:
        # "items": the earlier layout, one [ts, item] pair per event
        items = state.get("items", ())
        out = cls(float(state["span"]), factory, items, state["max_ts"], chunk=chunk)
        if "ts" in state:
            ts = np.asarray(state["ts"], dtype=np.float64)
            flat = np.asarray(state["rows"], dtype=np.float64)
            flat[np.asarray(state["missing"], dtype=np.intp)] = np.nan
            width = int(state["width"])
            out.extend_rows(ts, flat.reshape(-1, width) if width else flat)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindow) and self.to_state() == other.to_state()

    def __repr__(self) -> str:
        held = len(self._tail) + sum(len(c) - c.cut for c in self._chunks)
        return f"TimeWindow(span={self.span!r}, max_ts={self.max_ts!r}, events={held})"

    __hash__ = None  # type: ignore[assignment]
