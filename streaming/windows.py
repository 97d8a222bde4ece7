"""Windows by composition: any accumulator over the last N events or the last T of
event time, without a windowed copy of each statistic.

A window keeps the raw events it covers (bounded: N items, or the events of one
time span) and folds them through a fresh inner accumulator when read, so reading
costs O(window) and updating O(1). Merging concatenates (``other`` after ``self``)
and truncates, which keeps the monoid laws.

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

import math
from collections import deque
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, Generic, Protocol, Self, TypeVar

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


# Events per time-window chunk: a read folds at most two chunks' events.
CHUNK = 256


def jsonable(x: Any) -> Any:
    """Tuples become lists so a state compares equal after a JSON round trip."""
    if isinstance(x, tuple | list):
        return [jsonable(v) for v in x]
    return x


class LastN(Generic[X, R]):
    """The last ``n`` events, folded through ``factory()`` on read."""

    __slots__ = ("factory", "items", "n")

    def __init__(
        self, n: int, factory: Callable[[], Folder[X, R]], items: Iterable[X] = ()
    ) -> None:
        if n <= 0:
            raise ValueError(f"window size must be positive, got {n}")
        self.n = n
        self.factory = factory
        self.items: deque[X] = deque(items, maxlen=n)

    def update(self, x: X) -> None:
        self.items.append(x)

    def extend(self, xs: Iterable[X]) -> None:
        self.items.extend(xs)

    def merge(self, other: LastN[X, R]) -> None:
        self.items.extend(other.items)

    def fold(self) -> Folder[X, R]:
        acc = self.factory()
        acc.extend(list(self.items))
        return acc

    @property
    def result(self) -> R:
        return self.fold().result

    def to_state(self) -> State:
        return {"n": self.n, "items": jsonable(list(self.items))}

    @classmethod
    def from_state(cls, state: State, factory: Callable[[], Folder[X, R]]) -> Self:
        return cls(int(state["n"]), factory, state["items"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LastN) and self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]


class _Chunk(Generic[X, R]):
    """Up to ``chunk`` consecutive events of a time window, with their time
    range and (once full) a cached fold, so a read merges one summary instead of
    folding the events again."""

    __slots__ = ("cut", "hi", "items", "lo", "summary")

    def __init__(self) -> None:
        self.items: list[tuple[float, X]] = []
        self.cut = 0  # events before this index are evicted
        self.lo = math.inf
        self.hi = -math.inf
        self.summary: Mergeable[X, R] | None = None

    def add(self, part: list[tuple[float, X]]) -> None:
        self.lo = min(self.lo, *map(itemgetter(0), part))
        self.hi = max(self.hi, *map(itemgetter(0), part))
        self.items += part


class TimeWindow(Generic[X, R]):
    """Events ``(ts, x)`` with ``ts > watermark - span``, folded through ``factory()``.

    The watermark is given when reading (the largest ``ts`` of the whole input, so
    every window of every group ends at the same instant); by default it is this
    window's own largest ``ts``. Events older than the window's own largest ``ts``
    minus ``span`` can never come back into view and are dropped as they age out.

    Events are kept in arrival order in chunks of :data:`CHUNK`. A read merges the
    cached fold of every full chunk that lies wholly inside the window and folds
    the events of the others (the one the boundary cuts through and the newest,
    partly filled one), so its cost grows with the number of chunks, not events.
    """

    __slots__ = ("_chunks", "chunk", "factory", "max_ts", "span")

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
        self._chunks: deque[_Chunk[X, R]] = deque()
        self.max_ts = max_ts
        self._fill([(float(ts), x) for ts, x in items])

    @property
    def items(self) -> list[tuple[float, X]]:
        """The events held, oldest arrival first."""
        return [it for c in self._chunks for it in c.items[c.cut :]]

    def _fill(self, batch: list[tuple[float, X]]) -> None:
        """Append in arrival order, topping up the newest chunk, then new ones."""
        chunks, size, i = self._chunks, self.chunk, 0
        while i < len(batch):
            if not chunks or len(chunks[-1].items) >= size:
                chunks.append(_Chunk())
            c = chunks[-1]
            part = batch[i : i + size - len(c.items)]
            c.add(part)
            i += len(part)

    def update(self, item: tuple[float, X]) -> None:
        ts = item[0]
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts
        self._fill([item])
        self._evict()

    def extend(self, items: Iterable[tuple[float, X]]) -> None:
        """``update`` on each, in order (one eviction pass at the end)."""
        batch = items if isinstance(items, list) else list(items)
        if not batch:
            return
        top = max(map(itemgetter(0), batch))
        if self.max_ts is None or top > self.max_ts:
            self.max_ts = top
        self._fill(batch)
        self._evict()

    def merge(self, other: TimeWindow[X, R]) -> None:
        self._fill(other.items)
        if other.max_ts is not None and (self.max_ts is None or other.max_ts > self.max_ts):
            self.max_ts = other.max_ts
        self._evict()

    def _evict(self) -> None:
        if self.max_ts is None:
            return
        horizon = self.max_ts - self.span
        chunks = self._chunks
        while chunks:
            c = chunks[0]
            items, cut = c.items, c.cut
            while cut < len(items) and items[cut][0] <= horizon:
                cut += 1
            if cut == len(items) and len(items) >= self.chunk:
                chunks.popleft()  # wholly aged out; keep looking
                continue
            c.cut = cut
            if cut == len(items):
                chunks.popleft()
            break

    def fold(self, watermark: float | None = None) -> Mergeable[X, R]:
        wm = self.max_ts if watermark is None else watermark
        acc = self.factory()
        if wm is None:
            return acc
        horizon = wm - self.span
        for c in self._chunks:
            if c.cut == 0 and c.lo > horizon and len(c.items) >= self.chunk:
                if c.summary is None:
                    c.summary = self.factory()
                    c.summary.extend([x for _, x in c.items])
                acc.merge(c.summary)
            elif c.hi > horizon:
                acc.extend([x for ts, x in c.items[c.cut :] if ts > horizon])
        return acc

    def result(self, watermark: float | None = None) -> R:
        return self.fold(watermark).result

    def to_state(self) -> State:
        return {"span": self.span, "max_ts": self.max_ts, "items": jsonable(self.items)}

    @classmethod
    def from_state(
        cls, state: State, factory: Callable[[], Mergeable[X, R]], *, chunk: int = CHUNK
    ) -> Self:
        return cls(float(state["span"]), factory, state["items"], state["max_ts"], chunk=chunk)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindow) and self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]
