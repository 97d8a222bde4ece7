"""A keyed fold: one accumulator per group, created on first sight.

>>> from streaming.stats import HitCounter
>>> k = KeyedMap(HitCounter)
>>> for key, won in [("BTC", True), ("ETH", False), ("BTC", False)]:
...     k.update(key, won)
>>> {key: acc.result for key, acc in k.items()}
{'BTC': 0.5, 'ETH': 0.0}
>>> KeyedMap.from_state(k.to_state(), HitCounter, HitCounter.from_state) == k
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, Self, TypeVar

from streaming.stats.base import State

X_contra = TypeVar("X_contra", contravariant=True)


class Monoid(Protocol[X_contra]):
    def update(self, x: X_contra, /) -> None: ...

    def extend(self, xs: Any, /) -> None: ...

    def merge(self, other: Any, /) -> None: ...

    def to_state(self) -> State: ...


A = TypeVar("A", bound=Monoid[Any])


class KeyedMap(Generic[A]):
    """``key -> accumulator``; memory grows with keys, never with events."""

    __slots__ = ("_groups", "factory")

    def __init__(self, factory: Callable[[], A]) -> None:
        self.factory = factory
        self._groups: dict[str, A] = {}

    def at(self, key: str) -> A:
        """The group's accumulator, created empty on first sight."""
        acc = self._groups.get(key)
        if acc is None:
            acc = self._groups[key] = self.factory()
        return acc

    def update(self, key: str, x: Any) -> None:
        self.at(key).update(x)

    def merge(self, other: KeyedMap[A]) -> None:
        for key, acc in other._groups.items():
            self.at(key).merge(acc)

    def get(self, key: str) -> A | None:
        return self._groups.get(key)

    def keys(self) -> list[str]:
        return sorted(self._groups)

    def items(self) -> Iterator[tuple[str, A]]:
        for key in sorted(self._groups):
            yield key, self._groups[key]

    def __len__(self) -> int:
        return len(self._groups)

    def to_state(self) -> State:
        return {key: acc.to_state() for key, acc in self.items()}

    @classmethod
    def from_state(
        cls, state: State, factory: Callable[[], A], restore: Callable[[State], A]
    ) -> Self:
        out = cls(factory)
        out._groups = {str(k): restore(v) for k, v in state.items()}
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyedMap) and self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]
