"""Ack handling: the router trusts the exchange's order state, never a missing or foreign ack."""

from __future__ import annotations

from execution.exchange_dry_run import Ack, DryRunExchange, OrderRequest
from tests.routing_support import make_router, small_market


class LossyExchange(DryRunExchange):
    """Drops, scrambles or swallows acks on demand."""

    mode = "ok"

    def submit(self, req: OrderRequest) -> Ack | None:
        if self.mode == "never_received":
            return None
        ack = super().submit(req)
        if self.mode == "lost":
            return None
        if self.mode == "foreign" and ack is not None:
            return Ack("someone-else", ack.exchange_order_id, True, ack.latency_ms)
        return ack


def test_normal_acks_are_counted():
    ex = LossyExchange(small_market(), seed=1)
    router, _ = make_router(ex)
    router.execute("X", "BUY", 1.0, ts=0.0, strategy="s", policy="taker_only")
    assert router.ack_stats.acks == 1 and router.ack_stats.lost == 0


def test_lost_ack_is_recovered_from_order_state():
    """The order filled although its ack never arrived: one FILLED event, no duplicate order."""
    ex = LossyExchange(small_market(), seed=1)
    ex.mode = "lost"
    router, events = make_router(ex)
    res = router.execute("X", "BUY", 2.0, ts=0.0, strategy="s", policy="taker_only")
    assert [e.status for e in events] == ["FILLED"]
    assert res.filled_qty == 2.0
    assert router.ack_stats.lost == 1 and router.ack_stats.recovered == 1


def test_lost_ack_on_a_post_only_order_still_resolves_it():
    ex = LossyExchange(small_market(maker_fill_prob=1.0), seed=1)
    ex.mode = "lost"
    router, events = make_router(ex)
    router.execute("X", "BUY", 1.0, ts=0.0, strategy="s", policy="maker_first")
    assert [(e.order_type, e.status) for e in events] == [("LIMIT_POST_ONLY", "FILLED")]


def test_foreign_ack_is_not_trusted():
    ex = LossyExchange(small_market(reject_prob=1.0), seed=1)
    ex.mode = "foreign"  # claims acceptance, but the order was rejected
    router, events = make_router(ex)
    res = router.execute("X", "BUY", 1.0, ts=0.0, strategy="s", policy="taker_only")
    assert [e.status for e in events] == ["REJECTED", "REJECTED"]
    assert res.filled_qty == 0.0
    assert router.ack_stats.mismatched == 2


def test_order_that_never_reached_the_exchange_is_recorded_rejected():
    ex = LossyExchange(small_market(), seed=1)
    ex.mode = "never_received"
    router, events = make_router(ex)
    res = router.execute("X", "BUY", 1.0, ts=0.0, strategy="s", policy="taker_only")
    assert [(e.status, e.reason) for e in events] == [("REJECTED", "not_received")] * 2
    assert res.filled_qty == 0.0


def test_rejected_post_only_ack_falls_back_to_taker():
    ex = DryRunExchange(small_market(), seed=1)
    router, events = make_router(ex)
    original = ex.quote

    def crossed_quote(symbol):
        q = original(symbol)
        return type(q)(bid=q.ask, ask=q.ask)  # limit at the ask would cross

    ex.quote = crossed_quote
    router.execute("X", "BUY", 1.0, ts=0.0, strategy="s", policy="maker_first")
    assert [(e.order_type, e.status, e.fallback) for e in events] == [
        ("LIMIT_POST_ONLY", "REJECTED", False),
        ("MARKET", "FILLED", True),
    ]
    assert events[0].reason == "post_only_would_cross"
