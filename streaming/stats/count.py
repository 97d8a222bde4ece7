"""Counting events and hits.

>>> h = HitCounter()
>>> for won in [True, False, True, True]:
...     h.update(won)
>>> h.result, h.n, h.hits
(0.75, 4, 3)
>>> (HitCounter() + h) == h   # the empty counter is the identity
True
"""

from __future__ import annotations

from typing import Any, Self

from streaming.stats.base import Accumulator


class Count(Accumulator[Any, int]):
    """Number of events seen."""

    __slots__ = ("n",)

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def update(self, x: Any = None) -> None:
        self.n += 1

    def merge(self, other: Self) -> None:
        self.n += other.n

    @property
    def result(self) -> int:
        return self.n

    def to_state(self) -> int:
        return self.n

    @classmethod
    def from_state(cls, state: int) -> Self:
        return cls(int(state))


class HitCounter(Accumulator[bool, float | None]):
    """Events and hits; ``result`` is the hit rate, ``None`` before any event."""

    __slots__ = ("hits", "n")

    def __init__(self, n: int = 0, hits: int = 0) -> None:
        self.n = n
        self.hits = hits

    def update(self, x: bool) -> None:
        self.n += 1
        self.hits += bool(x)

    def merge(self, other: Self) -> None:
        self.n += other.n
        self.hits += other.hits

    @property
    def result(self) -> float | None:
        return self.hits / self.n if self.n else None

    def to_state(self) -> list[int]:
        return [self.n, self.hits]

    @classmethod
    def from_state(cls, state: list[int]) -> Self:
        n, hits = state
        return cls(int(n), int(hits))
