"""Longest run of consecutive ``True`` in a stream of booleans.

The state is (events, leading run, trailing run, longest run). Two segments merge
exactly: the longest run lies in the first, in the second, or across the seam
(the first's trailing run joined to the second's leading run).

>>> s = Streak()
>>> for x in [True, True, False, True, True, True, False]:
...     s.update(x)
>>> s.result, s.to_state()
(3, [7, 2, 0, 3])
>>> a, b = Streak(), Streak()
>>> for x in [False, True, True]: a.update(x)
>>> for x in [True, False]: b.update(x)
>>> (a + b).result
3
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from streaming.stats.base import Accumulator


class Streak(Accumulator[bool, int]):
    __slots__ = ("head", "longest", "n", "tail")

    def __init__(self, n: int = 0, head: int = 0, tail: int = 0, longest: int = 0) -> None:
        self.n = n
        self.head = head  # leading run of True
        self.tail = tail  # trailing run of True
        self.longest = longest

    def update(self, x: bool) -> None:
        if x:
            if self.head == self.n:  # nothing but True so far
                self.head += 1
            self.tail += 1
            self.longest = max(self.longest, self.tail)
        else:
            self.tail = 0
        self.n += 1

    @classmethod
    def of_block(cls, flags: npt.NDArray[np.bool_]) -> Self:
        """The state after ``update`` on each of ``flags``, computed with numpy: the
        runs of True lie between the False positions."""
        n = len(flags)
        breaks = np.flatnonzero(~flags)
        if len(breaks) == 0:
            return cls(n, n, n, n)
        head, tail = int(breaks[0]), n - 1 - int(breaks[-1])
        inner = int((breaks[1:] - breaks[:-1]).max()) - 1 if len(breaks) > 1 else 0
        return cls(n, head, tail, max(head, tail, inner))

    @classmethod
    def of_padded(cls, flags: npt.NDArray[np.bool_], lengths: npt.NDArray[np.intp]) -> list[Self]:
        """:meth:`of_block` of each row of ``flags`` whose first ``lengths[i]`` places
        are the block (the rest padded with False), all rows at once: at each place,
        the run of True ending there is its distance from the last False before it."""
        n, width = flags.shape
        if width == 0:
            return [cls() for _ in range(n)]
        place = np.arange(width)
        last_false = np.maximum.accumulate(np.where(flags, -1, place), axis=1)
        runs = place - last_false  # 0 where False
        longest = runs.max(axis=1)
        rows = np.arange(n)
        tails = runs[rows, np.maximum(lengths - 1, 0)]  # an empty block reads padding: 0
        # the first False (the padding has one, unless a block of True fills the row)
        heads = np.where(flags.all(axis=1), width, np.argmin(flags, axis=1))
        return [
            cls(*parts)
            for parts in zip(
                lengths.tolist(), heads.tolist(), tails.tolist(), longest.tolist(), strict=True
            )
        ]

    def merge(self, other: Self) -> None:
        self.longest = max(self.longest, other.longest, self.tail + other.head)
        if self.head == self.n:
            self.head += other.head
        self.tail = self.tail + other.tail if other.tail == other.n else other.tail
        self.n += other.n

    @property
    def result(self) -> int:
        return self.longest

    def to_state(self) -> list[int]:
        return [self.n, self.head, self.tail, self.longest]

    @classmethod
    def from_state(cls, state: list[int]) -> Self:
        n, head, tail, longest = state
        return cls(int(n), int(head), int(tail), int(longest))
