"""Exact sums everywhere: the compensated primitives (``streaming.sums``) and every
path that folds a sum through them (a block, the padded rows of many groups, parts
merged, one event at a time, the windows, the trade fold, the engine) agree with
``math.fsum`` on magnitudes chosen to break plain float summation.

The bound is the one ``streaming.sums`` states: ε·|Σx| + n²ε²·Σ|x| (ε = 2⁻⁵³),
checked as 1e-9·|Σx| + 1e-20·n·Σ|x| (``close``). Plain summation misses it by many
orders of magnitude on these inputs. Values are bounded at |x| ≤ 1e15, the bound
the decoder puts on every summed value (``docs/numerics.md``), but for ±2⁵³ (where
consecutive integers part) in the primitives and kernels, which no bound concerns.
"""

from __future__ import annotations

import itertools
import math
import statistics
from fractions import Fraction

import msgspec
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from execution.intel.events import Event
from execution.intel.expectancy_v6 import ExpectancyEngine, expectancy_surfaces
from execution.intel.folds import trade_columns, trade_fold
from streaming.block import Block
from streaming.fold import Segments, empty, grow, merge_into, step
from streaming.kernels import Mean, Moments, Sum
from streaming.ordered_kernels import Path
from streaming.sums import block_sum, padded_sums, prefix_sums, two_sum
from streaming.time_window import TimeWindow
from streaming.windows import AllTime, LastN
from tests.capped import CAPPED
from tests.intel.builders import line, order, trade
from tests.intel.oracle import expectancy_surfaces as oracle_surfaces

MAX = 1e15  # the decoder's bound on a summed value
MAGNITUDES = (
    1e15, -1e15, 1e12, -1e12, 5e-324, -5e-324, 1e-320, 0.1, -0.1, 1.0, 3.0,
    2.0**49 + 0.125, -(2.0**49), 1.0 - 2.0**-53, 1e15 - 0.125, 0.0, -0.0,
    2.0**53, -(2.0**53), 2.0**53 + 2,  # beyond the decoder's bound: kernels only
)  # fmt: skip
adversarial = st.sampled_from(MAGNITUDES) | st.floats(
    -MAX, MAX, allow_nan=False, allow_infinity=False
)


@st.composite
def cancelling(draw: st.DrawFn, most: int = 30) -> list[float]:
    """Values that mostly cancel: big ones and their negations around small ones."""
    xs = draw(st.lists(adversarial, max_size=most))
    negated = [-x for x in draw(st.permutations(xs))] if draw(st.booleans()) else []
    mixed = xs + negated + draw(st.lists(st.sampled_from([0.1, 1e-3, 7.0]), max_size=most))
    return draw(st.permutations(mixed))


def close(got: float, xs: list[float], rel: float = 1e-9) -> bool:
    """``got`` within ``rel`` of the exact sum, plus the doubled-precision slack
    n²ε²·Σ|x| (with room) where the exact sum cancels to about nothing."""
    want = math.fsum(xs)
    scale = math.fsum(abs(x) for x in xs)
    return abs(got - want) <= rel * abs(want) + 1e-20 * scale * max(len(xs), 1)


def close_mean(got: float, xs: list[float], rel: float = 1e-9) -> bool:
    """``got`` within ``rel`` of the exact sum over n, plus the sum's slack over n,
    plus the one rounding of the quotient (an ulp of 0 where it underflows)."""
    want = math.fsum(xs) / len(xs)
    scale = math.fsum(abs(x) for x in xs)
    return abs(got - want) <= rel * abs(want) + 1e-20 * scale + math.ulp(0.0)


@st.composite
def groups(draw: st.DrawFn) -> tuple[list[int], list[list[float]]]:
    """Each group's cancelling values and the arrival order of the groups' events
    (a code per event: the next value of that group)."""
    values = draw(st.lists(cancelling(), min_size=1, max_size=3))
    codes = draw(st.permutations([g for g, xs in enumerate(values) for _ in xs]))
    return codes, values


def arrival(codes: list[int], values: list[list[float]]) -> list[float]:
    nexts = [iter(v) for v in values]
    return [next(nexts[c]) for c in codes]


def grouped_table(fold, codes, xs, n):
    """One fold_block of a block, as a table of ``n`` rows."""
    seg = Segments(np.array(codes, dtype=np.int64))
    part = fold.fold_block({"x": np.array(xs, dtype=np.float64)}, seg)
    return merge_into(fold, empty(fold, n), seg.groups, part)


# --- the primitives -----------------------------------------------------------------------


@CAPPED
@given(adversarial, adversarial, st.lists(st.tuples(adversarial, adversarial), max_size=20))
def test_two_sum_is_error_free(a, b, pairs):
    """s = fl(a + b) and s + e = a + b exactly, for floats and element by element."""
    s, e = two_sum(a, b)
    assert s == a + b and Fraction(s) + Fraction(e) == Fraction(a) + Fraction(b)
    xs = np.array([p for p, _ in pairs], dtype=np.float64)
    ys = np.array([q for _, q in pairs], dtype=np.float64)
    ss, es = two_sum(xs, ys)
    for x, y, s, e in zip(xs.tolist(), ys.tolist(), ss.tolist(), es.tolist(), strict=True):
        assert s == x + y and Fraction(s) + Fraction(e) == Fraction(x) + Fraction(y)


@CAPPED
@given(cancelling(), st.lists(cancelling(most=8), max_size=3), st.integers(0, 3))
def test_block_and_padded_sums_agree_with_fsum(xs, others, pad):
    """block_sum of a block, and padded_sums of it as a row beside other rows padded
    with zeros, give the exact sum; a padded row's high part is its rounded sum."""
    hi, lo = block_sum(np.array(xs, dtype=np.float64))
    assert close(hi + lo, xs), (hi + lo, math.fsum(xs))
    rows = [xs, *others]
    width = max(map(len, rows)) + pad
    block = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        block[i, : len(r)] = r
    his, los = padded_sums(block)
    for r, h, low in zip(rows, his.tolist(), los.tolist(), strict=True):
        assert close(h + low, r), (h + low, math.fsum(r))
        assert h == h + low  # renormalised
    zero_width = padded_sums(np.zeros((2, 0)))
    assert [v.tolist() for v in zero_width] == [[0.0, 0.0], [0.0, 0.0]]


@CAPPED
@given(cancelling(), st.integers(0, 3))
def test_prefix_sums_are_each_running_total(xs, pad):
    """Every point of prefix_sums is its prefix's exact sum (within the bound), and
    its (hi, lo) the whole row's, as a 1-D block and as a padded 2-D row."""
    arr = np.array(xs, dtype=np.float64)
    assume(len(xs) > 0)
    path, hi, lo = prefix_sums(arr)
    assert path.shape == arr.shape and hi.shape == lo.shape == (1,)
    for i, p in enumerate(path.tolist()):
        assert close(p, xs[: i + 1]), (i, p, math.fsum(xs[: i + 1]))
    assert close(float(hi[0] + lo[0]), xs)
    rows = np.zeros((2, len(xs) + pad))
    rows[1, : len(xs)] = arr
    path2, hi2, lo2 = prefix_sums(rows)
    assert path2[0].tolist() == [0.0] * rows.shape[1]
    for i, p in enumerate(path2[1, : len(xs)].tolist()):
        assert close(p, xs[: i + 1])
    assert close(float(hi2[1, 0] + lo2[1, 0]), xs)


# --- the kernels ----------------------------------------------------------------------------


@CAPPED
@given(groups(), st.lists(st.integers(0, 10_000), max_size=4))
def test_kernel_sums_mean_and_path_total_agree_with_fsum(case, cuts):
    """Per group, Sum, Mean's and Moments' mean (over n) and Path's total are the exact sum:
    in one block, in parts merged (any cut points) and one event at a time."""
    codes, values = case
    xs = arrival(codes, values)
    n = len(values)
    bounds = [0, *sorted(c % (len(xs) + 1) for c in cuts), len(xs)]
    for fold, column in ((Sum(), "sum"), (Mean(), "mean"), (Moments(), "mean"), (Path(), "total")):
        whole = grouped_table(fold, codes, xs, n)
        merged = empty(fold, n)
        for lo, hi in itertools.pairwise(bounds):
            merged = fold.merge(merged, grouped_table(fold, codes[lo:hi], xs[lo:hi], n))
        one = empty(fold, n)
        for c, x in zip(codes, xs, strict=True):
            one = step(fold, one, c, {"x": np.array([x])})
        for table in (whole, merged, one):
            got = fold.read(table)[column].tolist()
            for g, mine in enumerate(values):
                if column == "mean":
                    if not mine:
                        assert math.isnan(got[g])
                        continue
                    assert close_mean(got[g], mine), (column, g, got[g])
                else:
                    assert close(got[g], mine), (column, g, got[g], math.fsum(mine))


@CAPPED
@given(
    st.floats(-MAX, MAX, allow_nan=False) | st.sampled_from(MAGNITUDES),
    st.integers(1, 200),
    st.integers(0, 200),
)
def test_a_constant_stream_has_zero_variance(value, n, cut):
    """A constant stream: variance exactly 0 and mean exactly fsum / n, in one block,
    in two parts merged and one event at a time."""
    m = Moments()
    xs = [value] * n
    cut = min(cut, n)
    whole = grouped_table(m, [0] * n, xs, 1)
    merged = m.merge(
        grouped_table(m, [0] * cut, xs[:cut], 1), grouped_table(m, [0] * (n - cut), xs[cut:], 1)
    )
    one = empty(m, 1)
    for x in xs:
        one = step(m, one, 0, {"x": np.array([x])})
    for table in (whole, merged, one):
        read = m.read(table)
        assert read["n"].tolist() == [n]
        assert read["mean"][0] == math.fsum(xs) / n
        if n > 1:
            assert read["var"][0] == 0.0


@CAPPED
@given(
    st.floats(-1e9, 1e9, allow_nan=False),
    st.lists(st.floats(-1e-3, 1e-3), min_size=2, max_size=80),
    st.integers(0, 80),
)
def test_near_equal_values_keep_their_variance(base, deltas, cut):
    """A large offset and a tiny spread: the variance (one block, or two parts
    merged) matches the exact one to the spread's scale, and is never negative."""
    xs = [base + d for d in deltas]
    assume(len(set(xs)) > 1)
    cut = min(cut, len(xs))
    m = Moments()
    z = [0] * len(xs)
    whole = grouped_table(m, z, xs, 1)
    merged = m.merge(grouped_table(m, z[:cut], xs[:cut], 1), grouped_table(m, z[cut:], xs[cut:], 1))
    want = statistics.variance(xs)
    spread = max(xs) - min(xs)
    for table in (whole, merged):
        got = float(m.read(table)["var"][0])
        assert got >= 0.0
        assert abs(got - want) <= 1e-6 * spread * spread + 1e-12 * abs(base) * spread


# --- the windows ----------------------------------------------------------------------------


@CAPPED
@given(groups(), st.integers(1, 40), st.integers(1, 7), st.floats(1.0, 200.0), st.data())
def test_windows_keep_exact_sums(case, n, chunk, span, data):
    """All-time, last-N and time windows (any blocks, small chunks) read the exact
    sum of each group's events in view."""
    codes, values = case
    xs = arrival(codes, values)
    ng = len(values)
    ts = [float(i) for i in range(len(xs))]  # one a second
    windows = [AllTime(Sum()), LastN(Sum(), n=n), TimeWindow(Sum(), span=span, chunk=chunk)]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(xs)), max_size=5), label="cuts"))
    for lo, hi in itertools.pairwise([0, *cuts, len(xs)]):
        c = np.array(codes[lo:hi], dtype=np.int64)
        block = Block(np.array(ts[lo:hi]), {"x": np.array(xs[lo:hi])}, c, Segments(c), ng)
        for w in windows:
            w.absorb(block)
    top = ts[-1] if ts else 0.0
    for w, keep in zip(
        windows,
        (lambda g: values[g], lambda g: values[g][-n:], None),
        strict=True,
    ):
        got = Sum().read(grow(Sum(), w.read(), ng))["sum"].tolist()  # rows: test_windows
        for g in range(ng):
            if keep is None:
                mine = [
                    x for x, c, t in zip(xs, codes, ts, strict=True) if c == g and t > top - span
                ]
            else:
                mine = keep(g)
            assert close(got[g], mine), (type(w).__name__, g, got[g], math.fsum(mine))


# --- the trade fold and the engine ---------------------------------------------------------

pnls = st.sampled_from([p for p in MAGNITUDES if p and abs(p) <= MAX]) | st.floats(
    -MAX, MAX, allow_nan=False
)


@CAPPED
@given(
    st.lists(st.tuples(pnls, st.sampled_from([None, 1e3, 1e5, 1e15])), max_size=60),
    st.integers(0, 60),
)
def test_trade_fold_sums_are_exact_in_blocks_parts_and_steps(rows, cut):
    """The trade fold's pnl, gross profit and loss, risked pnl and Σ R are exact sums
    whether the trades come as one block, two parts or one at a time."""
    trades = [msgspec.convert(trade(p, risk), Event) for p, risk in rows]
    fold = trade_fold(0.05)
    columns = trade_columns(trades)
    n = len(trades)
    cut = min(cut, n)

    def table(lo: int, hi: int):
        seg = Segments(np.zeros(hi - lo, dtype=np.int64))
        part = fold.fold_block({k: v[lo:hi] for k, v in columns.items()}, seg)
        return merge_into(fold, empty(fold, 1), seg.groups, part)

    one = empty(fold, 1)
    for i in range(n):
        one = step(fold, one, 0, {k: v[i : i + 1] for k, v in columns.items()})
    ps = [t.pnl_usd for t in trades]
    rs = [t.r for t in trades if t.r is not None]
    want = {
        "pnl.sum": ps,
        "profit.sum": [p for p in ps if p > 0],
        "loss.sum": [-p for p in ps if p < 0],
        "risk_pnl.sum": [t.pnl_usd for t in trades if t.risk_usd is not None],
        "dd.total": rs,
    }
    for t in (table(0, n), fold.merge(table(0, cut), table(cut, n)), one):
        read = fold.read(t)
        for column, xs in want.items():
            assert close(float(read[column][0]), xs), (column, read[column][0], math.fsum(xs))
        if rs:
            assert close_mean(float(read["r.mean"][0]), rs)


def test_the_cancellation_reproduction_on_every_path():
    """pnl 1e12, -1e12, then 298 × 0.1: pnl_usd is 29.8 one event at a time, in a
    block, in every window, and in the batch oracle (it was 29.7996 in blocks)."""
    pnls = [1e12, -1e12, *[0.1] * 298]
    events = [line(trade(p, 100.0)) for p in pnls]
    want = math.fsum(pnls)
    assert want == pytest.approx(29.8, rel=1e-15)
    windows = ("all", "1000t", "3650d")
    docs = [
        oracle_surfaces(events, windows=windows, generated_at=0.0),
        expectancy_surfaces(events, windows=windows, generated_at=0.0),
    ]
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
    """Notionals 1e15, 1, 1e15 and 500 × 0.01 sum exactly (to fsum's last bit)."""
    notionals = [1e15, 1.0, 1e15, *[0.01] * 500]
    events = [line(order(notional=x, slippage=1.0)) for x in notionals]
    engine = ExpectancyEngine(("all", "7d"))
    engine.feed_many(events)
    doc = engine.document(generated_at=0.0)
    for w in ("all", "7d"):
        got = doc["windows"][w]["symbols"]["BTCUSDT"]["notional_usd"]
        assert got == math.fsum(notionals), w
