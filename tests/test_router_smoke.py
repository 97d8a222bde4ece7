"""The order router works orders to completion and emits one event per order outcome."""

from __future__ import annotations

import msgspec
import pytest

from execution.exchange_dry_run import DryRunExchange
from execution.utils.metrics import FILL_STATUSES
from tests.routing_support import make_router, small_market
from tests.support import event_validator


def test_maker_first_fills_or_falls_back_to_taker():
    ex = DryRunExchange(small_market(maker_fill_prob=0.5), seed=1)
    router, events = make_router(ex)
    per_call = []
    for i in range(200):
        ex.step()
        side = "BUY" if i % 2 else "SELL"
        res = router.execute("X", side, 3.0, ts=ex.ts, strategy="s", policy="maker_first")
        per_call.extend(res.events)
        assert res.filled_qty == pytest.approx(3.0)
        first = res.events[0]
        assert first.order_type == "LIMIT_POST_ONLY" and not first.fallback
        if first.status != "FILLED":
            assert first.status == "EXPIRED"
            assert len(res.events) == 2
            assert res.events[1].order_type == "MARKET" and res.events[1].fallback
    assert events == per_call  # emitted once each, in order
    kinds = {e.status for e in events if e.order_type == "LIMIT_POST_ONLY"}
    assert kinds == {"FILLED", "EXPIRED"}


def test_partial_maker_fill_sends_only_the_remainder_to_taker():
    ex = DryRunExchange(small_market(maker_fill_prob=1.0, partial_fill_prob=1.0), seed=2)
    router, _ = make_router(ex)
    res = router.execute("X", "BUY", 10.0, ts=ex.ts, strategy="s", policy="maker_first")
    maker, taker = res.events
    assert maker.status == "PARTIALLY_FILLED" and maker.is_maker
    assert taker.fallback and taker.qty == pytest.approx(10.0 - maker.qty)
    assert res.filled_qty == pytest.approx(10.0)
    assert res.avg_price == pytest.approx((maker.notional_usd + taker.notional_usd) / 10.0)


def test_taker_only_policy_sends_market_orders():
    ex = DryRunExchange(small_market(), seed=1)
    router, events = make_router(ex)
    for _ in range(20):
        router.execute("X", "BUY", 1.0, ts=ex.ts, strategy="s", policy="taker_only")
    assert {e.order_type for e in events} == {"MARKET"}
    assert not any(e.fallback for e in events)
    assert {e.regime for e in events} == {"taker_heavy"}


def test_urgent_orders_skip_the_maker_leg():
    ex = DryRunExchange(small_market(), seed=1)
    router, events = make_router(ex)
    router.execute("X", "SELL", 1.0, ts=ex.ts, strategy="s", policy="maker_first", urgent=True)
    assert [e.order_type for e in events] == ["MARKET"]


def test_rejected_market_order_is_retried_once():
    ex = DryRunExchange(small_market(reject_prob=1.0), seed=1)
    router, events = make_router(ex)
    res = router.execute("X", "BUY", 1.0, ts=ex.ts, strategy="s", policy="taker_only")
    assert [e.status for e in events] == ["REJECTED", "REJECTED"]
    assert res.filled_qty == 0.0 and res.avg_price == 0.0


def test_event_time_advances_with_latency_and_maker_wait():
    ex = DryRunExchange(small_market(maker_fill_prob=0.0), seed=1)
    router, events = make_router(ex)
    res = router.execute("X", "BUY", 1.0, ts=1000.0, strategy="s", policy="maker_first")
    maker, taker = events
    assert maker.ts >= 1000.0 + 5.0  # the whole maker timeout elapsed
    assert taker.ts > maker.ts
    assert res.end_ts == pytest.approx(taker.ts, abs=1e-3)


def test_slippage_sign_and_fill_accounting():
    ex = DryRunExchange(small_market(maker_fill_prob=1.0), seed=1)
    router, events = make_router(ex)
    router.execute("X", "BUY", 1.0, ts=ex.ts, strategy="s", policy="maker_first")
    router.execute("X", "BUY", 1.0, ts=ex.ts, strategy="s", policy="taker_only")
    maker, taker = events
    assert maker.slippage_bps < 0 < taker.slippage_bps  # passive fills beat the mid
    for e in events:
        assert e.status in FILL_STATUSES
        assert e.notional_usd == pytest.approx(e.qty * e.price)


def test_every_router_event_is_a_valid_router_metrics_event():
    ex = DryRunExchange(
        small_market(maker_fill_prob=0.4, reject_prob=0.05, partial_fill_prob=0.3), seed=3
    )
    router, events = make_router(ex)
    for i in range(100):
        ex.step()
        router.execute(
            "XY"[i % 2],
            "BUY" if i % 3 else "SELL",
            2.0,
            ts=ex.ts,
            strategy="s",
            policy="maker_first",
        )
    validator = event_validator()
    for e in events:
        validator.validate(msgspec.to_builtins(e))
    assert len({e.order_id for e in events}) == len(events)


def test_non_positive_quantity_is_an_error():
    ex = DryRunExchange(small_market(), seed=1)
    router, _ = make_router(ex)
    with pytest.raises(ValueError, match="must be positive"):
        router.execute("X", "BUY", 0.0, ts=0.0, strategy="s", policy="maker_first")
