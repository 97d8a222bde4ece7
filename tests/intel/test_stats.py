"""Accumulator laws for the per-group monoids: agreement with the batch computation,
the merge law at every split point, the identity, and an exact state round trip."""

from __future__ import annotations

import dataclasses
import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from execution.intel.events import Event, Order, Trade
from execution.intel.expectancy_v6 import batch_sufficient
from execution.intel.stats import OrderStats, Sufficient, TradeStats, order_item, trade_item
from tests.intel.builders import assert_close, good_event

EPS = 0.05


def events(kind: type) -> st.SearchStrategy[list]:
    name = "trade" if kind is Trade else "order"
    return st.lists(good_event(0, 0.0, name).map(lambda d: msgspec.convert(d, Event)), max_size=40)


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
