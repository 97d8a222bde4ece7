"""De-duplication by id over a bounded horizon, and a trace of its decisions.

:class:`RecentIds` holds the last ``horizon`` distinct ids added, oldest first: an
id among them is a duplicate; an older one has aged out and is admitted again.
Two merge in order (the later one's ids after the earlier's), and the ids save as
plain data. :class:`IdTrace` records the ids offered to it and which were
duplicates, up to a limit of additions, so that a fold that started from guessed
ids can be checked against the true ones later. The decoder
(:class:`~streaming.decode.LineDecoder`) rejects a duplicate as ``duplicate_id``.

>>> recent = RecentIds(horizon=2)
>>> recent.add_many(["a", "b", "a", "c", "a"])  # the positions of the duplicates
[2]
>>> list(recent)
['c', 'a']
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

DEFAULT_DEDUP_HORIZON = 100_000


class IdTrace:
    """The keys offered to a :class:`RecentIds` (by :meth:`~RecentIds.add`,
    :meth:`~RecentIds.admit` or :meth:`~RecentIds.add_many`), in order, and the
    positions among them of the duplicates, up to and including the key whose
    addition was the ``limit``-th; ``complete`` once that many were added. It also
    counts all the keys offered and the duplicates among them, limit or not.

    After ``horizon`` additions a :class:`RecentIds` holds exactly the keys added
    since the trace began, whatever it held before: so a trace of ``horizon``
    additions is all of a fold's dependence on the ids it started with."""

    __slots__ = ("added", "duplicates", "dups", "ids", "limit", "offered")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.added = 0
        self.ids: list[str] = []
        self.dups: list[int] = []
        self.offered = 0
        self.duplicates = 0

    @property
    def complete(self) -> bool:
        return self.added >= self.limit

    def note(self, keys: list[str], dups: list[int]) -> None:
        """``keys`` were offered in order; those at ``dups`` (ascending) were held."""
        self.offered += len(keys)
        self.duplicates += len(dups)
        if self.added >= self.limit:
            return
        room = self.limit - self.added
        if len(keys) - len(dups) >= room:  # stop just after the limit-th addition
            passed = 0  # duplicates before the cut
            for i in dups:
                if i - passed >= room:
                    break
                passed += 1
            end = room + passed
            keys = keys[:end]
            dups = dups[:passed]
        base = len(self.ids)
        self.ids += keys
        self.dups += [base + i for i in dups] if base else dups
        self.added += len(keys) - len(dups)

    def additions(self) -> list[str]:
        """The keys that were added (not duplicates), in order."""
        if not self.dups:
            return list(self.ids)
        drop = set(self.dups)
        return [k for i, k in enumerate(self.ids) if i not in drop]


class RecentIds:
    """The last ``horizon`` ids seen, for duplicate detection in bounded memory.

    The ids held are always the last ``horizon`` additions (an addition is a key
    that was not held when it came; those are distinct among themselves)."""

    __slots__ = ("_order", "_set", "_trace", "horizon")

    def __init__(self, horizon: int = DEFAULT_DEDUP_HORIZON, ids: list[str] | None = None) -> None:
        self.horizon = horizon
        self._order: deque[str] = deque()
        self._set: set[str] = set()
        self._trace: IdTrace | None = None
        for key in ids or ():
            self.add(key)

    def __contains__(self, key: str) -> bool:
        return key in self._set

    def add(self, key: str) -> None:
        self.admit(key)

    def admit(self, key: str) -> bool:
        """:meth:`add` ``key``; whether it was added (False: it was held, a duplicate)."""
        if key in self._set:
            if self._trace is not None:
                self._trace.note([key], [0])
            return False
        self._order.append(key)
        self._set.add(key)
        if len(self._order) > self.horizon:
            self._set.discard(self._order.popleft())
        if self._trace is not None:
            self._trace.note([key], [])
        return True

    def copy(self) -> RecentIds:
        """An independent copy holding the same ids (not tracing)."""
        other = RecentIds(self.horizon)
        other._order = self._order.copy()
        other._set = self._set.copy()
        return other

    def reset(self, ids: Iterable[str] = ()) -> None:
        """Hold what a fresh instance holds after :meth:`add` of each of ``ids`` in
        order; a running trace is not told."""
        fresh = RecentIds(self.horizon)
        fresh.add_many(list(ids))
        self._order, self._set = fresh._order, fresh._set

    def trace(self, limit: int) -> None:
        """Start recording an :class:`IdTrace` of up to ``limit`` additions."""
        self._trace = IdTrace(limit)

    def untrace(self) -> IdTrace:
        """Stop recording; the trace so far (an empty, complete one if none ran)."""
        trace, self._trace = self._trace, None
        return IdTrace(0) if trace is None else trace

    def add_many(self, keys: list[str]) -> list[int]:
        """:meth:`add` each key in order; returns the positions of the keys that were
        already held (duplicates, not added again)."""
        dups = self._add_many(keys)
        if self._trace is not None:
            self._trace.note(keys, dups)
        return dups

    def _add_many(self, keys: list[str]) -> list[int]:
        """:meth:`add_many` without the trace.

        Set operations find the keys that may be duplicates (held already, or more
        than once in the batch); only their places are decided one by one. A key is
        held at its place when its latest addition is among the last ``horizon``
        additions by then: the initial ids followed by the keys added so far."""
        held, fresh = self._set, set(keys)
        order = self._order
        if len(fresh) == len(keys) and held.isdisjoint(fresh):
            order.extend(keys)
            held |= fresh
            self._trim()
            return []
        known = held & fresh
        suspects = (
            known | {k for k, n in Counter(keys).items() if n > 1}
            if (len(fresh) != len(keys))
            else known
        )
        base = len(order)
        latest = {k: i for i, k in enumerate(order) if k in known} if known else {}
        dups: list[int] = []
        came_back = False  # a key aged out and was added again
        for i in [i for i, k in enumerate(keys) if k in suspects]:
            key, added = keys[i], base + i - len(dups)  # its place if it is added
            last = latest.get(key)
            if last is not None and last >= added - self.horizon:
                dups.append(i)
            else:
                came_back = came_back or last is not None
                latest[key] = added
        if dups:
            drop = set(dups)
            keys = [k for i, k in enumerate(keys) if i not in drop]
        order.extend(keys)
        if came_back:  # the deque holds it twice until the older one is trimmed
            over = len(order) - self.horizon
            if over > 0:
                self._order = deque(islice(order, over, None))
            self._set = set(self._order)
        else:
            held.update(keys)
            self._trim()
        return dups

    def _trim(self) -> None:
        over = len(self._order) - self.horizon
        if over > 0:  # C-level: the set forgets the oldest, the deque keeps the rest
            self._set.difference_update(islice(self._order, over))
            self._order = deque(islice(self._order, over, None))

    def merge(self, other: RecentIds) -> None:
        """The last ``horizon`` distinct ids of this one's followed by ``other``'s
        (an id in both counts at its later place)."""
        if len(other._order) >= self.horizon:
            self._order = deque(list(other._order)[-self.horizon :])
            self._set = set(self._order)
            return
        both = self._set & other._set
        if both:
            self._order = deque(k for k in self._order if k not in both)
        self._order.extend(other._order)
        self._set |= other._set
        self._trim()

    def isdisjoint(self, keys: Iterable[str]) -> bool:
        return self._set.isdisjoint(keys)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[str]:
        return iter(self._order)

    def to_state(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "ids": list(self._order)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RecentIds:
        return cls(int(state["horizon"]), list(state["ids"]))
