"""The screener admits at most N symbols per tier (most liquid first) and caps tier notional."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from execution.config import PairsUniverse, SymbolConfig, TierConfig
from execution.screener import Screener


def universe(max_core=2, max_alt=1, core_cap=1_000.0, alt_cap=300.0) -> PairsUniverse:
    def sym(tier, adv):
        return SymbolConfig(tier=tier, tick_size=0.01, lot_size=0.001, adv_usd=adv)

    return PairsUniverse(
        tiers={
            "CORE": TierConfig(max_symbols=max_core, max_notional_usd=core_cap),
            "ALT": TierConfig(max_symbols=max_alt, max_notional_usd=alt_cap),
        },
        symbols={
            "BTC": sym("CORE", 9e9),
            "ETH": sym("CORE", 5e9),
            "SOL": sym("CORE", 1e9),
            "PEPE": sym("ALT", 2e7),
            "WIF": sym("ALT", 3e7),
        },
    )


def test_each_tier_keeps_its_most_liquid_symbols():
    assert Screener(universe()).eligible() == ["BTC", "ETH", "WIF"]


def test_liquidity_ties_break_by_name():
    u = universe(max_alt=1)
    u.symbols["PEPE"] = SymbolConfig(tier="ALT", tick_size=0.01, lot_size=0.001, adv_usd=3e7)
    assert "PEPE" in Screener(u).eligible()
    assert "WIF" not in Screener(u).eligible()


def test_symbol_outside_its_tier_top_is_vetoed():
    d = Screener(universe()).check("SOL", 10.0, {})
    assert not d.allowed and d.reasons[0].startswith("tier_symbol_cap")


def test_unknown_symbol_is_vetoed():
    assert Screener(universe()).check("DOGE", 10.0, {}).reasons == ("not_in_universe: DOGE",)


def test_tier_notional_cap_sums_the_tier_only():
    s = Screener(universe())
    held = {"BTC": 600.0, "ETH": -300.0, "WIF": 250.0}
    assert s.check("BTC", 100.0, held).allowed
    d = s.check("ETH", 150.0, held)
    assert d.reasons == ("tier_notional_cap: CORE 1050.00 > 1000.00",)
    assert not s.check("WIF", 60.0, held).allowed


def test_snapshot_reports_usage_per_tier():
    snap = Screener(universe()).snapshot({"BTC": 600.0, "WIF": -100.0})
    assert snap["eligible"] == ["BTC", "ETH", "WIF"]
    assert snap["tiers"]["CORE"]["open_notional_usd"] == 600.0
    assert snap["tiers"]["ALT"]["open_notional_usd"] == 100.0
    assert snap["tiers"]["ALT"]["symbols"] == ["WIF"]


def test_repository_universe_respects_its_caps(cfg):
    s = Screener(cfg.universe)
    for tier, tcfg in cfg.universe.tiers.items():
        members = [x for x in s.eligible() if s.tier_of(x) == tier]
        assert 0 < len(members) <= tcfg.max_symbols


@given(max_core=st.integers(1, 4), max_alt=st.integers(1, 3))
def test_eligible_count_is_bounded_by_tier_caps(max_core, max_alt):
    s = Screener(universe(max_core=max_core, max_alt=max_alt))
    core = [x for x in s.eligible() if s.tier_of(x) == "CORE"]
    alt = [x for x in s.eligible() if s.tier_of(x) == "ALT"]
    assert len(core) == min(3, max_core)
    assert len(alt) == min(2, max_alt)
