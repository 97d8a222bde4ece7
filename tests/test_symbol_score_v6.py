"""Symbol score v6: ordering, range, missing inputs, shrinkage, determinism, and
that it ranks symbols by true edge better than summed profit does."""

from __future__ import annotations

import copy
import math
import random

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.config import SCORE_COMPONENTS, ScoreConfig, load_intel_config
from execution.intel.expectancy_v6 import expectancy_surfaces, load_lines
from execution.intel.symbol_score_v6 import score_symbols
from tests.capped import CAPPED
from tests.intel.builders import assert_no_sentinels, validator
from tests.support import CONFIG_DIR, ROOT

SCHEMA = validator("symbol_scores_v6.schema.json")  # built once: building costs ~0.1 s

CFG = ScoreConfig(window="all", prior_trades=20)


def base_group(**over):
    g = {
        "trades": 40,
        "wins": 22,
        "hit_rate": 0.55,
        "avg_r": 0.2,
        "r_trades": 40,
        "r_std": 1.0,
        "pnl_usd": 800.0,
        "expectancy_per_risk": 0.2,
        "fills": 80,
        "maker_fill_rate": 0.6,
        "fallback_rate": 0.2,
        "reject_rate": 0.01,
        "orders": 100,
        "rejects": 1,
        "avg_slippage_bps": 2.0,
        "notional_usd": 1e6,
    }
    g.update(over)
    return g


def doc_of(groups, window="all"):
    return {"as_of": 100.0, "windows": {window: {"symbols": groups}}}


def scores(groups, health=None, cfg=CFG):
    return score_symbols(doc_of(groups), health, config=cfg, generated_at=101.0)


def entry(out, symbol):
    return next(e for e in out["symbols"] if e["symbol"] == symbol)


class TestOrdering:
    @pytest.mark.parametrize(
        ("field", "better", "worse"),
        [
            ("avg_r", 0.5, 0.1),
            ("wins", 30, 20),
            ("maker_fill_rate", 0.9, 0.3),
            ("fallback_rate", 0.05, 0.5),
            ("rejects", 0, 20),
            ("avg_slippage_bps", 0.5, 6.0),
        ],
    )
    def test_better_input_ranks_higher(self, field, better, worse):
        """Two symbols alike but for one input: the better one scores higher."""
        out = scores({"AAA": base_group(**{field: worse}), "ZZZ": base_group(**{field: better})})
        assert entry(out, "ZZZ")["score"] > entry(out, "AAA")["score"]
        assert out["top"][0] == "ZZZ"

    @given(st.floats(-3, 3), st.floats(0, 3))
    def test_better_expectancy_never_lowers_the_score(self, avg_r, gain):
        peers = {"P1": base_group(avg_r=0.1), "P2": base_group(avg_r=-0.1)}
        lo = entry(scores({**peers, "X": base_group(avg_r=avg_r)}), "X")["score"]
        hi = entry(scores({**peers, "X": base_group(avg_r=avg_r + gain)}), "X")["score"]
        assert hi >= lo

    @given(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))
    def test_healthier_router_never_lowers_the_score(self, maker, fallback, step):
        peers = {"P1": base_group()}
        lo = base_group(maker_fill_rate=maker, fallback_rate=max(0.0, fallback))
        hi = base_group(
            maker_fill_rate=min(1.0, maker + step), fallback_rate=max(0.0, fallback - step)
        )
        s_lo = entry(scores({**peers, "X": lo}), "X")["score"]
        s_hi = entry(scores({**peers, "X": hi}), "X")["score"]
        assert s_hi >= s_lo


class TestRange:
    group_values = st.fixed_dictionaries(
        {},
        optional={
            "trades": st.integers(0, 10_000),
            "wins": st.integers(0, 10_000),
            "avg_r": st.none() | st.floats(-1e6, 1e6),
            "r_trades": st.integers(0, 10_000),
            "r_std": st.none() | st.floats(0, 1e6),
            "avg_r_recent": st.none() | st.floats(-1e12, 1e12),
            "r_std_recent": st.none() | st.floats(0, 1e6),
            "r_recent_trades": st.none() | st.floats(0, 1e4),
            "orders": st.integers(0, 10_000),
            "rejects": st.integers(0, 10_000),
            "fills": st.integers(0, 10_000),
            "maker_fill_rate": st.none() | st.floats(0, 1),
            "fallback_rate": st.none() | st.floats(0, 1),
            "reject_rate": st.none() | st.floats(0, 1),
            "avg_slippage_bps": st.none() | st.floats(-1e4, 1e4),
            "notional_usd": st.none() | st.floats(0, 1e12),
        },
    ).map(
        lambda g: {
            **g,
            "wins": min(g.get("wins", 0), g.get("trades", 0)),
            "rejects": min(g.get("rejects", 0), g.get("orders", 0)),
        }
    )

    @CAPPED
    @given(
        st.dictionaries(st.sampled_from(["A", "B", "C", "D", "E", "F"]), group_values, max_size=6)
    )
    def test_every_score_and_component_lies_in_range(self, groups):
        out = scores(groups)
        SCHEMA.validate(out)
        assert_no_sentinels(out)
        for e in out["symbols"]:
            assert -1.0 <= e["score"] <= 1.0
            assert all(-1.0 <= v <= 1.0 for v in e["components"].values())
            assert 0.0 <= e["confidence"] <= 1.0
            for name in e["missing"]:
                assert e["components"][name] == 0.0
            parts = e["contributions"]
            assert math.fsum(parts.values()) == pytest.approx(e["score"], abs=1e-12)


class TestCrossSectional:
    def test_liquidity_is_log_notional_against_the_median(self):
        """At the median: 0; e² times the median: tanh(1); e⁻² times: −tanh(1)."""
        groups = {
            "LO": base_group(notional_usd=1e6 * math.exp(-2)),
            "MID": base_group(notional_usd=1e6),
            "HI": base_group(notional_usd=1e6 * math.exp(2)),
        }
        out = scores(groups)
        liq = {s: entry(out, s)["components"]["liquidity"] for s in groups}
        assert liq["MID"] == pytest.approx(0.0, abs=1e-12)
        assert liq["HI"] == pytest.approx(math.tanh(1)) and liq["LO"] == pytest.approx(
            -math.tanh(1)
        )

    def test_volatility_penalises_dispersion_above_the_median(self):
        groups = {"CALM": base_group(r_std=0.5), "MID": base_group(), "WILD": base_group(r_std=2.0)}
        out = scores(groups)
        vol = {s: entry(out, s)["components"]["volatility"] for s in groups}
        shrink = 40 / 60
        assert vol["MID"] == pytest.approx(0.0, abs=1e-12)
        assert vol["WILD"] == pytest.approx(-math.tanh(math.log(2)) * shrink)
        assert vol["CALM"] == pytest.approx(math.tanh(math.log(2)) * shrink)


class TestMissingInputs:
    def test_missing_components_take_no_weight(self):
        """The score is the weighted mean over the components present: a trades-only
        symbol is not capped by the router weights it has no figures for."""
        g = base_group(fills=0, maker_fill_rate=None, fallback_rate=None, reject_rate=None)
        g.update(avg_slippage_bps=None, notional_usd=0.0, orders=0, rejects=0)
        e = entry(scores({"AAA": g, "BBB": base_group(avg_r=-0.1)}), "AAA")
        present = [k for k in SCORE_COMPONENTS if k not in e["missing"]]
        w = {k: CFG.weights[k] for k in present}
        assert e["weights_used"] == pytest.approx({k: v / sum(w.values()) for k, v in w.items()})
        assert e["score"] == pytest.approx(
            sum(e["weights_used"][k] * e["components"][k] for k in present)
        )

    def test_trades_only_gives_neutral_router_components(self):
        g = base_group(fills=0, maker_fill_rate=None, fallback_rate=None, reject_rate=None)
        g.update(avg_slippage_bps=None, notional_usd=0.0, orders=0, rejects=0)
        e = entry(scores({"AAA": g}), "AAA")
        assert e["missing"] == ["slippage", "router_quality", "reject_rate", "liquidity"]
        assert all(e["components"][k] == 0.0 for k in e["missing"])
        assert e["components"]["expectancy"] > 0

    def test_an_empty_group_is_all_neutral(self):
        e = entry(scores({"AAA": {}}), "AAA")
        assert e["score"] == 0.0 and e["confidence"] == 0.0
        assert sorted(e["missing"]) == sorted(SCORE_COMPONENTS)

    def test_router_health_fills_in_when_the_window_has_no_fills(self):
        g = base_group(fills=0, maker_fill_rate=None, fallback_rate=None, avg_slippage_bps=None)
        health = {"symbols": {"AAA": {"fills": 50, "maker_fill_rate": 0.8, "fallback_rate": 0.1,
                                      "reject_rate": 0.0, "avg_slippage_bps": 1.0}}}  # fmt: skip
        e = entry(scores({"AAA": g}, health), "AAA")
        assert "router_quality" not in e["missing"] and e["components"]["router_quality"] > 0
        assert e["sources"] == {
            "slippage": "router_health.json",
            "router_quality": "router_health.json",
        }

    @pytest.mark.parametrize("health", [None, {}, {"symbols": []}, {"symbols": {"AAA": "x"}}, []])
    def test_malformed_router_health_is_ignored(self, health):
        g = base_group(fills=0, maker_fill_rate=None, fallback_rate=None, avg_slippage_bps=None)
        g.update(orders=0, rejects=0)
        e = entry(scores({"AAA": g}, health), "AAA")
        assert "router_quality" in e["missing"] and "sources" not in e

    def test_absent_window_scores_nothing(self):
        out = score_symbols(doc_of({"AAA": base_group()}, "7d"), config=CFG, generated_at=1.0)
        assert out["symbols"] == [] and out["top"] == []


class TestShrinkage:
    def test_fewer_trades_pull_toward_neutral(self):
        """Same per-trade figures, fewer trades: smaller components, lower confidence."""
        few = base_group(trades=5, wins=4, r_trades=5, avg_r=1.0)
        many = base_group(trades=200, wins=160, r_trades=200, avg_r=1.0)
        out = scores({"FEW": few, "MANY": many})
        f, m = entry(out, "FEW"), entry(out, "MANY")
        assert f["components"]["expectancy"] < m["components"]["expectancy"]
        assert f["components"]["hit_rate"] < m["components"]["hit_rate"]
        assert 0 < f["confidence"] < m["confidence"] < 1

    def test_a_lucky_streak_does_not_top_a_proven_edge(self):
        lucky = base_group(trades=3, wins=3, r_trades=3, avg_r=2.0)
        proven = base_group(trades=300, wins=180, r_trades=300, avg_r=0.4)
        assert scores({"LUCKY": lucky, "PROVEN": proven})["top"][0] == "PROVEN"


class TestDeterminism:
    def test_ties_break_by_symbol(self):
        out = scores({"ZED": base_group(), "ABC": base_group(), "MID": base_group()})
        assert [e["symbol"] for e in out["symbols"]] == ["ABC", "MID", "ZED"]
        assert [e["rank"] for e in out["symbols"]] == [1, 2, 3]

    def test_same_input_same_document_whatever_the_key_order(self):
        groups = {f"S{i}": base_group(avg_r=(i % 5) / 10, trades=10 + i) for i in range(12)}
        keys = list(groups)
        random.Random(3).shuffle(keys)
        shuffled = {k: copy.deepcopy(groups[k]) for k in keys}
        assert scores(groups) == scores(shuffled)

    def test_top_n_and_weights(self):
        cfg = ScoreConfig(window="all", top_n=2, weights={"expectancy": 3.0, "hit_rate": 1.0})
        out = scores({f"S{i}": base_group(avg_r=i / 10) for i in range(5)}, cfg=cfg)
        assert out["top"] == ["S4", "S3"]
        assert out["weights"]["expectancy"] == 0.75 and out["weights"]["slippage"] == 0.0
        e = out["symbols"][0]
        c = e["components"]
        assert e["score"] == pytest.approx(0.75 * c["expectancy"] + 0.25 * c["hit_rate"])

    def test_all_zero_weights_are_refused(self):
        with pytest.raises(ValueError, match="weights"):
            scores({"A": base_group()}, cfg=ScoreConfig(window="all", weights={"expectancy": 0}))


def test_sample_scores_validate():
    doc = expectancy_surfaces(load_lines(ROOT / "logs/samples/router_metrics.jsonl.gz"))
    out = score_symbols(doc, generated_at=1.0)
    SCHEMA.validate(out)
    assert len(out["symbols"]) == 20 and len(out["top"]) == 5


# --- ranking by true edge -------------------------------------------------------------


def _spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _simulated_market(seed: int, n: int = 20):
    """Symbols with known edges (mean R), uneven trade counts and position sizes."""
    rng = np.random.default_rng(seed)
    edges = rng.normal(0.0, 0.2, n)
    counts = np.exp(rng.uniform(math.log(5), math.log(150), n)).astype(int)
    risk = rng.choice([50.0, 100.0, 200.0, 400.0], n)
    events, k = [], 0
    for i in range(n):
        for r in rng.normal(edges[i], 1.0, counts[i]):
            k += 1
            events.append({"event": "trade", "ts": 1e9 + k, "symbol": f"S{i:02d}",
                           "trade_id": str(k), "pnl_usd": float(r * risk[i]),
                           "risk_usd": float(risk[i])})  # fmt: skip
    rng.shuffle(events)
    return edges, events


@pytest.mark.parametrize("window", ["all", "50t"])
def test_score_ranks_true_edge_better_than_summed_profit(window):
    """Over 40 simulated markets, the score's rank correlation with the true edges
    beats that of summed profit over the same lookback, on average and in most."""
    base = load_intel_config(CONFIG_DIR / "intel_v6.json").score
    cfg = msgspec.structs.replace(base, window=window)
    by_score, by_profit = [], []
    for seed in range(40):
        edges, events = _simulated_market(seed)
        doc = expectancy_surfaces(events, windows=[window], generated_at=0.0)
        out = score_symbols(doc, config=cfg, generated_at=0.0)
        symbols = [f"S{i:02d}" for i in range(len(edges))]
        score = {e["symbol"]: e["score"] for e in out["symbols"]}
        pnl = [doc["windows"][window]["symbols"][s]["pnl_usd"] for s in symbols]
        by_score.append(_spearman(edges, [score[s] for s in symbols]))
        by_profit.append(_spearman(edges, pnl))
    wins = sum(s > p for s, p in zip(by_score, by_profit, strict=True))
    assert np.mean(by_score) >= np.mean(by_profit) + 0.02, (np.mean(by_score), np.mean(by_profit))
    assert wins >= 24, wins
