"""The dry-run exchange is seeded, prices and fills orders by its rules, and keeps order truth."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest

from execution.config import MarketConfig, MarketSymbol
from execution.exchange_dry_run import DryRunExchange, OrderRequest


def market(**overrides) -> MarketConfig:
    sym = dict(
        price=100.0,
        vol_bps_per_bar=20.0,
        trend=0.0,
        revert=0.0,
        spread_bps=2.0,
        maker_fill_prob=0.5,
        latency_ms_median=20.0,
        reject_prob=0.0,
        impact_bps=1.0,
    )
    sym.update(overrides)
    return MarketConfig(
        start_ts=1_700_000_000.0,
        symbols={"X": MarketSymbol(**sym)},
        maker_fee_bps=1.0,
        taker_fee_bps=4.0,
        ack_loss_prob=0.0,
        partial_fill_prob=0.0,
    )


def prices(ex: DryRunExchange, n: int) -> list[float]:
    out = []
    for _ in range(n):
        ex.step()
        out.append(ex.mid("X"))
    return out


def test_same_seed_same_path_other_seed_other_path():
    a, b, c = (DryRunExchange(market(), seed=s) for s in (1, 1, 2))
    pa, pb, pc = prices(a, 50), prices(b, 50), prices(c, 50)
    assert pa == pb
    assert pa != pc


def test_time_advances_one_bar_per_step():
    ex = DryRunExchange(market(), seed=1, bar_seconds=60)
    assert ex.step() == 1_700_000_060.0
    assert ex.step() == 1_700_000_120.0


def test_bar_volatility_matches_the_model():
    ex = DryRunExchange(market(vol_bps_per_bar=20.0), seed=3)
    px = [100.0, *prices(ex, 4000)]
    rets = [math.log(b / a) for a, b in itertools.pairwise(px)]
    assert statistics.pstdev(rets) == pytest.approx(20e-4, rel=0.08)


def test_reversal_parameter_gives_negative_autocorrelation():
    ex = DryRunExchange(market(revert=0.5), seed=3)
    px = [100.0, *prices(ex, 4000)]
    r = [math.log(b / a) for a, b in itertools.pairwise(px)]
    assert statistics.correlation(r[:-1], r[1:]) < -0.25


def test_quote_spread():
    ex = DryRunExchange(market(spread_bps=2.0), seed=1)
    q = ex.quote("X")
    assert (q.ask - q.bid) / q.mid * 1e4 == pytest.approx(2.0)


def test_market_buy_fills_above_the_ask_with_taker_fee():
    ex = DryRunExchange(market(), seed=1)
    q = ex.quote("X")
    ack = ex.submit(OrderRequest("c1", "X", "BUY", 2.0, "MARKET"))
    assert ack is not None and ack.accepted and ack.latency_ms > 0
    st = ex.get_order("c1")
    assert st.status == "FILLED" and st.filled_qty == 2.0 and not st.is_maker
    assert st.avg_price > q.ask
    assert st.fee_usd == pytest.approx(2.0 * st.avg_price * 4e-4)


def test_market_sell_fills_below_the_bid():
    ex = DryRunExchange(market(), seed=1)
    q = ex.quote("X")
    ex.submit(OrderRequest("c1", "X", "SELL", 1.0, "MARKET"))
    assert ex.get_order("c1").avg_price < q.bid


def test_post_only_that_would_cross_is_rejected():
    ex = DryRunExchange(market(), seed=1)
    q = ex.quote("X")
    ack = ex.submit(OrderRequest("c1", "X", "BUY", 1.0, "LIMIT_POST_ONLY", q.ask))
    assert ack is not None and not ack.accepted and ack.reason == "post_only_would_cross"
    assert ex.get_order("c1").status == "REJECTED"


def test_post_only_fills_at_its_limit_as_maker_or_expires():
    ex = DryRunExchange(market(maker_fill_prob=0.5), seed=5)
    outcomes = []
    for i in range(2000):
        q = ex.quote("X")
        ex.submit(OrderRequest(f"c{i}", "X", "BUY", 1.0, "LIMIT_POST_ONLY", q.bid))
        st = ex.resolve(f"c{i}", timeout_ms=5000)
        assert st.final
        if st.status == "FILLED":
            assert st.is_maker and st.avg_price == q.bid
            assert st.fee_usd == pytest.approx(q.bid * 1e-4)
        else:
            assert st.status == "EXPIRED" and st.filled_qty == 0
        outcomes.append(st.status == "FILLED")
    assert sum(outcomes) / len(outcomes) == pytest.approx(0.5, abs=0.04)


def test_longer_timeout_fills_more_often():
    def fill_rate(timeout_ms):
        ex = DryRunExchange(market(maker_fill_prob=0.4), seed=9)
        n = 0
        for i in range(1500):
            ex.submit(OrderRequest(f"c{i}", "X", "SELL", 1.0, "LIMIT_POST_ONLY", ex.quote("X").ask))
            n += ex.resolve(f"c{i}", timeout_ms).status == "FILLED"
        return n / 1500

    assert fill_rate(15_000) > fill_rate(1_000) + 0.2


def test_partial_fill_leaves_a_remainder():
    m = market(maker_fill_prob=1.0)
    m = MarketConfig(
        **{**{f: getattr(m, f) for f in m.__struct_fields__}, "partial_fill_prob": 1.0}
    )
    ex = DryRunExchange(m, seed=2)
    ex.submit(OrderRequest("c1", "X", "BUY", 10.0, "LIMIT_POST_ONLY", ex.quote("X").bid))
    st = ex.resolve("c1", 5000)
    assert st.status == "PARTIALLY_FILLED"
    assert 0 < st.filled_qty < 10.0


def test_rejects_happen_at_the_configured_rate():
    ex = DryRunExchange(market(reject_prob=0.1), seed=4)
    rejected = 0
    for i in range(3000):
        ack = ex.submit(OrderRequest(f"c{i}", "X", "BUY", 1.0, "MARKET"))
        rejected += not ack.accepted
    assert rejected / 3000 == pytest.approx(0.1, abs=0.02)


def test_lost_ack_leaves_the_order_queryable():
    m = market()
    m = MarketConfig(**{**{f: getattr(m, f) for f in m.__struct_fields__}, "ack_loss_prob": 1.0})
    ex = DryRunExchange(m, seed=1)
    assert ex.submit(OrderRequest("c1", "X", "BUY", 1.0, "MARKET")) is None
    assert ex.get_order("c1").status == "FILLED"


def test_duplicate_client_id_is_refused_without_a_second_order():
    ex = DryRunExchange(market(), seed=1)
    ex.submit(OrderRequest("c1", "X", "BUY", 1.0, "MARKET"))
    ack = ex.submit(OrderRequest("c1", "X", "BUY", 5.0, "MARKET"))
    assert not ack.accepted and ack.reason == "duplicate_client_id"
    assert ex.get_order("c1").filled_qty == 1.0


def test_zero_quantity_is_an_error():
    with pytest.raises(ValueError, match="qty must be positive"):
        DryRunExchange(market(), seed=1).submit(OrderRequest("c", "X", "BUY", 0.0, "MARKET"))


def test_forget_final_orders_keeps_resting_ones():
    ex = DryRunExchange(market(), seed=1)
    ex.submit(OrderRequest("done", "X", "BUY", 1.0, "MARKET"))
    ex.submit(OrderRequest("rest", "X", "BUY", 1.0, "LIMIT_POST_ONLY", ex.quote("X").bid))
    ex.forget_final_orders()
    assert ex.get_order("done") is None
    assert ex.get_order("rest").status == "NEW"
