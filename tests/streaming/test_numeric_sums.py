"""Exact sums everywhere: every path that folds a sum (one event at a time, a block
with vectorised code, padded blocks side by side, split-and-merge, windows, the
engine's batches) agrees with ``math.fsum`` within 1e-9 relative, on magnitudes
chosen to break plain float summation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from execution.intel.expectancy_v6 import ExpectancyEngine, expectancy_surfaces
from execution.intel.stats import TradeStats
from streaming.stats import CompensatedSum, Drawdown, MeanVar
from streaming.stats.sums import block_sum, padded_sums
from streaming.windows import LastN, TimeWindow
from tests.intel.builders import line, order, trade

MAGNITUDES = (
    1e15, -1e15, 1e12, -1e12, 1e300, -1e300, 1e308, -1e308, 5e-324, -5e-324, 1e-320,
    0.1, -0.1, 1.0, 3.0, 1e16, -1e16, 2.0**53, 1.0 - 2.0**-53, 0.0,
)  # fmt: skip
adversarial = st.sampled_from(MAGNITUDES) | st.floats(
    allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300
)


@st.composite
def cancelling(draw: st.DrawFn) -> list[float]:
    """Values that mostly cancel: big ones and their negations around small ones."""
    xs = draw(st.lists(adversarial, max_size=60))
    negated = [-x for x in draw(st.permutations(xs))] if draw(st.booleans()) else []
    mixed = xs + negated + draw(st.lists(st.sampled_from([0.1, 1e-3, 7.0]), max_size=30))
    return draw(st.permutations(mixed))


def close(got: float, xs: list[float], rel: float = 1e-9) -> bool:
    """``got`` within ``rel`` of the exact sum, or of the data's magnitude when the
    exact sum cancels to about nothing (the bound of a doubled-precision sum)."""
    want = math.fsum(xs)
    scale = math.fsum(abs(x) for x in xs)
    return abs(got - want) <= rel * abs(want) + 1e-20 * scale * max(len(xs), 1)


def finite_sums(xs: list[float]) -> bool:
    """No partial sum of any order can overflow (the decoder's bounds promise it)."""
    try:
        return math.fsum(abs(x) for x in xs) < 1e307
    except OverflowError:
        return False


def one_by_one(xs: list[float]) -> CompensatedSum:
    s = CompensatedSum()
    for x in xs:
        s.update(x)
    return s


@given(cancelling(), st.lists(st.integers(0, 200), max_size=6))
def test_every_fold_of_a_sum_agrees_with_fsum(xs, cuts):
    assume(finite_sums(xs))
    arr = np.asarray(xs, dtype=np.float64)
    per_event = one_by_one(xs).result
    block = CompensatedSum.of_block(arr).result
    hi, lo = block_sum(arr)
    bounds = [0, *sorted(c % (len(xs) + 1) for c in cuts), len(xs)]
    merged = CompensatedSum()
    for a, b in itertools.pairwise(bounds):
        part = one_by_one(xs[a:b]) if a % 2 else CompensatedSum.of_block(arr[a:b])
        merged.merge(part)
    # a padded row (the block padded with zeros beside another row)
    rows = np.zeros((2, len(xs) + 3))
    rows[0, : len(xs)] = arr
    rows[1, :2] = [1.0, 2.0]
    his, los = padded_sums(rows)
    padded = CompensatedSum.of_padded(rows)[0].result
    for got in (per_event, block, hi + lo, merged.result, float(his[0] + los[0]), padded):
        assert close(got, xs), (got, math.fsum(xs))


@pytest.mark.filterwarnings(
    "ignore:overflow:RuntimeWarning"
)  # m2 of 1e300s; the mean is the subject
@given(cancelling(), st.integers(0, 100))
def test_mean_and_drawdown_totals_are_exact_sums(xs, cut):
    assume(finite_sums(xs) and xs)
    arr = np.asarray(xs)
    cut %= len(xs) + 1
    mv, dd = MeanVar(), Drawdown()
    for x in xs:
        mv.update(x)
        dd.update(x)
    split_mv = MeanVar.of_block(arr[:cut]) + MeanVar.of_block(arr[cut:])
    split_dd = Drawdown.of_block(arr[:cut]) + Drawdown.of_block(arr[cut:])
    n = len(xs)
    for m in (mv, MeanVar.of_block(arr), split_mv):
        got = m.result.mean
        assert got is not None and close(got * n, xs), (got, math.fsum(xs) / n)
    for d in (dd, Drawdown.of_block(arr), split_dd):
        assert close(d.result.total, xs)


def test_cancellation_reproduction_in_every_path():
    """pnl 1e12, -1e12, then 298 × 0.1: pnl_usd is 29.8 one event at a time, in a
    block, in a window, and in the batch oracle (it was 29.7996 in blocks)."""
    pnls = [1e12, -1e12, *[0.1] * 298]
    events = [line(trade(p, 100.0)) for p in pnls]
    want = math.fsum(pnls)
    assert want == pytest.approx(29.8, rel=1e-15)
    windows = ("all", "1000t", "3650d")
    docs = [expectancy_surfaces(events, windows=windows, generated_at=0.0)]
    for feed_many in (False, True):
        engine = ExpectancyEngine(windows)
        if feed_many:
            engine.feed_many(events)
        else:
            for e in events:
                engine.feed(e)
        docs.append(engine.document(generated_at=0.0))
    for doc in docs:
        for w in windows:
            g = doc["windows"][w]["symbols"]["BTCUSDT"]
            assert g["pnl_usd"] == pytest.approx(want, rel=1e-12), (w, g["pnl_usd"])
            assert g["avg_r"] == pytest.approx(want / 100 / 300, rel=1e-12), (w, g["avg_r"])
            assert g["expectancy_per_risk"] == pytest.approx(want / 30_000, rel=1e-12)


def test_order_sums_cancel_exactly_in_blocks():
    notionals = [1e15, 1.0, 1e15, *[0.01] * 500]
    events = [line(order(notional=x, slippage=1.0)) for x in notionals]
    engine = ExpectancyEngine(("all", "7d"))
    engine.feed_many(events)
    doc = engine.document(generated_at=0.0)
    for w in ("all", "7d"):
        got = doc["windows"][w]["symbols"]["BTCUSDT"]["notional_usd"]
        assert got == math.fsum(notionals), w


@given(cancelling(), st.integers(1, 40), st.integers(1, 64))
def test_windows_keep_exact_sums(xs, n, chunk):
    """Last-N and time windows (eviction, chunk folds, running aggregates) read the
    exact sum of what they hold."""
    assume(finite_sums(xs))
    last = LastN(n, CompensatedSum)
    tw = TimeWindow(10.0, CompensatedSum, chunk=chunk)
    for i, x in enumerate(xs):
        last.update(x)
        tw.update((float(i), x))
    assert close(last.result, xs[-n:])
    assert close(tw.result(), xs[max(0, len(xs) - 10) :])


@given(st.lists(st.tuples(adversarial, st.sampled_from([None, 1.0, 100.0])), max_size=80))
def test_trade_stats_block_fold_equals_event_by_event(rows):
    assume(finite_sums([p for p, _ in rows]))
    items = [(p, None if risk is None else p / risk, risk) for p, risk in rows]
    assume(all(r is None or math.isfinite(r) for _, r, _ in items))
    assume(finite_sums([r for _, r, _ in items if r is not None]))
    one = TradeStats(0.05)
    for it in items:
        one.update(it)
    block = TradeStats(0.05)
    block.extend_rows(np.asarray(items, dtype=np.float64).reshape(-1, 3))
    pnls = [p for p, _, _ in items]
    for s in (one.result, block.result):
        assert close(s.pnl_usd, pnls)
        assert close(s.gross_profit_usd, [p for p in pnls if p > 0])
        assert close(s.sum_r, [r for _, r, _ in items if r is not None])
