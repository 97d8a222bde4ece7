"""The router-metrics log carries what routing decisions need, and routing behaves as measured.

Runs over one simulated day of the dry-run executor (the ``dry_run_events`` fixture).
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict

import msgspec

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
