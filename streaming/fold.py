"""The grouped fold: one protocol for every statistic the engine keeps.

A fold summarises each group's events in a **table**: named numpy columns with one
row per group (:data:`Table`). A fold is

* ``fields`` — its columns, each with a dtype and the value of the empty fold (the
  identity), so an empty table of any size follows (:func:`empty`);
* ``fold_block(columns, segments)`` — the table of a block of events, one row per
  group present in the block, computed with grouped numpy operations over the
  whole block (the cost grows with the events, not with the groups);
* ``merge(a, b)`` — row by row, ``b``'s events after ``a``'s; associative, the
  empty row its identity. Order matters (a drawdown does not commute);
* ``read(table)`` — pure: the results, named columns again.

Everything else is generic over ``fields``: gathering and scattering rows
(:func:`take`, :func:`put`), merging a block into some rows of a table
(:func:`merge_into`), one event at a time (:func:`step`), and state as plain data
(:func:`to_state`, :func:`from_state`), versioned by the fold's ``version``.

A block enters as flat columns in arrival order and one group code per event;
:class:`Segments` sorts the codes once (stable, so each group keeps its arrival
order) and offers both views a fold needs: flat per-event group numbers (for
``bincount``-style sums of order-free parts) and padded 2-D blocks, each group a
row, bucketed by length within a factor of two (for ordered scans: running sums
and runs along the rows). :mod:`streaming.kernels`, :mod:`streaming.ordered_kernels`
and :mod:`streaming.composite` hold the folds themselves.

>>> import numpy as np
>>> from streaming.kernels import Count, Sum
>>> seg = Segments(np.array([1, 0, 1, 1]))
>>> seg.groups.tolist(), seg.lengths.tolist()
([0, 1], [1, 3])
>>> part = Sum().fold_block({"x": np.array([1.0, 2.0, 3.0, 4.0])}, seg)
>>> Sum().read(part)["sum"].tolist()
[2.0, 8.0]
>>> table = merge_into(Sum(), empty(Sum(), 3), seg.groups, part)
>>> Sum().read(table)["sum"].tolist()
[2.0, 8.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Column = npt.NDArray[Any]
Table = dict[str, Column]  # one row per group, every column the same length
Columns = Mapping[str, Column]  # a block's inputs, one row per event


class Field(NamedTuple):
    name: str
    dtype: type[np.generic]
    identity: float


class GroupedFold(Protocol):
    """An ordered, mergeable fold of each group's events (see the module docstring)."""

    @property
    def version(self) -> int: ...

    @property
    def fields(self) -> tuple[Field, ...]: ...

    def fold_block(self, columns: Columns, seg: Segments, /) -> Table: ...

    def merge(self, a: Table, b: Table, /) -> Table: ...

    def read(self, table: Table, /) -> Table: ...


# --- the layout of a block --------------------------------------------------------------


class Bucket(NamedTuple):
    """Groups of about one length as rows of a 2-D block: ``rows`` are the groups'
    numbers among the block's groups, ``take[i, j]`` the position (in the block) of
    row ``i``'s ``j``-th event, ``valid`` False at the padding (index 0 there)."""

    rows: Ints
    take: Ints
    valid: Bools


class Segments:
    """A block's events by group: ``groups`` the distinct codes present (ascending),
    ``lengths`` their event counts, ``local`` each event's number among ``groups``,
    and ``order`` the events sorted by group, arrival order kept within each."""

    __slots__ = ("_buckets", "_gathered", "groups", "lengths", "local", "n", "order", "starts")

    def __init__(self, codes: npt.ArrayLike) -> None:
        codes = np.asarray(codes, dtype=np.int64)
        self.n = len(codes)
        self.order: Ints = np.argsort(codes, kind="stable")
        ranked = codes[self.order]
        first = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if self.n else ranked
        self.groups: Ints = ranked[first]
        self.starts: Ints = first
        self.lengths: Ints = np.diff(np.r_[first, self.n]).astype(np.int64)
        local = np.empty(self.n, dtype=np.int64)
        local[self.order] = np.repeat(np.arange(len(first)), self.lengths)
        self.local: Ints = local
        self._buckets: list[Bucket] | None = None
        # id(column) -> (column, its values per bucket): columns are gathered once
        self._gathered: dict[int, tuple[Column, list[Column]]] = {}

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def buckets(self) -> list[Bucket]:
        """The padded layout, built on first use: one bucket per power of two of the
        group lengths, so padding at most doubles a bucket."""
        if self._buckets is None:
            self._buckets = []
            if self.n:
                bits = np.frexp(self.lengths.astype(np.float64))[1]
                for b in np.unique(bits).tolist():
                    rows = np.flatnonzero(bits == b)
                    lengths = self.lengths[rows]
                    width = int(lengths.max())
                    place = np.arange(width)
                    valid = place < lengths[:, None]
                    index = np.where(valid, self.starts[rows][:, None] + place, 0)
                    self._buckets.append(Bucket(rows, self.order[index], valid))
        return self._buckets

    def _gather(self, column: Column) -> list[Column]:
        """``column`` in the padded layout, each bucket's rows (padding unset); kept,
        so the kernels of one block gather each column once."""
        kept = self._gathered.get(id(column))
        if kept is None or kept[0] is not column:
            kept = self._gathered[id(column)] = (column, [column[b.take] for b in self.buckets])
        return kept[1]

    def padded(
        self, values: Column, fill: Any, where: Bools | None = None
    ) -> list[tuple[Bucket, Column]]:
        """``values`` (one per event) in the padded layout, ``fill`` at the padding and
        where ``where`` (one flag per event) is False."""
        gathered = self._gather(values)
        if where is None:
            return [
                (b, np.where(b.valid, v, fill)) for b, v in zip(self.buckets, gathered, strict=True)
            ]
        flags = self._gather(where)
        return [
            (b, np.where(b.valid & m, v, fill))
            for b, v, m in zip(self.buckets, gathered, flags, strict=True)
        ]

    def gather(self, parts: Sequence[tuple[Bucket, Column]], dtype: Any) -> Column:
        """One value per group from per-bucket results (one value per bucket row)."""
        out = np.empty(len(self.groups), dtype=dtype)
        for bucket, values in parts:
            out[bucket.rows] = values
        return out

    def count(self, mask: Bools | None = None) -> Ints:
        """Events per group (those where ``mask`` is True)."""
        if mask is None:
            return self.lengths.copy()
        return np.bincount(self.local[mask], minlength=len(self.groups)).astype(np.int64)

    def total(self, values: Floats) -> Floats:
        """A plain (uncompensated) sum of ``values`` per group, order-free."""
        return np.bincount(self.local, weights=values, minlength=len(self.groups)).astype(
            np.float64, copy=False
        )


# --- generic table operations ------------------------------------------------------------


def empty(fold: GroupedFold, n: int) -> Table:
    """``n`` rows of the empty fold."""
    return {f.name: np.full(n, f.identity, dtype=f.dtype) for f in fold.fields}


def size(table: Table) -> int:
    return len(next(iter(table.values()))) if table else 0


def take(table: Table, rows: Ints) -> Table:
    return {k: v[rows] for k, v in table.items()}


def put(table: Table, rows: Ints, part: Table) -> Table:
    """``table`` with ``rows`` replaced by ``part``'s rows (in place)."""
    for k, v in table.items():
        v[rows] = part[k]
    return table


def grow(fold: GroupedFold, table: Table, n: int) -> Table:
    """``table`` with empty rows added up to ``n`` rows."""
    have = size(table)
    if have >= n:
        return table
    extra = empty(fold, n - have)
    return {k: np.concatenate((v, extra[k])) for k, v in table.items()}


def merge_into(fold: GroupedFold, table: Table, rows: Ints, part: Table) -> Table:
    """``table`` with ``part`` (one row per entry of ``rows``) merged after ``rows``."""
    if len(rows) == size(table) and np.array_equal(rows, np.arange(len(rows))):
        return fold.merge(table, part)  # every row, in order
    return put(table, rows, fold.merge(take(table, rows), part))


def step(fold: GroupedFold, table: Table, group: int, event: Columns) -> Table:
    """One event (columns of length 1) into ``group``'s row: a block of one."""
    seg = Segments(np.zeros(1, dtype=np.int64))
    rows = np.array([group], dtype=np.int64)
    return merge_into(fold, table, rows, fold.fold_block(event, seg))


def to_state(fold: GroupedFold, table: Table) -> dict[str, Any]:
    """Plain data (JSON-compatible) that :func:`from_state` restores exactly."""
    return {
        "version": fold.version,
        "columns": {f.name: table[f.name].tolist() for f in fold.fields},
    }


class FoldStateError(ValueError):
    """A saved table of another fold or version."""


def from_state(fold: GroupedFold, state: Mapping[str, Any]) -> Table:
    if state.get("version") != fold.version:
        raise FoldStateError(
            f"fold state version {state.get('version')!r}, expected {fold.version}"
        )
    columns = state["columns"]
    names = [f.name for f in fold.fields]
    if sorted(columns) != sorted(names):
        raise FoldStateError(f"fold state columns {sorted(columns)}, expected {sorted(names)}")
    out = {f.name: _column(f, columns[f.name]) for f in fold.fields}
    if len({len(v) for v in out.values()}) > 1:
        raise FoldStateError("fold state columns of different lengths")
    return out


def _column(f: Field, values: Any) -> Column:
    """A saved column back as numbers of its field's dtype: whole numbers for a
    count, finite numbers for a float; anything else is a FoldStateError."""
    raw = np.asarray(values)
    want = np.dtype(f.dtype).kind
    if raw.ndim != 1 or (len(raw) and raw.dtype.kind not in ("iu" if want in "iu" else "iuf")):
        raise FoldStateError(f"fold state column {f.name}: not a list of {np.dtype(f.dtype)}")
    out = raw.astype(f.dtype)
    if want == "f" and not np.isfinite(out).all():
        raise FoldStateError(f"fold state column {f.name}: a value is not finite")
    return out


def equal(a: Table, b: Table) -> bool:
    """Exactly the same rows (NaN equal to NaN)."""
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a
    )
