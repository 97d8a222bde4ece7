"""Named kernels side by side: how a domain declares its statistics once.

A :class:`Composite` holds named kernels (:mod:`streaming.kernels`,
:mod:`streaming.ordered_kernels`) and a ``derive`` step that turns a block's input
columns into the columns the kernels read, computed once per block. Its table's
columns are ``name.field``; it folds, merges and reads part by part, so it is a
grouped fold (:mod:`streaming.fold`) like each of its parts.

>>> import numpy as np
>>> from streaming.fold import Segments
>>> from streaming.kernels import Count, Sum
>>> both = Composite([("n", Count()), ("s", Sum())], dict)
>>> table = both.fold_block({"x": np.array([1.0, 2.0])}, Segments(np.array([0, 0])))
>>> both.read(table)["n.n"].tolist(), both.read(table)["s.sum"].tolist()
([2], [3.0])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from streaming.fold import Columns, Field, Segments, Table
from streaming.kernels import Count, Mean, Moments, Sum
from streaming.ordered_kernels import Decayed, Path, Run

Kernel = Count | Sum | Mean | Moments | Path | Run | Decayed
Derive = Callable[[Columns], Columns]


class Composite:
    """Named folds side by side: a domain's statistics, declared once. ``derive``
    turns a block's input columns into the columns the parts read (computed once
    per block); the table's columns are ``part.field``."""

    __slots__ = ("derive", "fields", "parts", "version")

    def __init__(
        self, parts: Sequence[tuple[str, Kernel]], derive: Derive, *, version: int = 1
    ) -> None:
        self.parts = tuple(parts)
        self.derive = derive
        self.version = version
        self.fields = tuple(
            Field(f"{name}.{f.name}", f.dtype, f.identity)
            for name, kernel in self.parts
            for f in kernel.fields
        )

    def _split(self, table: Table, name: str, kernel: Kernel) -> Table:
        return {f.name: table[f"{name}.{f.name}"] for f in kernel.fields}

    def fold_block(self, columns: Columns, seg: Segments) -> Table:
        derived = self.derive(columns)
        out: Table = {}
        for name, kernel in self.parts:
            for k, v in kernel.fold_block(derived, seg).items():
                out[f"{name}.{k}"] = v
        return out

    def merge(self, a: Table, b: Table) -> Table:
        out: Table = {}
        for name, kernel in self.parts:
            merged = kernel.merge(self._split(a, name, kernel), self._split(b, name, kernel))
            for k, v in merged.items():
                out[f"{name}.{k}"] = v
        return out

    def read(self, table: Table) -> Table:
        out: Table = {}
        for name, kernel in self.parts:
            for k, v in kernel.read(self._split(table, name, kernel)).items():
                out[f"{name}.{k}"] = v
        return out
