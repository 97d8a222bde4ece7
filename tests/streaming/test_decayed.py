"""The exponentially weighted kernel (:class:`streaming.ordered_kernels.Decayed`) under the
grouped-fold laws: a plain reference per group, the ordered merge (an earlier part
decays by the later part's count), the empty row an identity, one event at a time
agreeing with the block, and an exact state round trip.

Its sums are plain (uncompensated) and meant for bounded inputs (a clipped R), so
the values here lie in [−10, 10] and a float result is held to within 1e-9 of
itself plus 1e-9 of the data's scale (max|x|, its square for the variance).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.fold import Table, empty, equal, from_state, grow, step, to_state
from streaming.ordered_kernels import Decayed
from tests.streaming.test_kernels import Events, cut_points, events, table_of

REL = 1e-9
# 50 examples per property, also under the CI profile: the whole module in a few seconds
CAPPED = settings(max_examples=min(settings.default.max_examples, 50))
bounded = st.floats(-10, 10, allow_nan=False) | st.sampled_from([0.0, -0.0, 1.0, -10.0, 10.0])
half_lives = st.sampled_from([0.5, 1.0, 3.0, 25.0, 1e6])


def reference(xs: list[float], half_life: float) -> dict[str, float]:
    """The weighted figures of one group's values, written out: the j-th last
    weighs 2^(−j / half_life)."""
    m = len(xs)
    if not m:
        return {"n": 0, "weight": 0.0, "mean": math.nan, "n_eff": 0.0, "var": math.nan}
    ws = [2.0 ** (-(m - 1 - j) / half_life) for j in range(m)]
    w, w2 = math.fsum(ws), math.fsum(x * x for x in ws)
    mean = math.fsum(wi * x for wi, x in zip(ws, xs, strict=True)) / w
    dev = math.fsum(wi * (x - mean) ** 2 for wi, x in zip(ws, xs, strict=True))
    var = dev * w / (w * w - w2) if m > 1 and w * w > w2 else math.nan
    return {"n": m, "weight": w, "mean": mean, "n_eff": w * w / w2, "var": var}


def assert_agrees(fold: Decayed, ev: Events, table: Table) -> None:
    got = fold.read(table)
    for g in range(ev.groups):
        xs, flags = ev.of(g)
        sel = [x for x, f in zip(xs, flags, strict=True) if f]
        want = reference(sel, fold.half_life)
        scale = max((abs(x) for x in sel), default=0.0)
        for column, w in want.items():
            value = got[column][g].item()
            if isinstance(w, int):
                assert value == w, (g, column)
            elif math.isnan(w):
                assert math.isnan(value), (g, column, value)
            else:
                slack = scale * scale + scale if column == "var" else scale
                assert abs(value - w) <= REL * (abs(w) + slack) + 1e-300, (g, column, value, w)


def decayed(half_life: float) -> Decayed:
    return Decayed("xn", "w", half_life=half_life)


@CAPPED
@given(ev=events(bounded), half_life=half_lives)
def test_a_block_agrees_with_the_reference(ev, half_life):
    fold = decayed(half_life)
    assert_agrees(fold, ev, table_of(fold, ev))


@CAPPED
@given(ev=events(bounded), half_life=half_lives, data=st.data())
def test_parts_merged_in_order_agree_and_associate(ev, half_life, data):
    """Consecutive parts (any cuts) merged in order, in either association, agree
    with the reference; the counts are exact."""
    fold = decayed(half_life)
    bounds = cut_points(data, len(ev))
    parts = [table_of(fold, ev.part(lo, hi)) for lo, hi in itertools.pairwise(bounds)]
    left = empty(fold, ev.groups)
    for p in parts:
        left = fold.merge(left, p)
    right = empty(fold, ev.groups)
    for p in reversed(parts):
        right = fold.merge(p, right)
    whole = table_of(fold, ev)
    for t in (left, right):
        assert_agrees(fold, ev, t)
        assert np.array_equal(t["n"], whole["n"])


@CAPPED
@given(ev=events(bounded), half_life=half_lives)
def test_the_empty_row_is_the_identity(ev, half_life):
    fold = decayed(half_life)
    t = table_of(fold, ev)
    zero = empty(fold, ev.groups)
    assert equal(fold.merge(zero, t), t) and equal(fold.merge(t, zero), t)


@CAPPED
@given(ev=events(bounded, longest=12), half_life=half_lives)
def test_one_event_at_a_time_agrees_with_the_block(ev, half_life):
    fold = decayed(half_life)
    columns = ev.columns()
    t = empty(fold, ev.groups)
    for i, g in enumerate(ev.codes):
        t = step(fold, t, g, {k: v[i : i + 1] for k, v in columns.items()})
    assert_agrees(fold, ev, t)


@CAPPED
@given(ev=events(bounded), more=events(bounded, longest=8), half_life=half_lives)
def test_state_round_trips_exactly_through_json(ev, more, half_life):
    fold = decayed(half_life)
    t = table_of(fold, ev)
    back = from_state(fold, json.loads(json.dumps(to_state(fold, t), allow_nan=False)))
    assert equal(back, t)
    n = max(ev.groups, more.groups)
    a, b = grow(fold, t, n), grow(fold, back, n)
    columns = more.columns()
    for i, g in enumerate(more.codes):
        event = {k: v[i : i + 1] for k, v in columns.items()}
        a, b = step(fold, a, g, event), step(fold, b, g, event)
    assert equal(a, b)


def test_hand_computed_decay():
    """Half-life 1: weights 1/4, 1/2, 1; a later block of two decays the first by 1/4."""
    fold = Decayed(half_life=1.0)
    first = table_of(fold, Events((0, 0, 0), (8.0, 4.0, 2.0), (True,) * 3, 1))
    got = {k: float(v[0]) for k, v in fold.read(first).items()}
    assert got["weight"] == 1.75 and got["mean"] == pytest.approx((2 + 2 + 2) / 1.75)
    later = table_of(fold, Events((0, 0), (0.0, 0.0), (True, True), 1))
    merged = fold.merge(first, later)
    assert float(merged["w"][0]) == pytest.approx(1.75 / 4 + 1.5)
    assert float(fold.read(merged)["mean"][0]) == pytest.approx(1.5 / (1.75 / 4 + 1.5))


@given(st.floats(-10, 10), st.integers(1, 30), st.integers(0, 30), half_lives)
def test_a_constant_stream_has_no_spread_exactly(x, n, more, half_life):
    """Sums about the first value: a constant stream reads its value and variance 0
    exactly, in one block or two."""
    fold = Decayed(half_life=half_life)
    first = table_of(fold, Events((0,) * n, (x,) * n, (True,) * n, 1))
    rest = table_of(fold, Events((0,) * more, (x,) * more, (True,) * more, 1))
    got = fold.read(fold.merge(first, rest))
    assert got["mean"][0] == x
    assert n + more < 2 or got["var"][0] == 0.0


def test_a_half_life_must_be_positive():
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="half_life"):
            Decayed(half_life=bad)
