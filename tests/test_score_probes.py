"""Probes of the symbol score through the whole path (events → expectancy_v6 →
symbol_scores_v6): each a defect the score once had (issue: a score that ranks
true edge under fat tails and regime change)."""

from __future__ import annotations

import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.config import load_intel_config
from execution.intel.events import MAX_R
from execution.intel.expectancy_v6 import expectancy_surfaces
from execution.intel.folds import ROBUST
from execution.intel.symbol_score_v6 import score_symbols
from tests.intel.builders import order, trades_r, validator
from tests.support import CONFIG_DIR

SCHEMA = validator("symbol_scores_v6.schema.json")  # built once: building costs ~0.1 s

CFG = msgspec.structs.replace(load_intel_config(CONFIG_DIR / "intel_v6.json").score, window="all")


def normal_universe(seed: int, n: int = 18) -> list[dict]:
    """``n`` symbols with edges ~ N(0, 0.2) R, unit Gaussian noise, 40–160 trades."""
    rng = np.random.default_rng(seed)
    events: list[dict] = []
    for i in range(n):
        edge, count = rng.normal(0.0, 0.2), int(rng.integers(40, 160))
        events += trades_r(rng.normal(edge, 1.0, count).tolist(), symbol=f"S{i:02d}")
    return events


def ranked(events: list[dict], **kw) -> dict:
    doc = expectancy_surfaces(events, windows=["all"], generated_at=0.0)
    out = score_symbols(doc, config=msgspec.structs.replace(CFG, **kw), generated_at=0.0)
    SCHEMA.validate(out)
    return out


def entry(out: dict, symbol: str) -> dict:
    return next(e for e in out["symbols"] if e["symbol"] == symbol)


def normal_universe_with_orders(seed: int, n: int = 12) -> list[dict]:
    """As :func:`normal_universe`, each trade with one filled maker order."""
    rng = np.random.default_rng(seed)
    events: list[dict] = []
    for i in range(n):
        edge, count = rng.normal(0.0, 0.25), int(rng.integers(40, 160))
        events += trades_r(rng.normal(edge, 1.0, count).tolist(), symbol=f"S{i:02d}")
        events += [order(symbol=f"S{i:02d}", maker=True, slippage=0.0) for _ in range(count)]
    return events


@pytest.mark.parametrize("with_trades", [False, True])
@pytest.mark.parametrize(
    "fill",
    [
        {"maker": True, "fallback": False, "slippage": 0.0},
        {"maker": False, "fallback": True, "slippage": 5.0},
        {"maker": False, "fallback": False, "slippage": 0.0},
    ],
    ids=["maker_clean", "taker_fallback_5bps", "taker_0bps"],
)
def test_all_rejected_ranks_below_partly_rejected(fill, with_trades):
    """Alike in trades; one symbol's 3 orders all rejected, the other's 2 of 3 (its
    fill clean or costly): the reject rate counts whether or not anything filled,
    and orders without a fill are no liquidity and the worst fill — not missing
    figures, which would leave the all-rejected symbol better off."""
    events = normal_universe_with_orders(3)
    if with_trades:
        for sym in ("ALL", "SOME"):
            events += trades_r([0.5, -0.3, 0.8, 0.1, -0.2], symbol=sym)
    events += [order("REJECTED", symbol="ALL") for _ in range(3)]
    events += [order("REJECTED", symbol="SOME") for _ in range(2)]
    events += [order(symbol="SOME", **fill)]
    out = ranked(events)
    every, some = entry(out, "ALL"), entry(out, "SOME")
    assert every["components"]["reject_rate"] < some["components"]["reject_rate"] < 0
    assert every["components"]["liquidity"] == -1.0
    assert not {"reject_rate", "liquidity", "router_quality"} & set(every["missing"])
    assert every["rank"] > some["rank"]


@pytest.mark.parametrize("seed", range(6))
def test_a_single_5r_trade_stays_out_of_the_top_quarter(seed):
    events = normal_universe(seed) + trades_r([5.0], symbol="ONE")
    out = ranked(events)
    n = len(out["symbols"])
    assert entry(out, "ONE")["rank"] > n / 4


@pytest.mark.parametrize("seed", range(6))
def test_two_trades_at_the_r_bound_cannot_dominate(seed):
    """Two trades at the decoder's |R| bound (1e12) stay out of the top quarter, and
    count no more than two trades at the winsorisation bound: beyond it, size adds
    nothing."""
    clip = ROBUST.clip_r
    huge = ranked(normal_universe(seed) + trades_r([MAX_R, MAX_R], risk=1.0, symbol="HUGE"))
    at_clip = ranked(normal_universe(seed) + trades_r([clip, clip], symbol="HUGE"))
    e = entry(huge, "HUGE")
    assert e["rank"] > len(huge["symbols"]) / 4 and e["edge"]["mean_r"] == clip
    assert e["score"] == pytest.approx(entry(at_clip, "HUGE")["score"], abs=1e-12)
    assert e["rank"] == entry(at_clip, "HUGE")["rank"]


def test_a_missing_wins_figure_is_neutral_not_a_penalty():
    events = normal_universe(0)
    doc = expectancy_surfaces(events, windows=["all"], generated_at=0.0)
    groups = doc["windows"]["all"]["symbols"]
    del groups["S00"]["wins"]
    out = score_symbols(doc, config=CFG, generated_at=0.0)
    e = entry(out, "S00")
    assert "hit_rate" in e["missing"] and e["components"]["hit_rate"] == 0.0
    groups["S00"]["wins"] = 0  # a real 0 is a penalty; an unknown is not
    penalised = entry(score_symbols(doc, config=CFG, generated_at=0.0), "S00")
    assert penalised["components"]["hit_rate"] < 0 and penalised["score"] < e["score"]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("router", [True, False], ids=["healthy_router", "trades_only"])
def test_a_long_steady_positive_record_scores_above_0_8(router, seed):
    """800 trades of +0.5 R ± 0.5 (2.5 times the universe's edge spread: the
    expectancy component reads the size of the edge against its peers', not only
    its sign), with a healthy router or from a trades-only log (the router
    components are missing, neutral, and take no weight): beyond doubt."""
    rng = np.random.default_rng(7)
    events = normal_universe(seed)
    rs = rng.normal(0.5, 0.5, 800)
    events += trades_r(rs.tolist(), symbol="STEADY")
    if router:
        events += [order(symbol="STEADY", maker=i % 10 != 0, slippage=0.2) for i in range(400)]
    out = ranked(events)
    e = entry(out, "STEADY")
    assert e["edge"]["p_edge_positive"] > 0.999 and e["components"]["expectancy"] > 0.8
    assert e["score"] > 0.8
    best = max(out["symbols"], key=lambda x: x["components"]["expectancy"])
    assert best["symbol"] == "STEADY"
    if not router:
        assert {"slippage", "router_quality", "reject_rate", "liquidity"} <= set(e["missing"])


def test_a_larger_certain_edge_ranks_higher():
    """Two symbols of 200 trades each, both certain to be positive: +1.0 R a trade
    ranks above +0.2 R (a component of P(edge > 0) alone saturates at 1 for both
    and ranks them by the rest)."""
    events = normal_universe(1)
    events += trades_r([0.5 if j % 2 == 0 else -0.1 for j in range(200)], symbol="SMALL")
    events += trades_r([2.5 if j % 2 == 0 else -0.5 for j in range(200)], symbol="BIG")
    out = ranked(events)
    small, big = entry(out, "SMALL"), entry(out, "BIG")
    assert small["edge"]["p_edge_positive"] > 0.95 and big["edge"]["p_edge_positive"] > 0.999
    assert big["components"]["expectancy"] > small["components"]["expectancy"]
    assert big["rank"] < small["rank"]


_PEERS = normal_universe(5, n=10)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=2, max_size=40),
    st.data(),
    st.floats(0, 10),
)
def test_raising_one_trade_never_lowers_the_expectancy_component(rs, data, gain):
    """The same log but one trade of X with a higher R: X's expectancy component
    (and posterior mean) never falls — its shrinkage comes from the other symbols."""
    i = data.draw(st.integers(0, len(rs) - 1))
    raised = [*rs[:i], rs[i] + gain, *rs[i + 1 :]]
    lo, hi = (entry(ranked(_PEERS + trades_r(x, symbol="X")), "X") for x in (rs, raised))
    assert hi["components"]["expectancy"] >= lo["components"]["expectancy"]
    assert hi["edge"]["posterior_mean_r"] >= lo["edge"]["posterior_mean_r"]


def test_scores_spread_over_the_range():
    """A universe of long records of clearly different edges uses most of [−1, 1]."""
    rng = np.random.default_rng(3)
    events = []
    for i, edge in enumerate(np.linspace(-0.6, 0.6, 9)):
        events += trades_r(rng.normal(edge, 1.0, 300).tolist(), symbol=f"E{i}")
    scores = [e["score"] for e in ranked(events)["symbols"]]
    assert max(scores) > 0.6 and min(scores) < -0.6
    exp = [e["components"]["expectancy"] for e in ranked(events)["symbols"]]
    assert max(exp) > 0.75 and min(exp) < -0.75


def test_every_entry_explains_itself():
    out = ranked(normal_universe(2))
    weights = out["weights"]
    for e in out["symbols"]:
        assert math.fsum(e["contributions"].values()) == pytest.approx(e["score"], abs=1e-12)
        used = {k: w for k, w in weights.items() if k not in e["missing"]}
        total = sum(used.values())
        assert e["weights_used"] == pytest.approx({k: w / total for k, w in used.items()})
        for k, v in e["components"].items():
            assert e["contributions"][k] == pytest.approx(e["weights_used"].get(k, 0.0) * v)
        assert e["edge"]["figure"] == "avg_r_recent"
        assert e["confidence"] == pytest.approx(
            e["edge"]["prior_sd_r"] ** 2 / (e["edge"]["prior_sd_r"] ** 2 + e["edge"]["se_r"] ** 2)
        )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(-1e12, 1e12), min_size=1, max_size=30),
    st.floats(-1e12, 1e12),
)
def test_one_trade_moves_the_robust_mean_by_a_bounded_amount(rs, outlier):
    """Whatever its size, one more trade moves avg_r_robust by at most
    2·clip_r / n and avg_r_recent stays within ± clip_r."""
    clip = ROBUST.clip_r
    before = expectancy_surfaces(trades_r(rs, risk=1.0), windows=["all"], generated_at=0.0)
    after = expectancy_surfaces(
        trades_r([*rs, outlier], risk=1.0), windows=["all"], generated_at=0.0
    )
    a = before["windows"]["all"]["symbols"]["BTCUSDT"]
    b = after["windows"]["all"]["symbols"]["BTCUSDT"]
    assert abs(b["avg_r_robust"] - a["avg_r_robust"]) <= 2 * clip / (len(rs) + 1) + 1e-9
    assert -clip <= b["avg_r_recent"] <= clip


@pytest.mark.parametrize(("n", "mu", "sd"), [(30, 0.2, 0.6), (25, 0.3, 0.4), (200, 0.3, 0.1)])
def test_raising_the_best_trade_to_3r_never_lowers_the_expectancy_component(n, mu, sd):
    """A calm record whose best trade becomes 3 R: its spread grows, and a
    shrinkage that read the symbol's own spread lowered its component."""
    rs = np.random.default_rng(n).normal(mu, sd, n).tolist()
    raised = list(rs)
    raised[int(np.argmax(rs))] = 3.0
    lo, hi = (entry(ranked(_PEERS + trades_r(x, symbol="X")), "X") for x in (rs, raised))
    assert hi["components"]["expectancy"] > lo["components"]["expectancy"]
