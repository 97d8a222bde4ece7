"""Windows by composition: any grouped fold (:mod:`streaming.fold`) over all events,
the last N events of each group, or the events of the last T of event time.

A window folds blocks of events of many groups: a :class:`Block` carries the
events' columns, their group codes and :class:`~streaming.fold.Segments`. A read
returns a table with one row per group (the empty fold for a group without events
in view). An event that belongs to several groups (a symbol, a strategy, …) enters
once per group, each copy with that group's code.

* :class:`AllTime` keeps one table and merges each block into it.
* :class:`LastN` keeps the input rows of each group's last ``n``
  events in arrival order (trimmed as they fall out, so memory is bounded by the
  groups, not the events) and refolds, at a read, only the groups that changed.
* :class:`TimeWindow` keeps the rows with ``ts > max_ts - span`` in chunks of
  arrival order; a read merges the cached tables of the chunks wholly in view and
  folds the rows of the ones the horizon cuts.

All three merge (``other``'s events after ``self``'s; its codes translated by a
``remap``) and save their state as plain data.

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
>>> t = TimeWindow(Sum(), span=60.0)
>>> t.absorb(block([0.0, 30.0, 70.0], [100.0, 1.0, 3.0], [0, 0, 1]))
>>> Sum().read(t.read(watermark=70.0))["sum"].tolist()   # ts > 70 - 60
[1.0, 3.0]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streaming.fold import (
    Column,
    Columns,
    Floats,
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

# Events per time-window chunk: a read merges one cached table per chunk and folds
# the rows of at most the one or two the horizon cuts.
CHUNK = 16384
# Events per run of a chunk the horizon cuts: a read refolds at most one such run.
SUB = 2048


@dataclass(frozen=True, slots=True)
class Block:
    """Events in arrival order: their times, input columns, group codes and
    segments, and the number of groups known once the block is in."""

    ts: Floats
    columns: Columns
    codes: Ints
    segments: Segments
    size: int

    def __len__(self) -> int:
        return len(self.ts)


def _concat(parts: Sequence[Columns]) -> dict[str, Column]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _select(columns: Columns, rows: Any) -> dict[str, Column]:
    return {k: v[rows] for k, v in columns.items()}


def last_n(seg: Segments, n: int) -> Ints:
    """The positions (ascending) of each group's last ``n`` events."""
    ends = np.repeat(seg.starts + seg.lengths, seg.lengths)  # in sorted order
    return np.sort(seg.order[ends - np.arange(seg.n) <= n])


def check_rows(columns: Columns, codes: Ints, names: Sequence[str], groups: int) -> None:
    """Held input rows that fit: the fold's input columns, one length, codes of
    known groups (a damaged state fails here, not at a later read)."""
    if sorted(columns) != sorted(names):
        raise ValueError(f"held columns {sorted(columns)}, expected {sorted(names)}")
    if any(len(v) != len(codes) or v.ndim != 1 for v in columns.values()):
        raise ValueError("held columns and codes of different lengths")
    if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= groups):
        raise ValueError(f"group codes outside 0..{groups - 1}")


def encode_columns(columns: Columns) -> dict[str, Any]:
    """Columns as plain data: values as lists, dtypes by name, NaN (which JSON
    lacks) written as 0 with its positions listed."""
    out: dict[str, Any] = {}
    for k, v in columns.items():
        if v.dtype.kind == "f":
            nan = np.isnan(v)
            out[k] = {"dtype": v.dtype.str, "values": np.where(nan, 0.0, v).tolist(),
                      "nan": np.flatnonzero(nan).tolist()}  # fmt: skip
        else:
            out[k] = {"dtype": v.dtype.str, "values": v.tolist()}
    return out


def decode_columns(state: Mapping[str, Any]) -> dict[str, Column]:
    out: dict[str, Column] = {}
    for k, s in state.items():
        v = np.asarray(s["values"], dtype=np.dtype(s["dtype"]))
        if "nan" in s:
            v[np.asarray(s["nan"], dtype=np.int64)] = np.nan
        out[k] = v
    return out


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


class _Chunk:
    """Consecutive events of a time window: times, input columns and codes, the
    index of the first event still held (``cut``), the time range, and the cached
    (groups, table) once folded."""

    __slots__ = ("codes", "columns", "cut", "hi", "lo", "subs", "summary", "ts", "view")

    def __init__(self, ts: Floats, columns: Columns, codes: Ints) -> None:
        self.ts, self.columns, self.codes = ts, columns, codes
        self.cut = 0
        self.lo, self.hi = float(ts.min()), float(ts.max())
        self.summary: tuple[Ints, Table] | None = None
        # once the horizon cuts the chunk: per run of SUB events, [start, end, lo,
        # hi, cached (groups, table)], so a read refolds one run, not the chunk
        self.subs: list[list[Any]] | None = None
        # (a, b, pieces): the pieces of the events in view at any horizon in [a, b)
        self.view: tuple[float, float, list[tuple[Ints, Table]]] | None = None

    def __len__(self) -> int:
        return len(self.ts)

    def inside(self, horizon: float) -> bool:
        """Every event of the chunk is held and in view."""
        return self.cut == 0 and self.lo > horizon

    def fold(self, fold: GroupedFold, rows: Any = None) -> tuple[Ints, Table]:
        """(groups, table) of the chunk's events (or of ``rows``)."""
        columns = self.columns if rows is None else _select(self.columns, rows)
        seg = Segments(self.codes if rows is None else self.codes[rows])
        return seg.groups, fold.fold_block(columns, seg)

    def parts(self, fold: GroupedFold, horizon: float, sub: int) -> list[tuple[Ints, Table]]:
        """(groups, table) of the held events with ``ts > horizon``, in order, as a
        few pieces: the cached tables of the runs of ``sub`` events wholly in view and
        the folds of the rows in view of the others."""
        view = self.view
        if view is not None and view[0] <= horizon < view[1]:
            return view[2]  # no event of the chunk crossed the horizon since
        if self.subs is None:
            starts = np.arange(0, len(self), sub)
            los = np.minimum.reduceat(self.ts, starts).tolist()
            his = np.maximum.reduceat(self.ts, starts).tolist()
            ends = [*starts[1:].tolist(), len(self)]
            self.subs = [[a, e, lo, hi, None] for a, e, lo, hi in
                         zip(starts.tolist(), ends, los, his, strict=True)]  # fmt: skip
        out = []
        for run in self.subs:
            start, end, lo, hi, kept = run
            if end <= self.cut or hi <= horizon:
                continue
            if start >= self.cut and lo > horizon:
                if kept is None:
                    kept = run[4] = self.fold(fold, slice(start, end))
                out.append(kept)
            else:
                first = max(start, self.cut)
                out.append(self.fold(fold, first + np.flatnonzero(self.ts[first:end] > horizon)))
        held = self.ts[self.cut :]
        seen = held > horizon
        if len(out) > 1:  # kept as one table: a later read merges it once
            merged = out[0]
            for piece in out[1:]:
                merged = _union(fold, merged, piece)
            out = [merged]
        self.view = (
            float(held[~seen].max()) if not seen.all() else -math.inf,
            float(held[seen].min()) if seen.any() else math.inf,
            out,
        )
        return out


def _union(fold: GroupedFold, a: tuple[Ints, Table], b: tuple[Ints, Table]) -> tuple[Ints, Table]:
    """The (groups, table) of ``a``'s events followed by ``b``'s."""
    rows = np.union1d(a[0], b[0])
    table = empty(fold, len(rows))
    for groups, part in (a, b):
        table = merge_into(fold, table, np.searchsorted(rows, groups), part)
    return rows, table


class TimeWindow:
    """Events with ``ts > watermark - span``: the watermark is given at the read
    (the largest ``ts`` of the whole input, so every window ends at the same
    instant). Events at or below this window's own largest ``ts`` minus ``span``
    can never come back into view and are dropped as they age out."""

    __slots__ = ("_read", "_run", "chunk", "chunks", "fold", "max_ts", "size", "span", "sub")

    def __init__(
        self, fold: GroupedFold, *, span: float, chunk: int = CHUNK, sub: int = SUB
    ) -> None:
        if not span > 0:
            raise ValueError(f"time span must be positive, got {span}")
        if chunk < 1 or sub < 1:
            raise ValueError(f"chunk and run sizes must be positive, got {chunk}, {sub}")
        self.fold = fold
        self.span = span
        self.chunk = chunk
        self.sub = sub
        self.chunks: list[_Chunk] = []
        self.max_ts: float | None = None
        self.size = 0
        self._read: tuple[float, int, Table] | None = None  # until the next change
        # (first chunk, chunks merged, their table): the run of whole chunks in view
        self._run: tuple[_Chunk, int, Table] | None = None

    def absorb(self, block: Block) -> None:
        self.size = max(self.size, block.size)
        if not len(block):
            return
        self._append(block.ts, block.columns, block.codes)
        top = float(block.ts.max())
        self.max_ts = top if self.max_ts is None else max(self.max_ts, top)
        self._evict(self.max_ts - self.span)

    def _append(self, ts: Floats, columns: Columns, codes: Ints) -> None:
        """Whole chunks of at most ``chunk`` events; a short last chunk is topped up
        first (its cached table extended by the new rows' fold), so chunks stay few."""
        self._read = None
        i, size = 0, self.chunk
        last = self.chunks[-1] if self.chunks else None
        if last is not None and len(last) < size:
            i = size - len(last)
            head = slice(0, i)
            added = _Chunk(ts[head], _select(columns, head), codes[head])
            top = _Chunk(
                np.concatenate((last.ts, added.ts)),
                _concat([last.columns, added.columns]),
                np.concatenate((last.codes, added.codes)),
            )
            top.cut = last.cut
            if last.summary is not None and last.cut == 0:  # extend it: fold the new rows
                top.summary = _union(self.fold, last.summary, added.fold(self.fold))
            self.chunks[-1] = top
        while i < len(ts):
            part = slice(i, i + size)
            self.chunks.append(_Chunk(ts[part], _select(columns, part), codes[part]))
            i += size

    def _evict(self, horizon: float) -> None:
        chunks = self.chunks
        if any(c.hi <= horizon for c in chunks):  # wholly aged out, wherever it lies
            kept = [c for c in chunks if c.hi > horizon]
            first = next((i for i, c in enumerate(chunks) if c.hi > horizon), len(chunks))
            if len(kept) != len(chunks) - first:  # one left the middle: the run is stale
                self._run = None
            chunks[:] = kept
        while chunks:
            c = chunks[0]
            if c.lo > horizon:
                break
            live = np.flatnonzero(c.ts[c.cut :] > horizon)
            if len(live) == 0:
                chunks.pop(0)  # wholly aged out; keep looking
                continue
            if live[0]:
                c.cut += int(live[0])
                c.summary = c.view = None
            break

    def read(self, watermark: float | None = None) -> Table:
        """The fold of the events with ``ts > watermark - span`` (``watermark``
        defaults to this window's own largest ``ts``). Chunks wholly in view merge
        their cached tables; the merge of the run of such chunks is kept and
        extended while its first chunk stays in view, so a read folds the rows of
        the chunks the horizon cuts and of the newest chunk, and merges a few
        tables."""
        wm = self.max_ts if watermark is None else watermark
        if wm is None:
            return empty(self.fold, self.size)
        horizon = wm - self.span
        if self._read is not None and self._read[:2] == (horizon, self.size):
            return self._read[2]
        chunks, last = self.chunks, len(self.chunks) - 1
        out = empty(self.fold, self.size)
        i = 0
        while i < last and not chunks[i].inside(horizon):
            out = self._add(out, chunks[i], horizon)
            i += 1
        j = i
        while j < last and chunks[j].inside(horizon):
            j += 1
        if j > i:
            run = grow(self.fold, self._run_of(i, j, horizon), self.size)
            out = self.fold.merge(out, run)
        for c in chunks[j:]:
            out = self._add(out, c, horizon)
        self._read = (horizon, self.size, out)
        return out

    def _add(self, out: Table, c: _Chunk, horizon: float) -> Table:
        """``out`` with the chunk's events in view merged after it."""
        if c.hi <= horizon:
            return out
        if c.inside(horizon):
            if c.summary is None:
                c.summary = c.fold(self.fold)
            return merge_into(self.fold, out, *c.summary)
        for groups, table in c.parts(self.fold, horizon, self.sub):
            out = merge_into(self.fold, out, groups, table)
        return out

    def _run_of(self, i: int, j: int, horizon: float) -> Table:
        """The merged tables of ``chunks[i:j]`` (all wholly in view): the kept run
        extended when it starts at the same chunk, else built afresh."""
        kept = self._run
        start, have, table = (
            kept if kept is not None and kept[0] is self.chunks[i] and kept[1] <= j - i
            else (self.chunks[i], 0, empty(self.fold, 0))
        )  # fmt: skip
        if have < j - i:
            table = {k: v.copy() for k, v in table.items()}  # the kept run is shared
            for c in self.chunks[i + have : j]:
                table = self._add(grow(self.fold, table, self.size), c, horizon)
            self._run = (start, j - i, table)
        return table

    def forget(self, watermark: float) -> None:
        """Drop events that no read at ``watermark`` or later can see (for a window
        whose input is known to reach at least that event time)."""
        self._read = None
        self._evict(watermark - self.span)

    def merge(self, other: TimeWindow, remap: Ints, size: int) -> None:
        self._read = None
        self.size = max(self.size, size)
        for c in other.chunks:
            if c.cut < len(c):
                rows = slice(c.cut, None)
                self.chunks.append(
                    _Chunk(c.ts[rows], _select(c.columns, rows), remap[c.codes[rows]])
                )
        if other.max_ts is not None:
            self.max_ts = other.max_ts if self.max_ts is None else max(self.max_ts, other.max_ts)
            self._evict(self.max_ts - self.span)

    def check(self, names: Sequence[str], groups: int, watermark: float | None) -> None:
        """Raise ValueError unless the restored state fits ``groups`` groups and
        the input's ``watermark``."""
        if self.size > groups:
            raise ValueError(f"a window of {self.size} groups, {groups} known")
        if self.max_ts is not None and (watermark is None or not self.max_ts <= watermark):
            raise ValueError(f"events up to ts {self.max_ts!r}, beyond the watermark")
        for c in self.chunks:
            check_rows(c.columns, c.codes, names, groups)
            if len(c.ts) != len(c.codes):
                raise ValueError("event times and codes of different lengths")

    def held(self) -> int:
        """Events held (those that can still come into view, and the rest of their
        chunks)."""
        return sum(len(c) - c.cut for c in self.chunks)

    def to_state(self) -> dict[str, Any]:
        live = [(c, slice(c.cut, None)) for c in self.chunks]
        if live:
            ts = np.concatenate([c.ts[r] for c, r in live])
            columns = _concat([_select(c.columns, r) for c, r in live])
            codes = np.concatenate([c.codes[r] for c, r in live]).tolist()
        else:
            ts, columns, codes = np.empty(0), {}, []
        return {
            "kind": "time",
            "span": self.span,
            "max_ts": self.max_ts,
            "size": self.size,
            "ts": ts.tolist(),
            "columns": encode_columns(columns),
            "codes": codes,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        self.chunks = []
        self._read = self._run = None
        self.max_ts = state["max_ts"]
        self.size = int(state["size"])
        ts = np.asarray(state["ts"], dtype=np.float64)
        if len(ts):
            codes = np.asarray(state["codes"], dtype=np.int64)
            self._append(ts, decode_columns(state["columns"]), codes)


WindowKind = AllTime | LastN | TimeWindow


def window(fold: GroupedFold, *, trades: int | None, seconds: float | None) -> WindowKind:
    """The window of a lookback: the last ``trades`` events of each group, the last
    ``seconds`` of event time, or (neither) every event."""
    if trades is not None:
        return LastN(fold, n=trades)
    if seconds is not None:
        return TimeWindow(fold, span=seconds)
    return AllTime(fold)
