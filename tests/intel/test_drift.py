"""Change detection (execution.intel.drift): the Page–Hinkley test on plain lists,
the engine's kept rows equal to each symbol's last N trades however the events
arrive (blocks, one at a time, parts merged, a checkpoint), and the drift flag in
the scores document."""

from __future__ import annotations

import itertools
import json
import math

import msgspec
import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from execution.config import ScoreConfig
from execution.intel.drift import DriftPolicy, drifts, page_hinkley, split
from execution.intel.engine import ExpectancyEngine
from execution.intel.events import Trade, make_decoder, to_event
from execution.intel.symbol_score_v6 import drift_of, score_symbols
from tests.intel.builders import trades_r, validator

POLICY = DriftPolicy(threshold_r=10.0)


def ts(n: int) -> np.ndarray:
    return np.arange(float(n))


class TestPageHinkley:
    @pytest.mark.parametrize(("before", "after", "direction"), [(0.5, -0.5, "down"),
                                                                 (-0.4, 0.6, "up")])  # fmt: skip
    def test_a_clear_shift_is_found_where_it_happened(self, before, after, direction):
        rng = np.random.default_rng(1)
        r = np.r_[rng.normal(before, 0.3, 80), rng.normal(after, 0.3, 60)]
        d = page_hinkley(ts(140), r, POLICY)
        assert d is not None and d.direction == direction
        assert 75 <= d.changed_at <= 90 and d.detected_at_ts >= 80
        assert d.trades_since == 140 - d.changed_at
        assert d.mean_r_since == pytest.approx(np.mean(r[d.changed_at :]))

    @pytest.mark.parametrize(("pre", "post", "before", "after", "sd"),
                             [(30, 20, 0.5, -1.0, 0.5), (20, 30, 0.5, -1.0, 0.5),
                              (25, 25, 0.3, -0.9, 1.0)])  # fmt: skip
    def test_the_change_point_is_not_biased_early(self, pre, post, before, after, sd):
        """Over 100 records of a 50-trade window with one shift, trades_since is
        centred on the truth (the extreme of the running-mean sum put it 6–12
        trades early) and mean_r_since on the new edge."""
        since, means = [], []
        for seed in range(100):
            rng = np.random.default_rng(seed)
            r = np.r_[rng.normal(before, sd, pre), rng.normal(after, sd, post)]
            d = page_hinkley(ts(pre + post), r, DriftPolicy())
            if d is not None:
                since.append(d.trades_since)
                means.append(d.mean_r_since)
        assert len(since) >= 50
        assert abs(np.median(since) - post) <= 1
        assert abs(np.median(means) - after) <= 0.15

    @pytest.mark.parametrize("direction", ["up", "down"])
    def test_split_agrees_with_a_brute_force_least_squares_split(self, direction):
        rng = np.random.default_rng(4)
        for _ in range(20):
            x = rng.normal(0, 1, int(rng.integers(2, 30))).tolist()
            sign = 1 if direction == "up" else -1

            def fit(k, x=x, sign=sign):
                a, b = np.mean(x[:k]), np.mean(x[k:])
                return k * (len(x) - k) / len(x) * (b - a) * abs(b - a) * sign

            want = max(range(1, len(x)), key=lambda k: (fit(k), -k))
            assert split(x, 0, len(x), direction) == want

    def test_a_steady_record_raises_no_alarm(self):
        rng = np.random.default_rng(2)
        assert page_hinkley(ts(200), rng.normal(0.2, 0.5, 200), POLICY) is None
        assert page_hinkley(ts(50), np.full(50, 0.3), POLICY) is None
        assert page_hinkley(ts(0), np.zeros(0), POLICY) is None

    def test_one_huge_trade_cannot_raise_an_alarm(self):
        """R is winsorised before the test: a 1e12 R trade counts as clip_r."""
        r = np.r_[np.zeros(40), [1e12], np.zeros(40)]
        assert page_hinkley(ts(81), r, POLICY) is None

    def test_the_last_change_is_reported(self):
        r = np.r_[np.full(60, 0.5), np.full(60, -0.5), np.full(60, 0.5)]
        d = page_hinkley(ts(180), r, POLICY)
        assert d is not None and d.direction == "up" and d.changed_at >= 115


def _trade(i: int, symbol: str, r: float) -> Trade:
    e = to_event({"event": "trade", "ts": 1e9 + i, "symbol": symbol, "trade_id": f"t{i}",
                  "pnl_usd": r * 10.0, "risk_usd": 10.0}, make_decoder(None).decode)  # fmt: skip
    assert isinstance(e, Trade)
    return e


trade_lists = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.floats(-50, 50, allow_nan=False)),
    max_size=60,
)


@settings(max_examples=min(settings.default.max_examples, 40), deadline=None)
@given(trade_lists, st.integers(1, 12), st.lists(st.integers(0, 60), max_size=4))
def test_kept_rows_are_each_symbols_last_n_trades(rows, n, cuts):
    """Blocks, single events, merged parts and a checkpoint keep the same rows: each
    symbol's last n trades in order (streaming == batch for the drift test)."""
    trades = [_trade(i, s, r) for i, (s, r) in enumerate(rows)]
    spec = f"{n}t"
    want = {}
    for s in sorted({t.symbol for t in trades}):
        mine = [t for t in trades if t.symbol == s][-n:]
        want[s] = ([t.ts for t in mine], [t.r for t in mine])

    blocks = ExpectancyEngine(["all", spec])
    bounds = [0, *sorted(min(c, len(trades)) for c in cuts), len(trades)]
    for lo, hi in itertools.pairwise(bounds):
        blocks.apply_many(trades[lo:hi])
    steps = ExpectancyEngine(["all", spec])
    for t in trades:
        steps.apply(t)
    half = len(trades) // 2
    first, second = ExpectancyEngine(["all", spec]), ExpectancyEngine(["all", spec])
    first.apply_many(trades[:half])
    second.apply_many(trades[half:])
    first.merge(second)
    restored = ExpectancyEngine(["all", spec])
    restored.restore(json.loads(json.dumps(blocks.to_state())))
    for engine in (blocks, steps, first, restored):
        held = engine.held_trades(spec)
        assert held is not None
        got = {s: (ts_.tolist(), r.tolist()) for s, (ts_, r) in held.items()}
        assert got == want
    assert blocks.held_trades("all") is None  # not a last-N window


def test_the_scores_document_carries_the_drift_flag():
    rng = np.random.default_rng(5)
    events = trades_r(rng.normal(0.6, 0.3, 120).tolist(), symbol="TURN")
    events += trades_r(rng.normal(-0.6, 0.3, 80).tolist(), symbol="TURN")
    for i in range(5):
        events += trades_r(rng.normal(0.1 * i, 0.5, 150).tolist(), symbol=f"S{i}")
    cfg = ScoreConfig(drift_window="200t", drift_threshold_r=20.0)
    engine = ExpectancyEngine(["all", "200t"])
    decode = engine.decoder.decode
    engine.apply_many([to_event(e, decode) for e in events])
    doc = engine.document(generated_at=0.0)
    drift = drift_of(engine, cfg)
    out = score_symbols(doc, config=cfg, generated_at=0.0, drift=drift)
    validator("symbol_scores_v6.schema.json").validate(out)
    turn = next(e for e in out["symbols"] if e["symbol"] == "TURN")
    assert turn["drift"]["direction"] == "down" and out["drift_window"] == "200t"
    assert turn["edge"]["figure"] == "avg_r_recent"  # no discount by default
    assert all(e["drift"] is None for e in out["symbols"] if e["symbol"] != "TURN")
    cut = msgspec.structs.replace(cfg, drift_discount=True)
    discounted = score_symbols(doc, config=cut, generated_at=0.0, drift=drift)
    t2 = next(e for e in discounted["symbols"] if e["symbol"] == "TURN")
    assert t2["edge"]["figure"] == "since_drift"
    assert t2["edge"]["mean_r"] < 0 and t2["score"] < turn["score"]
    assert math.isclose(t2["edge"]["n_eff"], turn["drift"]["trades_since"])
    no_test = score_symbols(doc, config=cfg, generated_at=0.0)
    assert no_test["drift_window"] is None and all(e["drift"] is None for e in no_test["symbols"])


ROWS = st.lists(
    st.one_of(
        st.floats(-4.0, 4.0, allow_nan=False),
        st.sampled_from([-3.0, 0.0, 0.05, 3.0]),  # clip edges, δ itself, exact ties
    ),
    max_size=70,
)


@settings(max_examples=min(settings.default.max_examples, 200))
@given(
    st.dictionaries(
        st.sampled_from("ABCDEFG"), st.tuples(ROWS, st.floats(-3.0, 3.0)), max_size=7
    ),
    st.integers(0, 12),
    st.sampled_from([0.0, 0.05, 0.5]),
    st.sampled_from([0.5, 2.0, 5.0, 20.0]),
)
def test_the_test_over_all_symbols_at_once_is_each_symbols_test(rows, min_trades, delta, lam):
    """``drifts`` (candidates found for all symbols at once, the exact test run on
    them) equals the test run on every symbol, alarms and their absence alike: rows
    with a shift (a level added to the second half), flat rows, short rows, values
    at the clip and at δ."""
    policy = DriftPolicy(delta_r=delta, threshold_r=lam, min_trades=min_trades)
    held = {}
    for sym, (xs, level) in rows.items():
        r = np.asarray(xs, dtype=np.float64)
        r[len(r) // 2 :] += level
        held[sym] = (np.arange(float(len(r))), r)
    want = {sym: page_hinkley(ts, r, policy) for sym, (ts, r) in held.items()}
    assert drifts(held, policy) == want
    event("alarms" if any(want.values()) else "no alarm")
