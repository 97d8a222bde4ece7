"""Accumulator laws, for every accumulator: agreement with a plain reference, the merge
law for every split point and any number of parts, identity, associativity, an exact
state round trip through JSON, and numerical sanity on near-equal and constant data.

Float tolerance: 1e-9 relative to the magnitude of the data (for a variance, its
square), the best any float algorithm can promise for arbitrary inputs.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from streaming.stats import CompensatedSum, Count, Drawdown, HitCounter, MeanVar, Streak

REL = 1e-9
finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def close(a: float | None, b: float | None, scale: float = 1.0) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= REL * max(abs(a), abs(b), scale, 1e-300)


def fold(factory: Callable[[], Any], xs: list[Any]) -> Any:
    acc = factory()
    for x in xs:
        acc.update(x)
    return acc


def ref_drawdown(xs: list[float]) -> tuple[float, float, float, float]:
    path = np.concatenate([[0.0], np.cumsum(np.asarray(xs, dtype=float))])
    peaks = np.maximum.accumulate(path)
    return float(path[-1]), float(path.max()), float(path.min()), float((peaks - path).max())


def ref_longest_run(xs: list[bool]) -> int:
    return max((len(list(g)) for k, g in itertools.groupby(xs) if k), default=0)


@dataclass(frozen=True)
class Spec:
    name: str
    factory: Callable[[], Any]
    elements: st.SearchStrategy[Any]
    agrees: Callable[[Any, list[Any]], bool]  # (accumulator, inputs) -> matches reference


def _meanvar_agrees(acc: MeanVar, xs: list[float]) -> bool:
    r = acc.result
    scale = max((abs(x) for x in xs), default=0.0)
    if not xs:
        return r.n == 0 and r.mean is None and r.variance is None
    arr = np.asarray(xs)
    ok = r.n == len(xs) and close(r.mean, statistics.fmean(xs), scale)
    ok &= close(r.variance_population, float(np.var(arr)), scale * scale)
    if len(xs) > 1:
        ok &= close(r.variance, float(np.var(arr, ddof=1)), scale * scale)
    return ok and (r.variance_population or 0.0) >= 0.0


def _drawdown_agrees(acc: Drawdown, xs: list[float]) -> bool:
    scale = sum(abs(x) for x in xs)
    got = acc.result
    want = ref_drawdown(xs)
    return all(
        close(g, w, scale)
        for g, w in zip((got.total, got.peak, got.trough, got.max_drawdown), want, strict=True)
    )


SPECS = [
    Spec("count", Count, st.none(), lambda a, xs: a.result == len(xs)),
    Spec(
        "hits",
        HitCounter,
        st.booleans(),
        lambda a, xs: a.n == len(xs) and a.result == (sum(xs) / len(xs) if xs else None),
    ),
    Spec(
        "sum",
        CompensatedSum,
        finite,
        lambda a, xs: close(a.result, math.fsum(xs), sum(abs(x) for x in xs) * 1e-7),
    ),
    Spec("meanvar", MeanVar, finite, _meanvar_agrees),
    Spec("drawdown", Drawdown, finite, _drawdown_agrees),
    Spec("streak", Streak, st.booleans(), lambda a, xs: a.result == ref_longest_run(xs)),
]
ids = [s.name for s in SPECS]


@st.composite
def spec_and_data(draw: st.DrawFn) -> tuple[Spec, list[Any]]:
    spec = draw(st.sampled_from(SPECS))
    return spec, draw(st.lists(spec.elements, max_size=60))


@given(spec_and_data())
def test_agrees_with_reference(case):
    """Streaming one event at a time gives the plain batch answer."""
    spec, xs = case
    assert spec.agrees(fold(spec.factory, xs), xs)


@given(spec_and_data(), st.data())
def test_merge_law_any_parts(case, data):
    """Folding any split into parts and merging in order equals one fold over everything."""
    spec, xs = case
    cuts = sorted(data.draw(st.lists(st.integers(0, len(xs)), max_size=5)))
    bounds = [0, *cuts, len(xs)]
    merged = spec.factory()
    for lo, hi in itertools.pairwise(bounds):
        merged.merge(fold(spec.factory, xs[lo:hi]))
    assert spec.agrees(merged, xs)


@given(spec_and_data())
def test_every_split_point(case):
    """fold(xs[:k]) + fold(xs[k:]) agrees with the reference for every k."""
    spec, xs = case
    for k in range(len(xs) + 1):
        assert spec.agrees(fold(spec.factory, xs[:k]) + fold(spec.factory, xs[k:]), xs)


@given(spec_and_data())
def test_empty_is_the_identity(case):
    spec, xs = case
    a = fold(spec.factory, xs)
    assert spec.factory() + a == a
    assert a + spec.factory() == a


@given(spec_and_data(), st.integers(0, 60), st.integers(0, 60))
def test_associative(case, i, j):
    spec, xs = case
    i, j = sorted((min(i, len(xs)), min(j, len(xs))))
    a, b, c = (fold(spec.factory, part) for part in (xs[:i], xs[i:j], xs[j:]))
    assert spec.agrees((a + b) + c, xs)
    assert spec.agrees(a + (b + c), xs)


@given(spec_and_data())
def test_state_round_trips_exactly_through_json(case):
    spec, xs = case
    a = fold(spec.factory, xs)
    b = type(a).from_state(json.loads(json.dumps(a.to_state())))
    assert b == a
    assert b.to_state() == a.to_state()
    # and the restored one keeps going identically
    for x in xs[:5]:
        a.update(x)
        b.update(x)
    assert a == b


@given(
    st.floats(-1e9, 1e9, allow_nan=False), st.lists(st.floats(-1e-3, 1e-3), min_size=2, max_size=80)
)
def test_meanvar_near_equal_values(base, deltas):
    """Large offset, tiny spread: Welford matches a two-pass computation."""
    xs = [base + d for d in deltas]
    assume(len(set(xs)) > 1)
    acc = fold(MeanVar, xs)
    two_pass = float(np.var(np.asarray(xs), ddof=1))
    spread = max(xs) - min(xs)
    assert acc.result.variance is not None
    assert (
        abs(acc.result.variance - two_pass) <= 1e-6 * spread * spread + 1e-12 * abs(base) * spread
    )
    assert acc.result.variance >= 0.0


@given(st.floats(-1e12, 1e12, allow_nan=False), st.integers(1, 200), st.integers(0, 200))
def test_meanvar_constant_stream_has_zero_variance(value, n, split):
    acc = fold(MeanVar, [value] * n)
    merged = fold(MeanVar, [value] * min(split, n)) + fold(MeanVar, [value] * (n - min(split, n)))
    for a in (acc, merged):
        assert a.result.variance_population == 0.0
        assert a.result.mean == math.fsum([value] * n) / n  # the exact sum over n


def test_hit_rate_is_undefined_before_any_event():
    """A trivial implementation returning 0.0 for no events would fail here."""
    assert HitCounter().result is None
    assert MeanVar().result.mean is None


def test_compensated_sum_beats_naive_summation():
    xs = [1e16, 1.0, -1e16] * 100
    assert fold(CompensatedSum, xs).result == 100.0
    assert sum(xs) != 100.0


def test_drawdown_of_a_rising_path_is_zero():
    assert fold(Drawdown, [1.0, 2.0, 0.0, 3.0]).result.max_drawdown == 0.0


def test_drawdown_counts_a_fall_from_the_starting_zero():
    assert fold(Drawdown, [-1.0, -2.0, 0.5]).result.max_drawdown == 3.0


def test_accumulators_are_unhashable():
    with pytest.raises(TypeError):
        hash(Count())


@given(st.lists(st.lists(st.one_of(st.none(), finite), max_size=30), min_size=1, max_size=6))
def test_padded_blocks_fold_like_each_block_alone(blocks):
    """``of_padded`` (blocks side by side, padded; None masked out) gives each
    block's own fold: the reference for sums, moments and drawdowns, exactly the
    per-event fold for streaks."""
    width = max(len(b) for b in blocks)
    xs = np.zeros((len(blocks), width))
    known = np.zeros((len(blocks), width), dtype=bool)
    for i, b in enumerate(blocks):
        for j, x in enumerate(b):
            if x is not None:
                xs[i, j], known[i, j] = x, True
    lengths = np.array([len(b) for b in blocks], dtype=np.intp)
    sums = CompensatedSum.of_padded(xs)
    moments = MeanVar.of_padded(xs, known)
    drawdowns = Drawdown.of_padded(np.where(known, xs, 0.0))
    streaks = Streak.of_padded(xs < 0, lengths)
    for i, b in enumerate(blocks):
        vals = [x for x in b if x is not None]
        scale = sum(abs(x) for x in vals)
        assert close(sums[i].result, math.fsum(vals), scale * 1e-7)
        assert _meanvar_agrees(moments[i], vals)
        assert _drawdown_agrees(drawdowns[i], vals)
        flags = [x is not None and x < 0 for x in b]
        assert streaks[i].to_state() == fold(Streak, flags).to_state()
