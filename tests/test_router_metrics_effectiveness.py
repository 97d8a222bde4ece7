"""The router-metrics log carries what routing decisions need, and routing behaves as measured.

Runs over one simulated day of the dry-run executor (the ``dry_run_events`` fixture).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import msgspec
import pytest

from execution.intel.expectancy_v6 import expectancy_surfaces
from execution.utils.metrics import OrderEvent, OrderMetrics

FILLS = ("FILLED", "PARTIALLY_FILLED")


def orders(events):
    return [e for e in events if e["event"] == "order"]


def test_fallbacks_only_follow_a_maker_attempt(dry_run_events):
    """A fallback taker order comes right after a post-only order of the same symbol."""
    by_id = orders(dry_run_events)
    for prev, cur in itertools.pairwise(by_id):
        if cur["fallback"]:
            assert cur["order_type"] == "MARKET"
            assert prev["symbol"] == cur["symbol"]
            assert prev["order_type"] == "LIMIT_POST_ONLY" or prev["fallback"]


def test_maker_fills_are_flagged_maker_and_cheaper_than_taker(dry_run_events):
    maker = [
        e["slippage_bps"] for e in orders(dry_run_events) if e["status"] in FILLS and e["is_maker"]
    ]
    taker = [
        e["slippage_bps"]
        for e in orders(dry_run_events)
        if e["status"] in FILLS and not e["is_maker"]
    ]
    assert maker and taker
    assert all(
        e["order_type"] == "LIMIT_POST_ONLY" for e in orders(dry_run_events) if e["is_maker"]
    )
    assert statistics.fmean(maker) < 0 < statistics.fmean(taker)


def test_maker_fees_are_lower_per_notional(dry_run_events):
    def fee_bps(maker):
        rows = [
            e for e in orders(dry_run_events) if e["status"] in FILLS and e["is_maker"] == maker
        ]
        return sum(e["fee_usd"] for e in rows) / sum(e["notional_usd"] for e in rows) * 1e4

    assert fee_bps(True) < fee_bps(False)


def test_policy_metadata_is_consistent(dry_run_events):
    """taker_only strategies never post; every event names its strategy, policy and regime."""
    for e in orders(dry_run_events):
        assert e["strategy"] in ("trend_follow", "mean_revert")
        if e["policy"] == "taker_only":
            assert e["order_type"] == "MARKET" and e["regime"] == "taker_heavy"
        assert e["regime"] in ("maker_first", "taker_heavy")


def test_taker_heavy_symbols_post_less(dry_run_events):
    """Under maker_first policy, a taker_heavy regime posts far fewer maker orders."""
    share = defaultdict(list)
    for e in orders(dry_run_events):
        if e["policy"] == "maker_first" and e["role"] == "entry":
            share[e["regime"]].append(e["order_type"] == "LIMIT_POST_ONLY")
    assert share["maker_first"]
    if share["taker_heavy"]:
        assert statistics.fmean(share["taker_heavy"]) < statistics.fmean(share["maker_first"])


def test_router_health_state_matches_the_log(dry_run_dir, dry_run_events, cfg):
    """router_health.json equals a recomputation from the last N order events per symbol."""
    doc = msgspec.json.decode((dry_run_dir / "state" / "router_health.json").read_bytes())
    m = OrderMetrics(window=cfg.strategy.router.health_window_orders)
    for e in orders(dry_run_events):
        m.record(msgspec.convert(e, OrderEvent))
    expected = m.snapshot()
    assert set(doc["symbols"]) == set(expected)
    for sym, h in expected.items():
        got = {k: v for k, v in doc["symbols"][sym].items() if k != "regime"}
        assert got == h


# --- the intel layer reads the enriched router metrics -------------------------------


def _intel(dry_run_events, windows=("all",)):
    return expectancy_surfaces(dry_run_events, windows=windows, generated_at=0.0)


def test_intel_counts_maker_fills_fallbacks_and_slippage_per_symbol(dry_run_events):
    """Per symbol, the intel figures equal a direct count over the order events."""
    doc = _intel(dry_run_events)
    for sym, g in doc["windows"]["all"]["symbols"].items():
        mine = [e for e in orders(dry_run_events) if e["symbol"] == sym]
        fills = [e for e in mine if e["status"] in FILLS]
        assert g["orders"] == len(mine) and g["fills"] == len(fills)
        if fills:
            assert g["maker_fill_rate"] == sum(e["is_maker"] for e in fills) / len(fills)
            assert g["fallback_rate"] == sum(e["fallback"] for e in fills) / len(fills)
            assert g["avg_slippage_bps"] == pytest.approx(
                statistics.fmean(e["slippage_bps"] for e in fills)
            )
        cost = sum(e["slippage_bps"] * e["notional_usd"] / 1e4 for e in fills)
        risk = sum(
            e["risk_usd"] for e in dry_run_events if e["event"] == "trade" and e["symbol"] == sym
        )
        assert g["slippage_cost_usd"] == pytest.approx(cost)
        if risk:
            assert g["slippage_cost_r"] == pytest.approx(cost / risk)


def test_intel_separates_policies(dry_run_events):
    """maker_first fills partly passive and falls back; taker_only never posts or falls back."""
    policies = _intel(dry_run_events)["windows"]["all"]["policies"]
    assert set(policies) == {e["policy"] for e in dry_run_events}
    assert policies["taker_only"]["maker_fill_rate"] == 0.0
    assert policies["taker_only"]["fallback_rate"] == 0.0
    assert policies["maker_first"]["maker_fill_rate"] > 0.0
    assert policies["maker_first"]["avg_slippage_bps"] < policies["taker_only"]["avg_slippage_bps"]


def test_intel_groups_trades_by_strategy_and_regime(dry_run_events):
    w = _intel(dry_run_events)["windows"]["all"]
    trades = [e for e in dry_run_events if e["event"] == "trade"]
    for dim, field in (("strategies", "strategy"), ("regimes", "regime")):
        assert set(w[dim]) == {e[field] for e in dry_run_events}
        for key, g in w[dim].items():
            mine = [t for t in trades if t[field] == key]
            assert g["trades"] == len(mine)
            assert g["pnl_usd"] == pytest.approx(sum(t["pnl_usd"] for t in mine))
            with_r = [t["r_multiple"] for t in mine]
            if with_r:
                assert g["avg_r"] == pytest.approx(statistics.fmean(with_r))


def test_intel_last_n_orders_match_router_health(dry_run_dir, dry_run_events, cfg):
    """The ``Nt`` window over N = health_window_orders counts what router_health.json
    counts over each symbol's last N orders."""
    n = cfg.strategy.router.health_window_orders
    doc = _intel(dry_run_events, windows=(f"{n}t",))
    health = msgspec.json.decode((dry_run_dir / "state" / "router_health.json").read_bytes())
    symbols = doc["windows"][f"{n}t"]["symbols"]
    assert set(health["symbols"]) <= set(symbols)
    for sym, h in health["symbols"].items():
        g = symbols[sym]
        assert (g["orders"], g["fills"], g["rejects"]) == (h["orders"], h["fills"], h["rejects"])
        assert g["fills"] * (g["fallback_rate"] or 0) == pytest.approx(h["fallbacks"])
        if h["avg_slippage_bps"] is not None:
            assert g["avg_slippage_bps"] == pytest.approx(h["avg_slippage_bps"])
