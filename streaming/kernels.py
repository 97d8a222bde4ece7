"""The grouped folds (:mod:`streaming.fold`) every statistic is built from: the
kernels whose result does not depend on the order of the events.

* :class:`Count` — events (where a flag holds);
* :class:`Sum` — a compensated sum (:mod:`streaming.sums`): exact to about twice
  the working precision whatever the cancellation; :class:`Mean` — a count beside it;
* :class:`Moments` — count, compensated sum and centred sum of squares (mean and
  variance; merged with Chan et al.'s pairwise formula).

The kernels whose result follows the order of the events (:class:`Path`,
:class:`Run`, :class:`Decayed`) are in :mod:`streaming.ordered_kernels`;
:class:`Composite`, named kernels side by side, in :mod:`streaming.composite`.

Each reads its input columns by name (``x``, and ``where``: a flag column that
selects the events it counts). Merges are row-wise numpy expressions, so merging
the tables of thousands of groups costs a few array operations.

>>> import numpy as np
>>> from streaming.fold import Segments
>>> codes = np.array([0, 1, 0])
>>> table = Sum().fold_block({"x": np.array([1.0, 5.0, 2.0])}, Segments(codes))
>>> Sum().read(table)["sum"].tolist()
[3.0, 5.0]
"""

from __future__ import annotations

import numpy as np

from streaming.fold import Bools, Columns, Field, Floats, Segments, Table
from streaming.sums import mean_pair, padded_sums, two_sum

F8, I8 = np.float64, np.int64


def _where(columns: Columns, where: str | None) -> Bools | None:
    return None if where is None else columns[where]


def _sums(seg: Segments, values: Floats, where: Bools | None) -> tuple[Floats, Floats]:
    """The compensated sum (hi, lo) of ``values`` where ``where`` holds, per group."""
    parts = [(b, padded_sums(v)) for b, v in seg.padded(values, 0.0, where)]
    his = seg.gather([(b, p[0]) for b, p in parts], F8)
    los = seg.gather([(b, p[1]) for b, p in parts], F8)
    return his, los


def _add(a: Table, b: Table) -> tuple[Floats, Floats]:
    """The merged compensated sum of two tables with ``hi`` and ``lo``."""
    hi, err = two_sum(a["hi"], b["hi"])
    return hi, a["lo"] + b["lo"] + err


class Count:
    """Events per group, or those where ``where`` holds."""

    __slots__ = ("where",)
    version = 1
    fields = (Field("n", I8, 0),)

    def __init__(self, where: str | None = None) -> None:
        self.where = where

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        return {"n": seg.count(None if self.where is None else columns[self.where])}

    def merge(self, a: Table, b: Table) -> Table:
        return {"n": a["n"] + b["n"]}

    def read(self, table: Table) -> Table:
        return {"n": table["n"]}


class Sum:
    """The compensated sum of ``x`` (where ``where`` holds)."""

    __slots__ = ("where", "x")
    version = 1
    fields = (Field("hi", F8, 0.0), Field("lo", F8, 0.0))

    def __init__(self, x: str = "x", where: str | None = None) -> None:
        self.x, self.where = x, where

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        hi, lo = _sums(seg, columns[self.x], _where(columns, self.where))
        return {"hi": hi, "lo": lo}

    def merge(self, a: Table, b: Table) -> Table:
        hi, lo = _add(a, b)
        return {"hi": hi, "lo": lo}

    def read(self, table: Table) -> Table:
        return {"sum": table["hi"] + table["lo"]}


class Mean:
    """Count and mean of ``x`` (where ``where`` holds): a count and a compensated sum."""

    __slots__ = ("where", "x")
    version = 1
    fields = (Field("n", I8, 0), Field("hi", F8, 0.0), Field("lo", F8, 0.0))

    def __init__(self, x: str = "x", where: str | None = None) -> None:
        self.x, self.where = x, where

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        mask = _where(columns, self.where)
        hi, lo = _sums(seg, columns[self.x], mask)
        return {"n": seg.count(mask), "hi": hi, "lo": lo}

    def merge(self, a: Table, b: Table) -> Table:
        hi, lo = _add(a, b)
        return {"n": a["n"] + b["n"], "hi": hi, "lo": lo}

    def read(self, table: Table) -> Table:
        n = table["n"]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, (table["hi"] + table["lo"]) / n, np.nan)
        return {"n": n, "mean": mean}


class Moments:
    """Count, mean and sample variance of ``x`` (where ``where`` holds). The mean is
    the compensated sum over the count; ``m2`` (the centred sum of squares) is
    centred on each group's first value in a block (so a constant stream keeps it
    exactly 0) and merged with Chan's formula, the difference of the means taken
    from the exact sums; ``mu`` is a rounded mean, kept to tell pieces of one
    constant stream."""

    __slots__ = ("where", "x")
    version = 1
    fields = (
        Field("n", I8, 0), Field("hi", F8, 0.0), Field("lo", F8, 0.0),
        Field("mu", F8, 0.0), Field("m2", F8, 0.0),
    )  # fmt: skip

    def __init__(self, x: str = "x", where: str | None = None) -> None:
        self.x, self.where = x, where

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        mask = _where(columns, self.where)
        n = seg.count(mask)
        hi, lo = _sums(seg, columns[self.x], mask)
        values = columns[self.x] if mask is None else np.where(mask, columns[self.x], 0.0)
        # centred on each group's first value, so a constant stream keeps m2 exactly 0
        ranked = seg.order if mask is None else seg.order[mask[seg.order]]
        groups = seg.local[ranked]
        first = np.r_[True, groups[1:] != groups[:-1]] if len(groups) else groups.astype(bool)
        shift = np.zeros(len(seg))
        shift[groups[first]] = values[ranked[first]]
        dev = values - shift[seg.local]
        if mask is not None:
            dev = np.where(mask, dev, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = np.where(n > 0, seg.total(dev) / n, 0.0)
        dev = dev - centre[seg.local]
        if mask is not None:
            dev = np.where(mask, dev, 0.0)
        return {"n": n, "hi": hi, "lo": lo, "mu": shift + centre, "m2": seg.total(dev * dev)}

    def merge(self, a: Table, b: Table) -> Table:
        na, nb = a["n"], b["n"]
        n = na + nb
        # the difference of the two means from their exact sums (the rounded means
        # would lose the digits that square into m2 at large magnitudes); exactly 0
        # for two pieces of one constant stream
        qa, ca = mean_pair(a["hi"], a["lo"], na)
        qb, cb = mean_pair(b["hi"], b["lo"], nb)
        d, err = two_sum(qb, -qa)
        same = (a["m2"] == 0) & (b["m2"] == 0) & (a["mu"] == b["mu"])
        delta = np.where(same, 0.0, d + (err + (cb - ca)))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n > 0, nb / n, 0.0)
            cross = np.where(n > 0, delta * delta * (na * (nb / n)), 0.0)
        mu = np.where(na == 0, b["mu"], np.where(nb == 0, a["mu"], a["mu"] + delta * share))
        m2 = np.where(na == 0, b["m2"], np.where(nb == 0, a["m2"], a["m2"] + b["m2"] + cross))
        hi, lo = _add(a, b)
        return {"n": n, "hi": hi, "lo": lo, "mu": mu, "m2": m2}

    def read(self, table: Table) -> Table:
        n = table["n"]
        m2 = np.maximum(table["m2"], 0.0)  # never negative, whatever rounding did
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, (table["hi"] + table["lo"]) / n, np.nan)
            var = np.where(n > 1, m2 / (n - 1), np.nan)
        return {"n": n, "mean": mean, "var": var}
