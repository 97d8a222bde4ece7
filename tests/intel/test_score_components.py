"""The score's components one by one (execution.intel.score_components): range,
neutral value for missing inputs, direction, and the empirical-Bayes edge."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.intel import score_components as sc

POLICY = sc.EdgePolicy()
counts = st.integers(0, 100_000)
rates = st.floats(0, 1)


class TestRates:
    @given(counts, counts, st.floats(1, 100))
    def test_hit_rate_lies_in_range_and_rises_with_wins(self, wins, trades, prior):
        v = sc.hit_rate(wins, trades, prior=prior)
        if trades == 0:
            assert v is None
            return
        assert v is not None and -1 <= v <= 1
        more = sc.hit_rate(min(wins, trades) + 1, trades + 1, prior=prior)
        assert more is not None and more >= sc.hit_rate(min(wins, trades), trades + 1, prior=prior)

    def test_missing_wins_is_missing_not_zero(self):
        assert sc.hit_rate(None, 40, prior=20) is None
        assert sc.hit_rate(0, 40, prior=20) == pytest.approx(2 * 10 / 60 - 1)

    def test_reject_rate_counts_every_order(self):
        """All rejected (nothing filled) is worse than two of three; none is best."""
        every = sc.reject_rate(3, 3, prior=20)
        most = sc.reject_rate(2, 3, prior=20)
        none = sc.reject_rate(0, 3, prior=20)
        assert every is not None and most is not None and none is not None
        assert every < most < 0 < none
        assert sc.reject_rate(0, 0, prior=20) is None and sc.reject_rate(None, 5, prior=20) is None

    @given(counts, counts)
    def test_reject_rate_lies_in_range(self, rejects, orders):
        v = sc.reject_rate(rejects, orders, prior=20)
        assert v is None if orders == 0 else -1 <= v <= 1  # type: ignore[operator]

    @given(st.none() | rates, st.none() | rates, counts)
    def test_router_quality(self, maker, fallback, fills):
        v = sc.router_quality(maker, fallback, fills, prior=20)
        if maker is None and fallback is None:
            assert v is None
        else:
            assert v is not None and -1 <= v <= 1
            if fills == 0:
                assert v == 0.0  # no fills, no evidence

    def test_slippage_liquidity_volatility(self):
        assert sc.slippage(None, 10, prior=20) is None
        assert sc.slippage(5.0, 100, prior=20) < 0 < sc.slippage(-5.0, 100, prior=20)  # type: ignore[operator]
        assert sc.liquidity(1e6 * math.e**2, 1e6) == pytest.approx(math.tanh(1))
        assert sc.liquidity(0.0, 1e6) is None and sc.liquidity(1e6, None) is None

    def test_orders_without_fills_are_the_worst_fill_not_missing(self):
        """Zero notional from orders that all failed is no liquidity (−1); without
        orders it is unknown. The router that filled none of its orders scores −1
        shrunk by orders."""
        assert sc.liquidity(0.0, 1e6, orders=3, fills=0) == -1.0
        assert sc.liquidity(None, 1e6, orders=3, fills=0) == -1.0
        assert sc.liquidity(0.0, 1e6, orders=0, fills=0) is None
        assert sc.router_quality(None, None, 0, prior=20, orders=3) == pytest.approx(-3 / 23)
        assert sc.router_quality(None, None, 0, prior=20, orders=0) is None
        assert sc.volatility(2.0, 1.0, 1e9, prior=20) == pytest.approx(-math.tanh(math.log(2)))
        assert sc.volatility(None, 1.0, 10, prior=20) is None


def universe(n: int = 12, trades: int = 100) -> list[sc.Evidence | None]:
    """Symbols with mean R spread over [-0.3, 0.3], sd 1, ``trades`` each."""
    return [sc.Evidence(-0.3 + 0.6 * i / (n - 1), trades, 1.0, trades) for i in range(n)]


class TestEdge:
    def test_component_is_the_posterior_mean_on_the_prior_scale(self):
        """tanh(posterior mean / (scale·τ)), with the calibrated P(edge > 0) beside it."""
        out = sc.edges(universe(), POLICY)
        for e in out:
            assert e is not None
            assert e.scale_r == pytest.approx(POLICY.scale * e.prior_sd_r)
            assert e.component == pytest.approx(math.tanh(e.posterior_mean_r / e.scale_r))
            assert 0 < e.confidence < 1
            z = e.posterior_mean_r / e.posterior_sd_r
            assert e.p_edge_positive == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))

    def test_the_component_does_not_saturate_before_the_posterior_mean(self):
        """Two long records, both beyond doubt positive: the larger edge reads higher
        (2·P(edge > 0) − 1 would give both 1)."""
        ev = [*universe(), sc.Evidence(0.2, 2000.0, 0.5, 2000)]
        ev.append(sc.Evidence(1.0, 2000.0, 0.5, 2000))
        small, big = sc.edges(ev, POLICY)[-2:]
        assert small is not None and big is not None
        assert small.p_edge_positive > 0.999 and big.p_edge_positive > 0.999
        assert small.component < big.component < 1.0

    def test_leave_one_out_medians(self):
        xs = [5.0, 1.0, None, 3.0, 2.0, 4.0, 4.0]
        got = sc.medians_without(xs)
        for i in range(len(xs)):
            rest = [v for j, v in enumerate(xs) if j != i and v is not None]
            assert got[i] == statistics.median(rest)
        assert sc.medians_without([1.0]) == [None] and sc.medians_without([]) == []

    @given(st.lists(st.none() | st.floats(-1e6, 1e6), max_size=12))
    def test_leave_one_out_medians_agree_with_a_plain_reference(self, xs):
        got = sc.medians_without(xs)
        for i in range(len(xs)):
            rest = [v for j, v in enumerate(xs) if v is not None and (j != i or xs[i] is None)]
            assert got[i] == (statistics.median(rest) if rest else None)

    @given(st.floats(-2, 2), st.floats(0.01, 3), st.floats(0, 2))
    def test_a_symbols_shrinkage_comes_from_the_others(self, mean, sd, gain):
        """Its own mean and spread move neither its prior nor its sampling variance."""
        base = universe()
        a = sc.edges([*base, sc.Evidence(mean, 50.0, sd, 50)], POLICY)[-1]
        b = sc.edges([*base, sc.Evidence(mean + gain, 50.0, sd * 2, 50)], POLICY)[-1]
        assert a is not None and b is not None
        assert a.prior_sd_r == b.prior_sd_r and a.se_r == b.se_r

    def test_no_evidence_is_none(self):
        out = sc.edges([*universe(), None], POLICY)
        assert out[-1] is None and all(e is not None for e in out[:-1])

    def test_a_small_sample_stays_near_zero(self):
        ev = universe()
        ev.append(sc.Evidence(2.0, 1.0, None, 1))  # one trade at the clip
        one = sc.edges(ev, POLICY)[-1]
        assert one is not None and abs(one.component) < 0.5 and one.confidence < 0.1

    def test_a_long_steady_record_of_a_large_edge_approaches_one(self):
        ev = universe()
        ev.append(sc.Evidence(0.6, 1000.0, 0.5, 1000))
        steady = sc.edges(ev, POLICY)[-1]
        assert steady is not None and steady.component > 0.95 and steady.confidence > 0.9
        assert steady.p_edge_positive > 0.999

    @given(st.floats(-2, 2), st.floats(0, 2), st.floats(1, 500), st.none() | st.floats(0, 5))
    def test_a_better_mean_never_lowers_the_component(self, mean, gain, n, sd):
        base = universe()
        lo = sc.edges([*base, sc.Evidence(mean, n, sd, int(n))], POLICY)[-1]
        hi = sc.edges([*base, sc.Evidence(mean + gain, n, sd, int(n))], POLICY)[-1]
        assert lo is not None and hi is not None
        assert hi.component >= lo.component
        assert -1 <= lo.component <= 1

    def test_the_prior_spread_comes_from_the_cross_section(self):
        """Wider true edges → a wider prior → less shrinkage of the same evidence."""
        narrow = [sc.Evidence(0.02 * (i - 5), 100, 1.0, 100) for i in range(11)]
        wide = [sc.Evidence(0.1 * (i - 5), 100, 1.0, 100) for i in range(11)]
        n, w = sc.edges(narrow, POLICY), sc.edges(wide, POLICY)
        assert n[0] is not None and w[0] is not None
        assert w[0].prior_sd_r > n[0].prior_sd_r and w[0].confidence > n[0].confidence

    def test_few_symbols_use_the_policy_prior(self):
        out = sc.edges(universe(3), POLICY)
        assert all(e is not None and e.prior_sd_r == POLICY.prior_sd_r for e in out)

    def test_zero_spread_everywhere_stays_finite(self):
        out = sc.edges([sc.Evidence(0.5, 10, 0.0, 10) for _ in range(6)], POLICY)
        assert all(e is not None and math.isfinite(e.component) for e in out)
