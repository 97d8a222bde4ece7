"""Blocks of events and the input rows windows hold.

Windows (:mod:`streaming.windows`, :mod:`streaming.time_window`) receive events a
:class:`Block` at a time: their times, input columns, group codes and
:class:`~streaming.fold.Segments`. Windows that keep input rows (the last N, the
time window) share what is done with such rows here: concatenating and selecting
columns, checking that held rows fit the fold and the known groups, and writing
them as plain data (NaN, which JSON lacks, as 0 with its positions listed) and
back.

>>> import numpy as np
>>> cols = {"x": np.array([1.0, np.nan])}
>>> decode_columns(encode_columns(cols))["x"].tolist()[0]
1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streaming.fold import Column, Columns, Floats, Ints, Segments


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
