"""The kernels whose result follows the order of the events.

* :class:`Path` — the cumulative path of a value from 0: its total, highest and
  lowest point and worst fall (maximum drawdown), each point rounded once from
  its compensated running total;
* :class:`Run` — the longest run of consecutive events where a flag holds;
* :class:`Decayed` — exponentially weighted count, mean and variance (half-life
  in events): recent events count more; an earlier part decays by the later
  part's count when two merge.

Each scans the events of a group in arrival order (the padded rows of
:class:`~streaming.fold.Segments`), and its merge puts the later part after the
earlier. The order-free kernels are in :mod:`streaming.kernels`.

>>> import numpy as np
>>> from streaming.fold import Segments, equal
>>> cols = {"x": np.array([1.0, -2.0, 0.5, -1.0, 3.0])}
>>> path = Path()
>>> whole = path.fold_block(cols, Segments(np.zeros(5, dtype=np.int64)))
>>> {k: float(v[0]) for k, v in path.read(whole).items()}
{'total': 1.5, 'peak': 1.5, 'trough': -1.5, 'max_drawdown': 2.5}
>>> first = path.fold_block({"x": cols["x"][:2]}, Segments(np.zeros(2, dtype=np.int64)))
>>> rest = path.fold_block({"x": cols["x"][2:]}, Segments(np.zeros(3, dtype=np.int64)))
>>> equal(path.merge(first, rest), whole)
True
"""

from __future__ import annotations

import math

import numpy as np

from streaming.fold import Columns, Field, Floats, Ints, Segments, Table
from streaming.kernels import F8, I8, _add, _where
from streaming.sums import prefix_sums


class Path:
    """The path of the running sum of ``x`` (where ``where`` holds; elsewhere a step
    of 0), from 0: total, highest and lowest point (the start counts) and worst fall.
    Two paths merge exactly: the worst fall is in the first, in the second, or from
    the first's peak to the second's trough."""

    __slots__ = ("where", "x")
    version = 1
    fields = (
        Field("hi", F8, 0.0), Field("lo", F8, 0.0), Field("peak", F8, 0.0),
        Field("trough", F8, 0.0), Field("fall", F8, 0.0),
    )  # fmt: skip

    def __init__(self, x: str = "x", where: str | None = None) -> None:
        self.x, self.where = x, where

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        parts = []
        for bucket, steps in seg.padded(columns[self.x], 0.0, _where(columns, self.where)):
            path, hi, lo = prefix_sums(steps)
            peaks = np.maximum(np.maximum.accumulate(path, axis=1), 0.0)
            parts.append((bucket, (hi[:, 0], lo[:, 0], peaks[:, -1],
                                   np.minimum(path.min(axis=1), 0.0),
                                   (peaks - path).max(axis=1))))  # fmt: skip
        return {
            name: seg.gather([(b, p[i]) for b, p in parts], F8)
            for i, name in enumerate(("hi", "lo", "peak", "trough", "fall"))
        }

    def merge(self, a: Table, b: Table) -> Table:
        here = a["hi"] + a["lo"]
        hi, lo = _add(a, b)
        # b's points after a's total; a point that is b's last is the merged path's
        # last, rounded once from the merged total like every point of a block (so a
        # path that never falls shows no fall from two roundings of one point)
        end, b_end = hi + lo, b["hi"] + b["lo"]
        peak = np.where(b["peak"] == b_end, end, here + b["peak"])
        trough = np.where(b["trough"] == b_end, end, here + b["trough"])
        return {
            "hi": hi,
            "lo": lo,
            "peak": np.maximum(a["peak"], peak),
            "trough": np.minimum(a["trough"], trough),
            "fall": np.maximum(np.maximum(a["fall"], b["fall"]), a["peak"] - trough),
        }

    def read(self, table: Table) -> Table:
        return {
            "total": table["hi"] + table["lo"],
            "peak": table["peak"],
            "trough": table["trough"],
            "max_drawdown": table["fall"],
        }


class Run:
    """The longest run of consecutive events where ``flag`` holds. The table keeps
    each group's events, leading and trailing run: two runs merge exactly (the
    longest lies in one of them or across the seam)."""

    __slots__ = ("flag",)
    version = 1
    fields = (
        Field("n", I8, 0),
        Field("head", I8, 0),
        Field("tail", I8, 0),
        Field("longest", I8, 0),
    )

    def __init__(self, flag: str = "flag") -> None:
        self.flag = flag

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        parts = []
        for bucket, flags in seg.padded(columns[self.flag], False):
            width = flags.shape[1]
            place = np.arange(width)
            runs = place - np.maximum.accumulate(np.where(flags, -1, place), axis=1)
            lengths = seg.lengths[bucket.rows]
            tails = runs[np.arange(len(flags)), lengths - 1]
            # the first False (the padding has one, unless the row is all True)
            heads = np.where(flags.all(axis=1), width, np.argmin(flags, axis=1))
            parts.append((bucket, (heads, tails, runs.max(axis=1))))
        out = {
            name: seg.gather([(b, p[i]) for b, p in parts], I8)
            for i, name in enumerate(("head", "tail", "longest"))
        }
        return {"n": seg.lengths.copy(), **out}

    def merge(self, a: Table, b: Table) -> Table:
        return {
            "n": a["n"] + b["n"],
            "head": np.where(a["head"] == a["n"], a["head"] + b["head"], a["head"]),
            "tail": np.where(b["tail"] == b["n"], a["tail"] + b["tail"], b["tail"]),
            "longest": np.maximum(np.maximum(a["longest"], b["longest"]), a["tail"] + b["head"]),
        }

    def read(self, table: Table) -> Table:
        return {"longest": table["longest"]}


class Decayed:
    """Exponentially weighted moments of ``x`` (where ``where`` holds), half-life
    ``half_life`` events: the j-th last counted event of a group weighs
    ``2 ** (-j / half_life)`` (the last weighs 1). The table keeps the count, the
    sums of the weights and of their squares, and the weighted sums of ``x − c``
    and ``(x − c)²`` about a shift ``c`` (the group's first value), so a constant
    stream keeps them exactly 0. Merging ``a`` then ``b`` re-centres ``b`` on
    ``a``'s shift, decays ``a``'s sums by ``b``'s count (``2 ** (-n_b /
    half_life)``, its square for the squared weights) and adds ``b``'s:
    associative up to rounding (a decay factor of two counts is the product of the
    two factors within a few ulps), the empty row its identity.

    ``read``: ``n``, ``weight`` (Σ w), ``mean`` (Σ w·x / Σ w), ``n_eff``
    ((Σ w)² / Σ w²: the events the weighted mean is worth) and ``var`` (the
    weighted variance with the reliability-weights correction, NaN below two
    events). The sums are plain (not compensated): meant for bounded inputs such
    as a winsorised R.

    >>> import numpy as np
    >>> from streaming.fold import Segments
    >>> k = Decayed(half_life=1.0)
    >>> t = k.fold_block({"x": np.array([4.0, 1.0])}, Segments(np.zeros(2, dtype=np.int64)))
    >>> {f: float(v[0]) for f, v in k.read(t).items() if f != "var"}  # weights 1/2, 1
    {'n': 2.0, 'weight': 1.5, 'mean': 2.0, 'n_eff': 1.8}
    """

    __slots__ = ("half_life", "where", "x")
    version = 1
    fields = (
        Field("n", I8, 0), Field("w", F8, 0.0), Field("w2", F8, 0.0), Field("c", F8, 0.0),
        Field("s1", F8, 0.0), Field("s2", F8, 0.0),
    )  # fmt: skip

    def __init__(self, x: str = "x", where: str | None = None, *, half_life: float) -> None:
        if not (half_life > 0 and math.isfinite(half_life)):
            raise ValueError(f"half_life must be a positive number, not {half_life!r}")
        self.x, self.where, self.half_life = x, where, float(half_life)

    def decay(self, n: Ints) -> Floats:
        """The factor ``n`` later events apply to a weight."""
        return np.exp2(-np.asarray(n, dtype=F8) / self.half_life)

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        mask = _where(columns, self.where)
        ranked = seg.order if mask is None else seg.order[mask[seg.order]]
        groups = seg.local[ranked]  # ascending: each group's events together, in order
        size = len(seg)
        m = np.bincount(groups, minlength=size).astype(I8)
        first = np.cumsum(m) - m
        age = (m[groups] - 1) - (np.arange(len(ranked)) - first[groups])
        w = self.decay(age)
        x = np.asarray(columns[self.x], dtype=F8)[ranked]
        shift = np.zeros(size)
        has = m > 0
        shift[has] = x[first[has]]
        dev = x - shift[groups]

        def total(v: Floats) -> Floats:
            return np.bincount(groups, weights=v, minlength=size).astype(F8, copy=False)

        return {"n": m, "w": total(w), "w2": total(w * w), "c": shift,
                "s1": total(w * dev), "s2": total(w * dev * dev)}  # fmt: skip

    def merge(self, a: Table, b: Table) -> Table:
        d = self.decay(b["n"])
        empty_a = a["n"] == 0
        c = np.where(empty_a, b["c"], a["c"])
        gap = np.where(b["n"] == 0, 0.0, b["c"] - c)  # b's shift above the merged one
        b1 = b["s1"] + gap * b["w"]
        b2 = b["s2"] + gap * (2 * b["s1"] + gap * b["w"])
        return {
            "n": a["n"] + b["n"],
            "w": a["w"] * d + b["w"],
            "w2": a["w2"] * (d * d) + b["w2"],
            "c": c,
            "s1": a["s1"] * d + b1,
            "s2": a["s2"] * d + b2,
        }

    def read(self, table: Table) -> Table:
        n, w, w2 = table["n"], table["w"], table["w2"]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            centre = table["s1"] / w
            mean = np.where(n > 0, table["c"] + centre, np.nan)
            n_eff = np.where(n > 0, w * w / w2, 0.0)
            spread = np.maximum(table["s2"] / w - centre * centre, 0.0)
            var = np.where((n > 1) & (w * w > w2), spread * (w * w) / (w * w - w2), np.nan)
        return {"n": n, "weight": w, "mean": mean, "n_eff": n_eff, "var": var}
