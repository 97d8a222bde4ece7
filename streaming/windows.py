"""Windows by composition: any grouped fold (:mod:`streaming.fold`) over all events,
the last N events of each group, or the events of the last T of event time.

A window folds blocks of events of many groups: a :class:`~streaming.block.Block`
carries the events' columns, their group codes and
:class:`~streaming.fold.Segments`. A read returns a table with one row per group
(the empty fold for a group without events in view). An event that belongs to
several groups (a symbol, a strategy, …) enters once per group, each copy with
that group's code.

* :class:`AllTime` keeps one table and merges each block into it.
* :class:`LastN` keeps the input rows of each group's last ``n``
  events in arrival order (trimmed as they fall out, so memory is bounded by the
  groups, not the events) and refolds, at a read, only the groups that changed.
* :class:`~streaming.time_window.TimeWindow` keeps the rows with
  ``ts > max_ts - span`` in chunks of arrival order; a read merges the cached
  tables of the chunks wholly in view and folds the rows of the ones the horizon
  cuts (:mod:`streaming.time_window`).

All three merge (``other``'s events after ``self``'s; its codes translated by a
``remap``) and save their state as plain data; :func:`window` picks one.

>>> import numpy as np
>>> from streaming.fold import Segments
>>> from streaming.kernels import Sum
>>> def block(ts, xs, groups):
...     codes = np.array(groups)
...     return Block(np.array(ts), {"x": np.array(xs)}, codes, Segments(codes), 2)
>>> w = LastN(Sum(), n=2)
>>> w.absorb(block([1.0, 2.0, 3.0, 4.0], [10.0, 1.0, 2.0, 3.0], [0, 0, 0, 1]))
>>> Sum().read(w.read())["sum"].tolist()
[3.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from streaming.block import (
    Block,
    _concat,
    _select,
    check_rows,
    decode_columns,
    encode_columns,
)
from streaming.fold import (
    Column,
    Columns,
    GroupedFold,
    Ints,
    Segments,
    Table,
    empty,
    from_state,
    grow,
    merge_into,
    put,
    to_state,
)
from streaming.fold import (
    size as fold_size,
)
from streaming.time_window import TimeWindow


def last_n(seg: Segments, n: int) -> Ints:
    """The positions (ascending) of each group's last ``n`` events."""
    ends = np.repeat(seg.starts + seg.lengths, seg.lengths)  # in sorted order
    return np.sort(seg.order[ends - np.arange(seg.n) <= n])


class AllTime:
    """Every event: one table, each block merged in."""

    __slots__ = ("fold", "table")

    def __init__(self, fold: GroupedFold) -> None:
        self.fold = fold
        self.table = empty(fold, 0)

    def absorb(self, block: Block) -> None:
        table = grow(self.fold, self.table, block.size)
        part = self.fold.fold_block(block.columns, block.segments)
        self.table = merge_into(self.fold, table, block.segments.groups, part)

    def read(self, watermark: float | None = None) -> Table:
        """The table (read-only: it is the window's own)."""
        return self.table

    def forget(self, watermark: float) -> None:
        """Nothing to forget: every event counts."""

    def merge(self, other: AllTime, remap: Ints, size: int) -> None:
        table = grow(self.fold, self.table, size)
        self.table = merge_into(self.fold, table, remap[: fold_size(other.table)], other.table)

    def check(self, names: Sequence[str], groups: int, watermark: float | None) -> None:
        """Raise ValueError unless the restored state fits ``groups`` groups."""
        if fold_size(self.table) > groups:
            raise ValueError(f"a table of {fold_size(self.table)} groups, {groups} known")

    def to_state(self) -> dict[str, Any]:
        return {"kind": "all", "table": to_state(self.fold, self.table)}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.table = from_state(self.fold, state["table"])


class LastN:
    """The last ``n`` events of each group."""

    __slots__ = (
        "_cache", "_dirty", "_fresh", "_full", "_kept", "_seen", "_waiting", "_waiting_n",
        "codes", "fold", "n", "rows",
    )  # fmt: skip

    def __init__(self, fold: GroupedFold, *, n: int) -> None:
        if n <= 0:
            raise ValueError(f"window size must be positive, got {n}")
        self.fold = fold
        self.n = n
        self.rows: dict[str, Column] | None = None  # input rows, arrival order
        self.codes: Ints = np.empty(0, dtype=np.int64)
        self._kept = 0  # rows held after the last trim
        self._cache = empty(fold, 0)
        self._dirty = np.zeros(0, dtype=np.bool_)
        # blocks absorbed since the rows were last joined (joined at a read or trim,
        # so absorbing costs the block, not the rows held)
        self._waiting: list[tuple[Columns, Ints]] = []
        self._waiting_n = 0
        # per group: events ever absorbed (while at most n, none has dropped out and
        # a read merges the new rows into the kept row), and whether its kept row
        # must be folded afresh; the trailing rows absorbed since the last read
        self._seen = np.zeros(0, dtype=np.int64)
        self._full = np.zeros(0, dtype=np.bool_)
        self._fresh = 0

    def _add(self, columns: Columns, codes: Ints, size: int) -> None:
        self._waiting.append((columns, codes))
        self._waiting_n += len(codes)
        self._grow(size)
        self._dirty[codes] = True
        self._seen += np.bincount(codes, minlength=len(self._seen))
        if len(self.codes) + self._waiting_n > max(2 * self._kept, 4096):
            self._trim()

    def _settle(self) -> None:
        """Join the waiting blocks to the rows held."""
        if self._waiting:
            parts: list[tuple[Columns, Ints]] = (
                [] if self.rows is None else [(self.rows, self.codes)]
            )
            parts += self._waiting
            self.rows = _concat([p[0] for p in parts])
            self.codes = np.concatenate([p[1] for p in parts])
            self._fresh += self._waiting_n
            self._waiting, self._waiting_n = [], 0

    def _grow(self, size: int) -> None:
        """Room for ``size`` groups (a read has a row for each)."""
        more = size - len(self._dirty)
        if more > 0:
            self._dirty = np.concatenate((self._dirty, np.zeros(more, bool)))
            self._full = np.concatenate((self._full, np.zeros(more, bool)))
            self._seen = np.concatenate((self._seen, np.zeros(more, np.int64)))

    def _trim(self) -> None:
        self._settle()
        if self.rows is None:
            return
        keep = last_n(Segments(self.codes), self.n)
        self._fresh = int(np.count_nonzero(keep >= len(self.codes) - self._fresh))
        self.rows = _select(self.rows, keep)
        self.codes = self.codes[keep]
        self._kept = len(keep)

    def absorb(self, block: Block) -> None:
        seg = block.segments
        self._grow(block.size)
        if not seg.n or seg.lengths.max() <= self.n:
            self._add(block.columns, block.codes, block.size)
        else:
            keep = last_n(seg, self.n)
            self._add(_select(block.columns, keep), block.codes[keep], block.size)

    def read(self, watermark: float | None = None) -> Table:
        """The fold of each group's last ``n`` events; only the groups that changed
        since the last read are folded again."""
        table = self._cache = grow(self.fold, self._cache, len(self._dirty))
        self._settle()
        if self.rows is None or not self._dirty.any():
            return table
        # a group none of whose events has dropped out takes its new rows merged
        # into its kept row; the others fold their last n afresh
        growing = self._dirty & ~self._full & (self._seen <= self.n)
        afresh = self._dirty & ~growing
        codes, start = self.codes, len(self.codes) - self._fresh
        new = start + np.flatnonzero(growing[codes[start:]])
        if len(new):
            seg = Segments(codes[new])
            part = self.fold.fold_block(_select(self.rows, new), seg)
            table = self._cache = merge_into(self.fold, table, seg.groups, part)
        changed = np.flatnonzero(afresh[codes])
        if len(changed):
            seg = Segments(codes[changed])
            if seg.lengths.max() > self.n:
                changed = changed[last_n(seg, self.n)]
                seg = Segments(codes[changed])
            put(table, seg.groups, self.fold.fold_block(_select(self.rows, changed), seg))
        self._dirty[:] = self._full[:] = False
        self._fresh = 0
        return table

    def held(self) -> tuple[dict[str, Column], Ints]:
        """The input rows in view — each group's last ``n``, in arrival order — and
        their group codes (for statistics computed at read time from the rows)."""
        self._settle()
        if self.rows is None:
            return {}, np.empty(0, dtype=np.int64)
        keep = last_n(Segments(self.codes), self.n)
        return _select(self.rows, keep), self.codes[keep]

    def forget(self, watermark: float) -> None:
        """Nothing to forget: a group's last events stay in view however old."""

    def merge(self, other: LastN, remap: Ints, size: int) -> None:
        other._settle()
        if other.rows is not None:
            self._add(other.rows, remap[other.codes], size)
            self._trim()
        else:
            self._grow(size)

    def check(self, names: Sequence[str], groups: int, watermark: float | None) -> None:
        """Raise ValueError unless the restored state fits ``groups`` groups."""
        if len(self._dirty) > groups:
            raise ValueError(f"a window of {len(self._dirty)} groups, {groups} known")
        self._settle()
        if self.rows is None:
            if len(self.codes):
                raise ValueError("codes without rows")
            return
        check_rows(self.rows, self.codes, names, groups)
        if len(self.codes) and int(Segments(self.codes).lengths.max()) > self.n:
            raise ValueError(f"a group holds more than its last {self.n} events")

    def to_state(self) -> dict[str, Any]:
        self._trim()
        return {
            "kind": "last",
            "n": self.n,
            "rows": None if self.rows is None else encode_columns(self.rows),
            "codes": self.codes.tolist(),
            "size": len(self._dirty),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.rows = None if state["rows"] is None else decode_columns(state["rows"])
        self.codes = np.asarray(state["codes"], dtype=np.int64)
        self._kept = len(self.codes)
        self._waiting, self._waiting_n, self._fresh = [], 0, 0
        self._cache = empty(self.fold, 0)
        size = int(state["size"])
        if len(self.codes) and int(self.codes.max()) >= size:
            raise ValueError(f"group codes outside 0..{size - 1}")
        self._dirty = np.zeros(size, bool)
        self._dirty[self.codes] = True
        self._full = self._dirty.copy()  # no kept rows yet
        self._seen = np.bincount(self.codes, minlength=size).astype(np.int64)


WindowKind = AllTime | LastN | TimeWindow


def window(fold: GroupedFold, *, trades: int | None, seconds: float | None) -> WindowKind:
    """The window of a lookback: the last ``trades`` events of each group, the last
    ``seconds`` of event time, or (neither) every event."""
    if trades is not None:
        return LastN(fold, n=trades)
    if seconds is not None:
        return TimeWindow(fold, span=seconds)
    return AllTime(fold)
