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


def test_all_rejected_ranks_below_partly_rejected():
    """Alike in trades; one symbol's 3 orders all rejected, the other's 2 of 3:
    the reject rate counts whether or not anything filled."""
    events = []
    for sym in ("ALL", "SOME"):
        events += trades_r([0.5, -0.2, 0.3, 0.1], symbol=sym)
    events += [order("REJECTED", symbol="ALL") for _ in range(3)]
    events += [order("REJECTED", symbol="SOME") for _ in range(2)] + [order(symbol="SOME")]
    out = ranked(events)
    every, some = entry(out, "ALL"), entry(out, "SOME")
    assert every["components"]["reject_rate"] < some["components"]["reject_rate"] < 0
    assert "reject_rate" not in every["missing"]
    assert out["top"].index("SOME") < out["top"].index("ALL")


@pytest.mark.parametrize("seed", range(4))
def test_a_single_5r_trade_stays_out_of_the_top_quarter(seed):
    events = normal_universe(seed) + trades_r([5.0], symbol="ONE")
    out = ranked(events)
    n = len(out["symbols"])
    assert entry(out, "ONE")["rank"] > n / 4


@pytest.mark.parametrize("seed", range(4))
def test_two_trades_at_the_r_bound_cannot_dominate(seed):
    """Two trades at the decoder's |R| bound (1e12) never rank first, and count no
    more than two trades at the winsorisation bound: beyond it, size adds nothing."""
    clip = ROBUST.clip_r
    huge = ranked(normal_universe(seed) + trades_r([MAX_R, MAX_R], risk=1.0, symbol="HUGE"))
    at_clip = ranked(normal_universe(seed) + trades_r([clip, clip], symbol="HUGE"))
    e = entry(huge, "HUGE")
    assert e["rank"] > 1 and e["edge"]["mean_r"] == clip
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


def test_a_long_steady_positive_record_scores_above_0_8():
    """800 trades of +0.4 R ± 0.5, 70 % wins, a healthy router: beyond doubt."""
    rng = np.random.default_rng(7)
    events = normal_universe(1)
    rs = rng.normal(0.4, 0.5, 800)
    events += trades_r(rs.tolist(), symbol="STEADY")
    events += [order(symbol="STEADY", maker=i % 10 != 0, slippage=0.2) for i in range(400)]
    out = ranked(events)
    e = entry(out, "STEADY")
    assert e["components"]["expectancy"] > 0.99
    assert e["score"] > 0.8 and e["rank"] == 1


def test_scores_spread_over_the_range():
    """A universe of long records of clearly different edges uses most of [−1, 1]."""
    rng = np.random.default_rng(3)
    events = []
    for i, edge in enumerate(np.linspace(-0.6, 0.6, 9)):
        events += trades_r(rng.normal(edge, 1.0, 300).tolist(), symbol=f"E{i}")
    scores = [e["score"] for e in ranked(events)["symbols"]]
    assert max(scores) > 0.6 and min(scores) < -0.6
    exp = [e["components"]["expectancy"] for e in ranked(events)["symbols"]]
    assert max(exp) > 0.95 and min(exp) < -0.95


def test_every_entry_explains_itself():
    out = ranked(normal_universe(2))
    weights = out["weights"]
    for e in out["symbols"]:
        assert math.fsum(e["contributions"].values()) == pytest.approx(e["score"], abs=1e-12)
        for k, v in e["components"].items():
            assert e["contributions"][k] == pytest.approx(weights[k] * v)
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
