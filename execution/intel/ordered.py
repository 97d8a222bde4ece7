"""The ordered fold of a fund replay, as parts arrive in any order.

Each source's parts are taken in file order; an event's key is the running largest
``ts`` of its source (``docs/scale-out.md``), so every later event of a source has a
key at least that source's running key so far. The **frontier** is the smallest
(running key, source) among the sources with parts still to come: every event held
whose (key, source) is below it precedes, in the contract order, everything not yet
read, so it is final. :class:`OrderedFold` sorts what is final, folds it through the
engine (:func:`~execution.intel.columnar.apply_columns`) and lets its columns go;
what it holds is bounded by the parts read ahead of the frontier, not by the log.
:meth:`OrderedFold.next_part` says which part to read next so that the frontier
moves: the next part of the source that holds it back.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from execution.intel.columnar import EventColumns, apply_columns, concat, take
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.sources import Part, PartEvents
from streaming.recent_ids import IdTrace

Floats = np.ndarray[Any, np.dtype[np.float64]]
Ints = np.ndarray[Any, np.dtype[np.int64]]


class OrderedFold:
    """Feeds ``engine`` the events of ``parts`` (planned source by source, each in
    file order) in the contract order: :meth:`add` each part as it is read, in any
    order, then :meth:`finish`."""

    def __init__(
        self, engine: ExpectancyEngine, parts: Sequence[Part], batch: int = 1 << 18
    ) -> None:
        self.engine, self.parts, self.batch = engine, list(parts), max(1, batch)
        sources = max((p.source for p in parts), default=-1) + 1
        self.queue = [[i for i, p in enumerate(parts) if p.source == s] for s in range(sources)]
        self.taken = [0] * sources  # parts of each source moved into the pool
        self.asked = [0] * sources  # parts of each source handed out by next_part
        self.top = [-np.inf] * sources  # running key of each source's parts taken
        self.first: dict[int, float] = {}  # each source's first ts
        self.waiting: dict[int, PartEvents] = {}
        self.pool: list[EventColumns] = []  # held events, joined only to fold
        self.keys: Floats = np.zeros(0)
        self.source: Ints = np.zeros(0, np.int64)
        self.lines = 0
        self.events = 0
        self.held_max = 0  # the most events held at once (for the benchmark)
        self.spent = 0.0  # seconds in add and finish
        engine.recent_ids.trace(engine.recent_ids.horizon)

    def next_part(self) -> int | None:
        """The part to read next (None: all were handed out): the next one of the
        source with the fewest parts handed out and not yet added, then the
        smallest running key — the one that holds the frontier back."""
        open_ = [
            (self.asked[s] - self.taken[s], self.top[s], s)
            for s in range(len(self.queue))
            if self.asked[s] < len(self.queue[s])
        ]
        if not open_:
            return None
        *_, s = min(open_)
        self.asked[s] += 1
        return self.queue[s][self.asked[s] - 1]

    def add(self, k: int, read: PartEvents) -> None:
        """Part ``k`` has been read; fold whatever became final."""
        started = time.perf_counter()
        try:
            self._add(k, read)
        finally:
            self.spent += time.perf_counter() - started

    def _add(self, k: int, read: PartEvents) -> None:
        self.lines += read.lines
        self.events += read.count
        inputs = self.engine.inputs
        inputs.rejected.update(read.rejected)
        inputs.skipped.update(read.skipped)
        self.waiting[k] = read
        s = self.parts[k].source
        new: list[tuple[EventColumns, Floats]] = []
        while self.taken[s] < len(self.queue[s]) and self.queue[s][self.taken[s]] in self.waiting:
            got = self.waiting.pop(self.queue[s][self.taken[s]])
            self.taken[s] += 1
            if not got.count:
                continue
            keys = np.maximum.accumulate(np.r_[self.top[s], got.ts])[1:]
            self.top[s] = float(keys[-1])
            self.first.setdefault(s, float(got.ts[0]))
            new.append((got.columns, keys))
        if new:
            self.pool += [c for c, _ in new]
            self.keys = np.concatenate([self.keys, *(key for _, key in new)])
            self.source = np.concatenate([self.source, np.full(sum(len(key) for _, key in new), s)])
            self.held_max = max(self.held_max, len(self.keys))
            self._fold(final=False)

    def _fold(self, *, final: bool) -> None:
        """Fold the final events held, in whole batches of the contract order unless
        ``final`` (so the batches, and with them every rounding, are the same
        whatever order the parts came back in)."""
        if not len(self.keys):
            return
        behind = [
            (self.top[s], s) for s in range(len(self.queue)) if self.taken[s] < len(self.queue[s])
        ]
        if behind and not final:
            key, src = min(behind)
            ready = (self.keys < key) | ((self.keys == key) & (self.source < src))
            at = np.flatnonzero(ready)
        else:
            at = np.arange(len(self.keys))
        order = at[np.lexsort((at, self.source[at], self.keys[at]))]
        if not final:
            order = order[: len(order) - len(order) % self.batch]
        if not len(order):
            return
        pool = concat(self.pool)
        for i in range(0, len(order), self.batch):
            apply_columns(self.engine, pool, order[i : i + self.batch])
        rest = np.setdiff1d(np.arange(len(self.keys)), order)
        self.pool = [take(pool, rest)] if len(rest) else []
        self.keys, self.source = self.keys[rest], self.source[rest]

    def finish(self) -> IdTrace:
        """Fold what is left (every part must have been added); the trace of the
        first ``horizon`` de-duplication decisions."""
        missing = [k for q, n in zip(self.queue, self.taken, strict=True) for k in q[n:]]
        if missing:
            raise RuntimeError(f"parts {missing} were never read")
        started = time.perf_counter()
        try:
            self._fold(final=True)
        finally:
            head = self.engine.recent_ids.untrace()
            self.spent += time.perf_counter() - started
        return head

    def span(self) -> tuple[float, float] | None:
        """The smallest and largest key of the events (None: no event)."""
        if not self.first:
            return None
        return min(self.first.values()), max(t for t in self.top if t > -np.inf)
