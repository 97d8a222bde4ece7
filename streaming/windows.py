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

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, Protocol, Self, TypeVar

from streaming.stats.base import State

X = TypeVar("X")
R = TypeVar("R")
X_contra = TypeVar("X_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Folder(Protocol[X_contra, R_co]):
    """What a window folds through: anything with ``update`` and ``result``."""

    def update(self, x: X_contra, /) -> None: ...

    @property
    def result(self) -> R_co: ...


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

    def merge(self, other: LastN[X, R]) -> None:
        self.items.extend(other.items)

    def fold(self) -> Folder[X, R]:
        acc = self.factory()
        for x in self.items:
            acc.update(x)
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


class TimeWindow(Generic[X, R]):
    """Events ``(ts, x)`` with ``ts > watermark - span``, folded through ``factory()``.

    The watermark is given when reading (the largest ``ts`` of the whole input, so
    every window of every group ends at the same instant); by default it is this
    window's own largest ``ts``. Events older than the window's own largest ``ts``
    minus ``span`` can never come back into view and are dropped as they age out.
    """

    __slots__ = ("factory", "items", "max_ts", "span")

    def __init__(
        self,
        span: float,
        factory: Callable[[], Folder[X, R]],
        items: Iterable[tuple[float, X]] = (),
        max_ts: float | None = None,
    ) -> None:
        if not span > 0:
            raise ValueError(f"time span must be positive, got {span}")
        self.span = span
        self.factory = factory
        self.items: deque[tuple[float, X]] = deque((float(ts), x) for ts, x in items)
        self.max_ts = max_ts

    def update(self, item: tuple[float, X]) -> None:
        ts = item[0]
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts
        self.items.append(item)
        self._evict()

    def merge(self, other: TimeWindow[X, R]) -> None:
        self.items.extend(other.items)
        if other.max_ts is not None and (self.max_ts is None or other.max_ts > self.max_ts):
            self.max_ts = other.max_ts
        self._evict()

    def _evict(self) -> None:
        if self.max_ts is None:
            return
        horizon = self.max_ts - self.span
        items = self.items
        while items and items[0][0] <= horizon:
            items.popleft()

    def fold(self, watermark: float | None = None) -> Folder[X, R]:
        wm = self.max_ts if watermark is None else watermark
        acc = self.factory()
        if wm is not None:
            horizon = wm - self.span
            for ts, x in self.items:
                if ts > horizon:
                    acc.update(x)
        return acc

    def result(self, watermark: float | None = None) -> R:
        return self.fold(watermark).result

    def to_state(self) -> State:
        return {"span": self.span, "max_ts": self.max_ts, "items": jsonable(list(self.items))}

    @classmethod
    def from_state(cls, state: State, factory: Callable[[], Folder[X, R]]) -> Self:
        return cls(float(state["span"]), factory, state["items"], state["max_ts"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindow) and self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]
