"""The time window: the events of the last T of event time, held in chunks.

:class:`TimeWindow` keeps the rows with ``ts > max_ts - span`` in chunks of
arrival order (:data:`CHUNK` events each); a read merges the cached tables of the
chunks wholly in view and folds the rows of the ones the horizon cuts (in runs of
:data:`SUB` events, so a read refolds at most one run). It ends at the watermark
given at the read, the largest ``ts`` of the whole input, so every window ends at
the same instant. The other window kinds and :func:`~streaming.windows.window`,
which picks one, are in :mod:`streaming.windows`.

>>> import numpy as np
>>> from streaming.fold import Segments
>>> from streaming.kernels import Sum
>>> def block(ts, xs, groups):
...     codes = np.array(groups)
...     return Block(np.array(ts), {"x": np.array(xs)}, codes, Segments(codes), 2)
>>> t = TimeWindow(Sum(), span=60.0)
>>> t.absorb(block([0.0, 30.0, 70.0], [100.0, 1.0, 3.0], [0, 0, 1]))
>>> Sum().read(t.read(watermark=70.0))["sum"].tolist()   # ts > 70 - 60
[1.0, 3.0]
"""

from __future__ import annotations

import bisect
import math
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
    Columns,
    Floats,
    GroupedFold,
    Ints,
    Segments,
    Table,
    empty,
    grow,
    merge_into,
)

# Events per time-window chunk: a read merges one cached table per chunk and folds
# the rows of at most the one or two the horizon cuts.
CHUNK = 16384
# Events per run of a chunk the horizon cuts: a read refolds at most one such run.
SUB = 2048


class _Chunk:
    """Consecutive events of a time window: times, input columns and codes, the
    index of the first event still held (``cut``), the time range, and the cached
    (groups, table) once folded."""

    __slots__ = (
        "codes", "columns", "cut", "hi", "lo", "subs", "summary", "tail_lo", "tails", "ts",
        "view",
    )  # fmt: skip

    def __init__(self, ts: Floats, columns: Columns, codes: Ints) -> None:
        self.ts, self.columns, self.codes = ts, columns, codes
        self.cut = 0
        self.lo, self.hi = float(ts.min()), float(ts.max())
        self.summary: tuple[Ints, Table] | None = None
        # once the horizon cuts the chunk: per run of SUB events, [start, end, lo,
        # hi, cached (groups, table)], so a read refolds one run, not the chunk
        self.subs: list[list[Any]] | None = None
        # per run k: the least ts of runs k … last, and their union once computed
        self.tail_lo: list[float] = []
        self.tails: list[tuple[Ints, Table] | None] = []
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
        """(groups, table) of the held events with ``ts > horizon``, in order, as one
        piece: the folds of the rows in view of the runs the horizon cuts, then the
        cached union of every later run once all of them are wholly in view
        (:meth:`_tail`), so a read that moved the horizon folds the rows of the
        runs it cuts and merges once, whatever the number of runs behind them."""
        view = self.view
        if view is not None and view[0] <= horizon < view[1]:
            return view[2]  # no event of the chunk crossed the horizon since
        runs = self._runs(sub)
        # the first run from which every run is held whole and wholly in view (the
        # suffix minima of the runs' first times rise, and so does the cut)
        k = bisect.bisect_right(self.tail_lo, horizon)
        while k < len(runs) and runs[k][0] < self.cut:
            k += 1
        out = []
        for run in runs[:k]:
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
        if k < len(runs):
            out.append(self._tail(fold, k))
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

    def _runs(self, sub: int) -> list[list[Any]]:
        """The runs of ``sub`` events: [start, end, lo, hi, cached (groups, table)],
        with the suffix minima of their ``lo`` (``tail_lo``) and no tails yet."""
        if self.subs is None:
            starts = np.arange(0, len(self), sub)
            los = np.minimum.reduceat(self.ts, starts)
            his = np.maximum.reduceat(self.ts, starts).tolist()
            ends = [*starts[1:].tolist(), len(self)]
            self.subs = [[a, e, lo, hi, None] for a, e, lo, hi in
                         zip(starts.tolist(), ends, los.tolist(), his, strict=True)]  # fmt: skip
            self.tail_lo = np.minimum.accumulate(los[::-1])[::-1].tolist()
            self.tails = [None] * len(self.subs)
        return self.subs

    def _tail(self, fold: GroupedFold, k: int) -> tuple[Ints, Table]:
        """The union of runs ``k`` … last, each folded once, kept: ``tails[k]`` is
        run ``k``'s table followed by ``tails[k + 1]``, so as the horizon moves
        through the chunk each read takes the next tail ready-made."""
        runs, tails = self.subs, self.tails
        assert runs is not None
        q = k
        while q < len(runs) and tails[q] is None:
            q += 1
        acc = tails[q] if q < len(runs) else None
        for i in range(q - 1, k - 1, -1):
            run = runs[i]
            if run[4] is None:
                run[4] = self.fold(fold, slice(run[0], run[1]))
            acc = tails[i] = run[4] if acc is None else _union(fold, run[4], acc)
        assert acc is not None
        return acc


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
