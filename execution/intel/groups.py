"""The groups of the four groupings (symbols, strategies, policies, regimes): each
key gets an id in order of first sight, shared by all groupings, so the tables of
one fold hold every group of every grouping and one pass folds a block for all
four; at most ``limit`` groups per grouping.

>>> g = Groups(limit=2)
>>> g.code(("BTC", "trend", "maker_first", "calm")), g.code(("ETH", "trend", "maker_first", "calm"))
([0, 1, 2, 3], [4, 1, 2, 3])
>>> g.admit(("SOL", "trend", "maker_first", "calm")), g.names[0]
(False, ['BTC', 'ETH'])
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

from execution.intel.document import DIMENSIONS
from streaming.fold import Ints


class Groups:
    """The groups of each grouping: key → id in order of first sight, at most
    ``limit`` per grouping. Ids are shared by all groupings (the tables hold every
    group of every grouping), so one fold pass covers the four groupings."""

    __slots__ = ("ids", "limit", "names", "total")

    def __init__(
        self,
        limit: int,
        names: Sequence[Sequence[str]] | None = None,
        ids: Sequence[Sequence[int]] | None = None,
    ) -> None:
        self.limit = limit
        self.names = [list(n) for n in names] if names else [[] for _ in DIMENSIONS]
        if ids is None:  # numbered grouping after grouping
            starts = np.cumsum([0, *map(len, self.names)]).tolist()
            ids = [range(a, a + len(n)) for a, n in zip(starts, self.names, strict=False)]
        self.ids = [dict(zip(n, i, strict=True)) for n, i in zip(self.names, ids, strict=True)]
        self.total = sum(map(len, self.names))
        every = [i for known in self.ids for i in known.values()]
        if any(type(i) is not int for i in every) or sorted(every) != list(range(self.total)):
            raise ValueError("group ids are not 0 … n-1, one per group")
        if any(len(known) != len(n) for known, n in zip(self.ids, self.names, strict=True)):
            raise ValueError("a group name appears twice in one grouping")
        if any(len(n) > limit for n in self.names):
            raise ValueError(f"more than max_groups = {limit} groups in a grouping")

    def fits(self, cells: Sequence[tuple[str, ...]]) -> bool:
        """Whether the groups of ``cells`` fit under the limit in every grouping."""
        return all(
            len(known) + len(set(map(itemgetter(d), cells)) - known.keys()) <= self.limit
            for d, known in enumerate(self.ids)
        )

    def admit(self, cell: tuple[str, ...]) -> bool:
        """Take one event's groups, or refuse them all when one would be one too many."""
        for key, known in zip(cell, self.ids, strict=True):
            if key not in known and len(known) >= self.limit:
                return False
        self.code(cell)
        return True

    def code(self, cell: Sequence[str]) -> list[int]:
        """The id of each of ``cell``'s groups (one per grouping), new ones added."""
        return [self._id(d, key) for d, key in enumerate(cell)]

    def luts(self, cells: Sequence[tuple[str, ...]]) -> Ints:
        """The ids of each of ``cells``' groups, one column per grouping (new groups
        added in order of first sight)."""
        out = np.empty((len(cells), len(self.ids)), dtype=np.int64)
        for d, known in enumerate(self.ids):
            keys = list(map(itemgetter(d), cells))
            for key in dict.fromkeys(keys):
                if key not in known:
                    self._id(d, key)
            out[:, d] = np.fromiter(map(known.__getitem__, keys), np.int64, len(keys))
        return out

    def _id(self, d: int, key: str) -> int:
        known = self.ids[d]
        i = known.get(key)
        if i is None:
            i = known[key] = self.total
            self.total += 1
            self.names[d].append(key)
        return i

    def rows(self, d: int) -> Ints:
        """The ids of grouping ``d``'s groups, in the order of ``names[d]``."""
        known = self.ids[d]
        return np.array([known[k] for k in self.names[d]], dtype=np.int64)

    def remap(self, other: Groups) -> Ints:
        """This one's id of each of ``other``'s groups (new ones added here)."""
        out = np.zeros(other.total, dtype=np.int64)
        for d, names in enumerate(other.names):
            theirs = other.ids[d]
            for k in names:
                out[theirs[k]] = self._id(d, k)
        return out

    def to_state(self) -> dict[str, Any]:
        ids = [[known[k] for k in n] for n, known in zip(self.names, self.ids, strict=True)]
        return {"names": self.names, "ids": ids}
