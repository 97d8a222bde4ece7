"""Router policy: maker-first vs taker-heavy per symbol, from router health, with hysteresis."""

from __future__ import annotations

import pytest

from execution.config import RouterConfig
from execution.router_policy import RouterPolicy, decide_regime
from execution.utils.metrics import OrderEvent, OrderMetrics

CFG = RouterConfig(
    maker_timeout_ms=3000,
    health_window_orders=20,
    policy_min_orders=10,
    taker_heavy_below_fill_rate=0.4,
    taker_heavy_above_fallback_rate=0.6,
    maker_first_above_fill_rate=0.55,
    probe_every_orders=4,
)


def decide(attempts, fill, fallback, current="maker_first"):
    return decide_regime(
        maker_attempts=attempts,
        maker_fill_rate=fill,
        fallback_rate=fallback,
        current=current,
        cfg=CFG,
    )


def test_too_few_orders_keeps_the_current_regime():
    assert decide(9, 0.0, 1.0).regime == "maker_first"
    assert decide(9, 1.0, 0.0, "taker_heavy").regime == "taker_heavy"


def test_poor_maker_fill_rate_switches_to_taker_heavy():
    d = decide(10, 0.39, 0.2)
    assert d.regime == "taker_heavy" and "maker_fill_rate" in d.reason


def test_high_fallback_rate_switches_to_taker_heavy():
    d = decide(10, 0.5, 0.61)
    assert d.regime == "taker_heavy" and "fallback_rate" in d.reason


def test_healthy_symbol_stays_maker_first():
    assert decide(50, 0.8, 0.1).regime == "maker_first"


@pytest.mark.parametrize(("fill", "expected"), [(0.45, "taker_heavy"), (0.55, "maker_first")])
def test_hysteresis_band(fill, expected):
    """Between the two thresholds the regime does not flap: it stays where it is."""
    assert decide(50, fill, 0.1, "taker_heavy").regime == expected
    assert decide(50, 0.45, 0.1, "maker_first").regime == "maker_first"


def _order(symbol, filled, maker_attempt=True):
    return OrderEvent(
        ts=0.0,
        symbol=symbol,
        strategy="s",
        policy="maker_first",
        regime="maker_first",
        order_id="o",
        side="BUY",
        status="FILLED" if filled else "EXPIRED",
        qty=1.0 if filled else 0.0,
        price=1.0,
        notional_usd=1.0 if filled else 0.0,
        is_maker=filled and maker_attempt,
        fallback=False,
        slippage_bps=0.0,
        latency_ms=1.0,
        fee_usd=0.0,
        order_type="LIMIT_POST_ONLY" if maker_attempt else "MARKET",
    )


def test_policy_reads_health_per_symbol():
    m = OrderMetrics(window=20)
    for i in range(20):
        m.record(_order("BAD", filled=i % 5 == 0))
        m.record(_order("GOOD", filled=i % 5 != 0))
    p = RouterPolicy(CFG, m)
    assert p.refresh("BAD").regime == "taker_heavy"
    assert p.refresh("GOOD").regime == "maker_first"
    assert p.snapshot() == {"BAD": "taker_heavy", "GOOD": "maker_first"}


def test_taker_heavy_still_probes_maker_every_k_orders():
    m = OrderMetrics(window=20)
    for _ in range(20):
        m.record(_order("BAD", filled=False))
    p = RouterPolicy(CFG, m)
    p.refresh("BAD")
    tries = [p.route_maker_first("BAD", "maker_first", urgent=False) for _ in range(12)]
    assert tries == [False, False, False, True] * 3


def test_taker_only_and_urgent_never_post():
    p = RouterPolicy(CFG, OrderMetrics())
    assert p.route_maker_first("X", "maker_first", urgent=False)
    assert not p.route_maker_first("X", "maker_first", urgent=True)
    assert not p.route_maker_first("X", "taker_only", urgent=False)
    assert p.regime_label("X", "taker_only") == "taker_heavy"
    assert p.regime_label("X", "maker_first") == "maker_first"


def test_recovery_returns_to_maker_first():
    m = OrderMetrics(window=20)
    p = RouterPolicy(CFG, m)
    for _ in range(20):
        m.record(_order("X", filled=False))
    assert p.refresh("X").regime == "taker_heavy"
    for _ in range(20):
        m.record(_order("X", filled=True))
    assert p.refresh("X").regime == "maker_first"
