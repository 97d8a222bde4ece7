"""Decoded events as columns: what a worker returns for a part of a fund replay,
and the engine's batch step (:meth:`ExpectancyEngine.apply_many`) on such columns.

A part's valid events become, in file order: their ``ts``, id, kind, cell (symbol,
strategy, policy, regime, executor: :func:`~execution.intel.events.number_cells`) and
row among the part's trades or orders, and the input columns of the trade and order
folds (:func:`~execution.intel.folds.trade_columns`,
:func:`~execution.intel.folds.order_columns`: row-wise, so any selection of rows is the
columns of the selected events). The client concatenates the parts and feeds the events
in the contract order, batch by batch, through :func:`apply_columns`: de-duplication
over the engine's recent ids, then what ``apply_many`` does with a batch of events —
``max_groups`` admission in order of first sight, group codes,
one block per side to every window — without building an event object again.
"""

from __future__ import annotations

import itertools
import operator
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, itemgetter
from typing import Any, cast

import numpy as np

from execution.intel.events import UNKNOWN, Cell, Event, Order, Trade, event_ids, number_cells
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.folds import order_columns, trade_columns


@dataclass(slots=True)
class EventColumns:
    """Events in a fixed order as columns (module docstring)."""

    ts: np.ndarray[Any, np.dtype[np.float64]]
    ids: list[str]
    is_trade: np.ndarray[Any, np.dtype[np.bool_]]
    row: np.ndarray[Any, np.dtype[np.int64]]  # its row in ``trades`` or ``orders``
    cell: np.ndarray[Any, np.dtype[np.int64]]  # its index in ``cells``
    cells: list[Cell]
    trades: dict[str, np.ndarray[Any, Any]]
    orders: dict[str, np.ndarray[Any, Any]]

    def __len__(self) -> int:
        return len(self.ts)


def to_columns(events: list[Event], source: str = UNKNOWN) -> EventColumns:
    """The columns of ``events`` (valid, not de-duplicated), in their order; events
    that name no executor are ``source``'s."""
    n = len(events)
    is_trade = np.fromiter(map(isinstance, events, repeat(Trade)), np.bool_, n)
    flags = is_trade.tolist()
    trades = cast(list[Trade], list(compress(events, flags)))
    orders = cast(list[Order], list(compress(events, map(operator.not_, flags))))
    row = np.empty(n, np.int64)
    row[is_trade] = np.arange(len(trades))
    row[~is_trade] = np.arange(len(orders))
    cells, cell = number_cells(events, source)
    return EventColumns(
        ts=np.fromiter(map(attrgetter("ts"), events), np.float64, n),
        ids=cast(list[str], event_ids(events)),
        is_trade=is_trade,
        row=row,
        cell=cell,
        cells=cells,
        trades=trade_columns(trades),
        orders=order_columns(orders),
    )


def concat(parts: Sequence[EventColumns]) -> EventColumns:
    """The events of ``parts``, one after the other, with one table of cells."""
    if len(parts) == 1:
        return parts[0]
    number: defaultdict[Cell, int] = defaultdict(itertools.count().__next__)
    cell, row = [], []
    trades, orders = 0, 0
    for p in parts:
        lut = np.fromiter(map(number.__getitem__, p.cells), np.int64, len(p.cells))
        cell.append(lut[p.cell])
        row.append(p.row + np.where(p.is_trade, trades, orders))
        trades += len(p.trades["ts"])
        orders += len(p.orders["ts"])
    return EventColumns(
        ts=np.concatenate([p.ts for p in parts]) if parts else np.zeros(0),
        ids=[k for p in parts for k in p.ids],
        is_trade=np.concatenate([p.is_trade for p in parts]) if parts else np.zeros(0, bool),
        row=np.concatenate(row) if row else np.zeros(0, np.int64),
        cell=np.concatenate(cell) if cell else np.zeros(0, np.int64),
        cells=list(number),
        trades={k: np.concatenate([p.trades[k] for p in parts]) for k in parts[0].trades},
        orders={k: np.concatenate([p.orders[k] for p in parts]) for k in parts[0].orders},
    )


def _pick(items: list[Any], at: Sequence[int]) -> list[Any]:
    if len(at) == 1:
        return [items[at[0]]]
    return list(itemgetter(*at)(items)) if at else []


def _first_seen(cols: EventColumns, at: np.ndarray[Any, Any]) -> tuple[list[Cell], Any]:
    """The distinct cells of the events ``at`` in order of first sight, and each
    event's number among them (what the engine's ``_cells`` gives)."""
    uniq, first, inverse = np.unique(cols.cell[at], return_index=True, return_inverse=True)
    rank = np.argsort(first, kind="stable")
    number = np.empty(len(uniq), np.int64)
    number[rank] = np.arange(len(uniq))
    return [cols.cells[int(uniq[j])] for j in rank], number[inverse.ravel()]


def apply_columns(engine: ExpectancyEngine, cols: EventColumns, at: np.ndarray[Any, Any]) -> None:
    """Feed the events ``at`` (positions in ``cols``, in that order) to ``engine`` as
    its decoder and :meth:`~ExpectancyEngine.apply_many` would take them."""
    if not len(at):
        return
    inputs = engine.inputs  # folds anything pending first
    dups = engine.recent_ids.add_many(_pick(cols.ids, at.tolist()))
    if dups:
        inputs.rejected["duplicate_id"] += len(dups)
        at = np.delete(at, dups)
        if not len(at):
            return
    groups = engine.groups
    distinct, cells = _first_seen(cols, at)
    if not groups.fits(distinct):
        admit = groups.admit
        keep = np.fromiter(
            (admit(cols.cells[c]) for c in cols.cell[at].tolist()), np.bool_, len(at)
        )
        inputs.rejected["too_many_groups"] += int(len(at) - keep.sum())
        at = at[keep]
        if not len(at):
            return
        distinct, cells = _first_seen(cols, at)
    codes = groups.luts(distinct)[cells].T
    is_trade = cols.is_trade[at]
    rows = cols.row[at]
    sides = [
        (is_trade, {k: v[rows[is_trade]] for k, v in cols.trades.items()}),
        (~is_trade, {k: v[rows[~is_trade]] for k, v in cols.orders.items()}),
    ]
    trades = int(is_trade.sum())
    inputs.saw_many(trades, len(at) - trades, float(cols.ts[at].max()))
    engine.absorb_sides(codes, sides)


def take(cols: EventColumns, rows: np.ndarray[Any, Any]) -> EventColumns:
    """The events at ``rows`` (positions in ``cols``), in that order."""
    is_trade = cols.is_trade[rows]
    at = cols.row[rows]
    trade_rows, order_rows = at[is_trade], at[~is_trade]
    row = np.empty(len(rows), np.int64)
    row[is_trade] = np.arange(len(trade_rows))
    row[~is_trade] = np.arange(len(order_rows))
    return EventColumns(
        ts=cols.ts[rows],
        ids=_pick(cols.ids, rows.tolist()),
        is_trade=is_trade,
        row=row,
        cell=cols.cell[rows],
        cells=cols.cells,
        trades={k: v[trade_rows] for k, v in cols.trades.items()},
        orders={k: v[order_rows] for k, v in cols.orders.items()},
    )
