"""A small market and router config for router tests."""

from __future__ import annotations

from execution.config import MarketConfig, MarketSymbol, RouterConfig
from execution.exchange_dry_run import DryRunExchange
from execution.order_router import OrderRouter
from execution.utils.metrics import OrderEvent

ROUTER_CFG = RouterConfig(
    maker_timeout_ms=5000,
    health_window_orders=50,
    policy_min_orders=10,
    taker_heavy_below_fill_rate=0.3,
    taker_heavy_above_fallback_rate=0.9,
    maker_first_above_fill_rate=0.4,
    probe_every_orders=5,
)


def small_market(
    maker_fill_prob=0.5, reject_prob=0.0, ack_loss_prob=0.0, partial_fill_prob=0.0
) -> MarketConfig:
    sym = MarketSymbol(
        price=100.0,
        vol_bps_per_bar=20.0,
        trend=0.0,
        revert=0.0,
        spread_bps=2.0,
        maker_fill_prob=maker_fill_prob,
        latency_ms_median=20.0,
        reject_prob=reject_prob,
        impact_bps=1.0,
    )
    return MarketConfig(
        start_ts=1_700_000_000.0,
        symbols={"X": sym, "Y": sym},
        maker_fee_bps=1.0,
        taker_fee_bps=4.0,
        ack_loss_prob=ack_loss_prob,
        partial_fill_prob=partial_fill_prob,
    )


def make_router(exchange: DryRunExchange) -> tuple[OrderRouter, list[OrderEvent]]:
    events: list[OrderEvent] = []
    return OrderRouter(exchange, ROUTER_CFG, emit=events.append), events
