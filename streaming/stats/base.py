"""The contract every accumulator follows (see the package docstring)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, Generic, Self, TypeVar

X_contra = TypeVar("X_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)
State = Any  # JSON-compatible: numbers, strings, lists and string-keyed dicts


class Accumulator(ABC, Generic[X_contra, R_co]):
    """An ordered monoid over a stream of ``X`` with a result of type ``R``."""

    __slots__ = ()

    @abstractmethod
    def update(self, x: X_contra) -> None:
        """Absorb one event (returns nothing: the object holds the state)."""

    def extend(self, xs: Iterable[X_contra]) -> None:
        """Absorb ``xs`` in order; the same state as ``update`` on each. Subclasses
        may fold large blocks with vectorised code (equal up to float rounding)."""
        for x in xs:
            self.update(x)

    @abstractmethod
    def merge(self, other: Self) -> None:
        """Absorb ``other``, whose events come after this one's."""

    @property
    @abstractmethod
    def result(self) -> R_co:
        """The current value, read-only."""

    @abstractmethod
    def to_state(self) -> State:
        """A JSON-compatible snapshot that :meth:`from_state` restores exactly."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: State) -> Self:
        """Rebuild an accumulator from :meth:`to_state` output."""

    def copy(self) -> Self:
        return type(self).from_state(self.to_state())

    def __iadd__(self, other: Self) -> Self:
        self.merge(other)
        return self

    def __add__(self, other: Self) -> Self:
        out = self.copy()
        out.merge(other)
        return out

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_state() == other.to_state()

    def __hash__(self) -> int:  # mutable: equality by state, no hashing
        raise TypeError(f"unhashable type: {type(self).__name__}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_state()!r})"
