"""Accumulator laws for the per-group monoids: agreement with the batch computation,
the merge law at every split point, the identity, and an exact state round trip."""

from __future__ import annotations

import dataclasses
import json
import random
from functools import partial

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.intel.events import Event, Order, Trade
from execution.intel.expectancy_v6 import batch_sufficient
from execution.intel.stats import (
    VECTOR_MIN,
    OrderStats,
    Sufficient,
    TradeStats,
    order_columns,
    order_item,
    trade_columns,
    trade_item,
)
from streaming.windows import LastN, TimeWindow
from tests.intel.builders import T0, assert_close, good_event

EPS = 0.05


def events(kind: type) -> st.SearchStrategy[list]:
    name = "trade" if kind is Trade else "order"
    return st.lists(good_event(0, T0, name).map(lambda d: msgspec.convert(d, Event)), max_size=40)


def fold_trades(ts: list[Trade]) -> TradeStats:
    acc = TradeStats(EPS)
    for t in ts:
        acc.update(trade_item(t))
    return acc


def fold_orders(os: list[Order]) -> OrderStats:
    acc = OrderStats()
    for o in os:
        acc.update(order_item(o))
    return acc


def as_dict(s: Sufficient) -> dict:
    return dataclasses.asdict(s)


@given(events(Trade))
def test_trade_stats_agree_with_the_batch_computation(trades):
    assert_close(as_dict(fold_trades(trades).result), as_dict(batch_sufficient(trades, [], EPS)))


@given(events(Order))
def test_order_stats_agree_with_the_batch_computation(orders):
    assert_close(as_dict(fold_orders(orders).result), as_dict(batch_sufficient([], orders, EPS)))


@given(events(Trade))
def test_trade_stats_merge_law_at_every_split(trades):
    """Folding the halves and merging equals folding the whole, wherever it is cut."""
    whole = fold_trades(trades).result
    for cut in range(len(trades) + 1):
        merged = fold_trades(trades[:cut]) + fold_trades(trades[cut:])
        assert_close(as_dict(merged.result), as_dict(whole))


@given(events(Order))
def test_order_stats_merge_law_at_every_split(orders):
    whole = fold_orders(orders).result
    for cut in range(len(orders) + 1):
        merged = fold_orders(orders[:cut]) + fold_orders(orders[cut:])
        assert_close(as_dict(merged.result), as_dict(whole))


@given(events(Trade), events(Order))
def test_empty_is_the_identity(trades, orders):
    t, o = fold_trades(trades), fold_orders(orders)
    assert TradeStats(EPS) + t == t == t + TradeStats(EPS)
    assert OrderStats() + o == o == o + OrderStats()


@given(events(Trade), events(Order))
def test_state_round_trips_exactly_through_json(trades, orders):
    t, o = fold_trades(trades), fold_orders(orders)
    t2 = TradeStats.from_state(json.loads(json.dumps(t.to_state())))
    o2 = OrderStats.from_state(json.loads(json.dumps(o.to_state())))
    assert t2 == t and o2 == o
    assert t2.result == t.result and o2.result == o.result


def test_a_merge_joins_loss_streaks_and_drawdowns_across_the_seam():
    a, b = fold_trades([]), fold_trades([])
    for pnl in (10.0, -10.0, -10.0):
        a.update((pnl, pnl / 10, 10.0))
    for pnl in (-10.0, 30.0):
        b.update((pnl, pnl / 10, 10.0))
    s = (a + b).result
    assert s.longest_loss_streak == 3
    assert s.max_drawdown_r == 3.0


@given(events(Trade))
def test_trade_column_blocks_equal_the_item_fold(trades):
    """The vectorised block state equals updating on each trade (floats to rounding)."""
    block = TradeStats.of_columns(EPS, *trade_columns(trades))
    assert_close(as_dict(block.result), as_dict(fold_trades(trades).result))
    assert block.counts == fold_trades(trades).counts


@given(events(Order))
def test_order_column_blocks_equal_the_item_fold(orders):
    block = OrderStats.of_columns(*order_columns(orders))
    assert_close(as_dict(block.result), as_dict(fold_orders(orders).result))
    assert block.counts == fold_orders(orders).counts


@given(
    st.lists(good_event(0, T0, "trade").map(lambda d: msgspec.convert(d, Event)),
             min_size=VECTOR_MIN, max_size=3 * VECTOR_MIN),
    st.lists(good_event(0, T0, "order").map(lambda d: msgspec.convert(d, Event)),
             min_size=VECTOR_MIN, max_size=3 * VECTOR_MIN),
    st.integers(0, VECTOR_MIN),
)  # fmt: skip
def test_extend_on_long_runs_equals_update(trades, orders, head):
    """``extend`` takes the vectorised path for long runs; merged after a per-event
    head it still equals the per-event fold."""
    t = fold_trades(trades[:head])
    t.extend([trade_item(x) for x in trades[head:]])
    assert_close(as_dict(t.result), as_dict(fold_trades(trades).result))
    o = fold_orders(orders[:head])
    o.extend([order_item(x) for x in orders[head:]])
    assert_close(as_dict(o.result), as_dict(fold_orders(orders).result))


def _rows(items: list, width: int) -> np.ndarray:
    return np.asarray(items, dtype=np.float64).reshape(len(items), width)


@given(
    st.lists(good_event(0, T0, "trade").map(lambda d: msgspec.convert(d, Event)),
             max_size=4 * VECTOR_MIN),
    st.lists(good_event(0, T0, "order").map(lambda d: msgspec.convert(d, Event)),
             max_size=4 * VECTOR_MIN),
    st.data(),
)  # fmt: skip
def test_blocks_side_by_side_equal_each_block_alone(trades, orders, data):
    """``of_blocks`` (short blocks item by item, long ones side by side in padded
    columns) gives each block's own per-event fold."""
    for events_, item, fold, width in (
        (trades, trade_item, fold_trades, 3),
        (orders, order_item, fold_orders, 7),
    ):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(events_)), max_size=5)))
        parts = [events_[a:b] for a, b in zip([0, *cuts], [*cuts, len(events_)], strict=True)]
        blocks = [_rows([item(x) for x in p], width) for p in parts]
        proto = fold([])
        got = proto.of_blocks(np.concatenate(blocks), [len(b) for b in blocks])
        for part, state in zip(parts, got, strict=True):
            want = fold(part)
            assert state.counts == want.counts
            assert_close(as_dict(state.result), as_dict(want.result))


@pytest.mark.parametrize("seed", range(4))
def test_windows_read_side_by_side_equal_their_plain_folds(seed):
    """Many groups' windows read at once (``read_many``: the changed ones' row blocks
    folded side by side) equal folding each group's events in view one by one, read
    after read as events arrive and age out."""
    rng = random.Random(seed)
    span, n = 500.0, 60
    timed = [TimeWindow(span, partial(TradeStats, EPS), chunk=64) for _ in range(12)]
    last = [LastN(n, partial(TradeStats, EPS)) for _ in range(12)]
    seen: list[list[tuple[float, tuple]]] = [[] for _ in range(12)]
    now = 0.0
    for _ in range(25):
        for g in range(12):
            batch = []
            for _ in range(rng.choice((0, 1, 5, 60, 150))):
                now += rng.random()
                pnl = rng.choice((0.0, rng.uniform(-50, 50)))
                risk = rng.choice((None, 10.0))
                r = rng.choice((None, pnl / 10))
                batch.append((now, (pnl, r, risk)))
            if batch:
                timed[g].extend(batch)
                last[g].extend([x for _, x in batch])
                seen[g] += batch
        wm = now + rng.random() * 50
        TimeWindow.read_many(timed, wm)
        LastN.read_many(last)
        for g in range(12):
            in_view = [x for ts, x in seen[g] if ts > wm - span]
            recent = [x for _, x in seen[g][-n:]]
            for got, items in ((timed[g].result(wm), in_view), (last[g].result, recent)):
                want = TradeStats(EPS)
                for x in items:
                    want.update(x)
                assert_close(as_dict(got), as_dict(want.result))
