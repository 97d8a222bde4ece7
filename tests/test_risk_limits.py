"""Risk limits allow a new position or veto it with every reason that applies."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from execution.config import RiskLimitsConfig
from execution.risk_limits import Exposure, RiskLimits

CFG = RiskLimitsConfig(
    per_symbol_notional_cap_usd=1_000.0,
    gross_exposure_cap_usd=3_000.0,
    max_open_positions=3,
    daily_loss_limit_usd=500.0,
    per_symbol_overrides={"BTCUSDT": 2_000.0},
)
LIMITS = RiskLimits(CFG)


def test_within_limits_is_allowed():
    d = LIMITS.check("ETHUSDT", 900.0, Exposure())
    assert d.allowed and d.reasons == ()


def test_symbol_cap_counts_what_is_already_held():
    d = LIMITS.check("ETHUSDT", 300.0, Exposure({"ETHUSDT": 800.0}, 1))
    assert not d.allowed
    assert d.reasons == ("symbol_notional_cap: ETHUSDT 1100.00 > 1000.00",)


def test_symbol_cap_is_inclusive():
    assert LIMITS.check("ETHUSDT", 1_000.0, Exposure()).allowed


def test_per_symbol_override_raises_the_cap():
    assert LIMITS.check("BTCUSDT", 1_500.0, Exposure()).allowed
    assert not LIMITS.check("BTCUSDT", 2_500.0, Exposure()).allowed


def test_short_exposure_counts_by_absolute_value():
    d = LIMITS.check("ETHUSDT", 300.0, Exposure({"ETHUSDT": -800.0}, 1))
    assert not d.allowed


def test_gross_exposure_cap():
    held = {"A": 1_000.0, "B": 1_000.0, "C": -800.0}
    d = LIMITS.check("D", 500.0, Exposure(held, 2))
    assert not d.allowed
    assert d.reasons == ("gross_exposure_cap: 3300.00 > 3000.00",)


def test_max_open_positions():
    d = LIMITS.check("D", 10.0, Exposure({"A": 1.0, "B": 1.0, "C": 1.0}, 3))
    assert d.reasons == ("max_open_positions: 3 >= 3",)


def test_daily_loss_limit_stops_new_risk():
    d = LIMITS.check("D", 10.0, Exposure({}, 0, realized_pnl_today=-500.0))
    assert d.reasons == ("daily_loss_limit: -500.00 <= -500.00",)
    assert LIMITS.check("D", 10.0, Exposure({}, 0, realized_pnl_today=-499.99)).allowed


def test_every_breached_limit_is_reported():
    d = LIMITS.check("ETHUSDT", 5_000.0, Exposure({"X": 1.0, "Y": 1.0, "Z": 1.0}, 3, -900.0))
    kinds = [r.split(":")[0] for r in d.reasons]
    assert kinds == [
        "symbol_notional_cap",
        "gross_exposure_cap",
        "max_open_positions",
        "daily_loss_limit",
    ]


def test_non_positive_notional_is_vetoed():
    assert not LIMITS.check("ETHUSDT", 0.0, Exposure()).allowed


@given(
    notional=st.floats(1.0, 5_000.0),
    held=st.dictionaries(st.sampled_from(["ETHUSDT", "BTCUSDT", "A"]), st.floats(-2_000, 2_000)),
    positions=st.integers(0, 5),
    pnl=st.floats(-1_000, 1_000),
)
def test_allowed_iff_every_limit_holds(notional, held, positions, pnl):
    """The decision equals the conjunction of the four limits, written out plainly."""
    exp = Exposure(held, positions, pnl)
    cap = CFG.per_symbol_overrides.get("ETHUSDT", CFG.per_symbol_notional_cap_usd)
    expected = (
        abs(held.get("ETHUSDT", 0.0)) + notional <= cap
        and sum(abs(v) for v in held.values()) + notional <= CFG.gross_exposure_cap_usd
        and positions < CFG.max_open_positions
        and pnl > -CFG.daily_loss_limit_usd
    )
    d = LIMITS.check("ETHUSDT", notional, exp)
    assert d.allowed == expected
    assert d.allowed == (not d.reasons)
