"""The grouped-fold laws (``streaming.fold``) for every kernel (``streaming.kernels``).

Each kernel folds a block of events of several groups (uneven sizes, groups with no
event or no event where the ``where`` flag holds, rows of the table no event
touches) and is held to

* a plain Python computation of each group's result (``math.fsum``,
  ``statistics.variance``, an explicit loop over ``fsum`` prefixes for the path,
  an explicit loop for the longest run);
* the merge law: the consecutive parts of a block (any cut points) folded apart
  and merged in order agree with it, associatively, the empty row an identity;
* ``step``: one event at a time agrees with the block;
* an exact state round trip through JSON, and a refused state of another version
  or other columns.

And :class:`~streaming.fold.Segments` (the layout of a block by group codes) is
checked against the codes themselves.

Float tolerance (``tolerance``): a sum within 1e-9 of itself plus 1e-20 · n · Σ|x|
(the ε·|Σx| + n²ε²·Σ|x| of a doubled-precision sum, with room); a mean the same
over n; a point of the path within 1e-9 of the data's magnitude Σ|x|; a variance
within 1e-9 of itself, of the squared spread and of max|x| · spread (plus n times
the smallest normal float, where squares of tiny values underflow).
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
from hypothesis import given
from hypothesis import strategies as st

from streaming.composite import Composite
from streaming.fold import (
    FoldStateError,
    GroupedFold,
    Segments,
    Table,
    empty,
    equal,
    from_state,
    grow,
    merge_into,
    put,
    size,
    step,
    take,
    to_state,
)
from streaming.kernels import Count, Mean, Moments, Sum
from streaming.ordered_kernels import Path, Run
from tests.capped import CAPPED

REL = 1e-9
TINY = 2.0**-1022  # the smallest normal float: below it a square loses its digits
values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False) | st.sampled_from(
    [0.0, -0.0, 1.0, -1.0, 0.1, 1e6, -1e6]
)


# --- events of several groups ---------------------------------------------------------------


@dataclass(frozen=True)
class Events:
    """A block in arrival order: each event's group code, value and flag, and the
    number of table rows (at least one more than the largest code)."""

    codes: tuple[int, ...]
    xs: tuple[float, ...]
    flags: tuple[bool, ...]
    groups: int

    def __len__(self) -> int:
        return len(self.codes)

    def columns(self) -> dict[str, np.ndarray]:
        """``x``; ``w`` (the flag); ``xn``: ``x`` where the flag holds, NaN elsewhere
        (what a masked kernel must never look at)."""
        x = np.array(self.xs, dtype=np.float64)
        w = np.array(self.flags, dtype=np.bool_)
        return {"x": x, "w": w, "xn": np.where(w, x, np.nan)}

    def part(self, lo: int, hi: int) -> Events:
        return Events(self.codes[lo:hi], self.xs[lo:hi], self.flags[lo:hi], self.groups)

    def of(self, g: int) -> tuple[list[float], list[bool]]:
        """Group ``g``'s values and flags in arrival order."""
        mine = [i for i, c in enumerate(self.codes) if c == g]
        return [self.xs[i] for i in mine], [self.flags[i] for i in mine]


@st.composite
def events(
    draw: st.DrawFn, elements: st.SearchStrategy[float] = values, longest: int = 40
) -> Events:
    lengths = draw(
        st.lists(st.integers(0, 5) | st.integers(6, longest), min_size=1, max_size=6)
    )  # short and long groups: several buckets of the padded layout
    codes = draw(st.permutations([g for g, n in enumerate(lengths) for _ in range(n)]))
    n = len(codes)
    xs = draw(st.lists(elements, min_size=n, max_size=n))
    flags = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    muted = draw(st.sets(st.integers(0, len(lengths) - 1)))  # no event where the flag holds
    flags = [f and c not in muted for f, c in zip(flags, codes, strict=True)]
    extra = draw(st.integers(0, 2))  # rows beyond the last group: no event at all
    return Events(tuple(codes), tuple(xs), tuple(flags), len(lengths) + extra)


def cut_points(data: st.DataObject, n: int, most: int = 4) -> list[int]:
    cuts = data.draw(st.lists(st.integers(0, n), max_size=most), label="cuts")
    return [0, *sorted(cuts), n]


# --- plain Python references ----------------------------------------------------------------


def ref_path(xs: list[float]) -> dict[str, float]:
    """Total, highest and lowest point (the start at 0 counts) and worst fall of
    the running sum, each point the exactly rounded sum of its prefix."""
    peak = trough = fall = 0.0
    for i in range(len(xs)):
        here = math.fsum(xs[: i + 1])
        peak = max(peak, here)
        trough = min(trough, here)
        fall = max(fall, peak - here)
    return {"total": math.fsum(xs), "peak": peak, "trough": trough, "max_drawdown": fall}


def ref_longest_run(flags: list[bool]) -> int:
    longest = here = 0
    for f in flags:
        here = here + 1 if f else 0
        longest = max(longest, here)
    return longest


def ref_moments(xs: list[float]) -> dict[str, float]:
    return {
        "n": len(xs),
        "mean": math.fsum(xs) / len(xs) if xs else math.nan,
        "var": statistics.variance(xs) if len(xs) > 1 else math.nan,
    }


def ref_mean(xs: list[float]) -> dict[str, float]:
    return {"n": len(xs), "mean": math.fsum(xs) / len(xs) if xs else math.nan}


def tolerance(column: str, xs: list[float], want: float) -> float:
    """How far a float result may be from the plain reference (module docstring)."""
    mag = math.fsum(abs(x) for x in xs)
    if column in ("sum", "total"):
        return REL * abs(want) + 1e-20 * len(xs) * mag
    if column == "mean":
        return REL * abs(want) + 1e-20 * mag
    if column == "var":
        spread = max(xs) - min(xs)
        squares = REL * (abs(want) + spread * spread + max(map(abs, xs)) * spread)
        return squares + len(xs) * TINY  # squares of tiny values underflow
    return REL * max(abs(want), mag)  # a point of the path


@dataclass(frozen=True)
class Spec:
    """A kernel, whether it reads only the flagged events, and the plain reference
    of one group's result from its values and flags in arrival order."""

    name: str
    make: Callable[[], GroupedFold]
    masked: bool
    reference: Callable[[list[float], list[bool]], dict[str, float]]

    def selected(self, xs: list[float], flags: list[bool]) -> list[float]:
        return [x for x, f in zip(xs, flags, strict=True) if f] if self.masked else xs


def _sel(f: Callable[[list[float]], dict[str, float]]) -> Callable[..., dict[str, float]]:
    return lambda xs, flags: f(xs)


def _flagged(f: Callable[[list[float]], dict[str, float]]) -> Callable[..., dict[str, float]]:
    """The reference over the values whose flag holds."""
    return lambda xs, flags: f([x for x, fl in zip(xs, flags, strict=True) if fl])


SPECS = [
    Spec("count", Count, False, lambda xs, fl: {"n": len(xs)}),
    Spec("count_where", lambda: Count("w"), True, lambda xs, fl: {"n": sum(fl)}),
    Spec("sum", Sum, False, lambda xs, fl: {"sum": math.fsum(xs)}),
    Spec(
        "sum_where",
        lambda: Sum("xn", "w"),
        True,
        lambda xs, fl: {"sum": math.fsum(x for x, f in zip(xs, fl, strict=True) if f)},
    ),
    Spec("mean", Mean, False, _sel(ref_mean)),
    Spec("mean_where", lambda: Mean("xn", "w"), True, _flagged(ref_mean)),
    Spec("moments", Moments, False, _sel(ref_moments)),
    Spec("moments_where", lambda: Moments("xn", "w"), True, _flagged(ref_moments)),
    Spec("path", Path, False, _sel(ref_path)),
    Spec("path_where", lambda: Path("xn", "w"), True, _flagged(ref_path)),
    Spec("run", lambda: Run("w"), False, lambda xs, fl: {"longest": ref_longest_run(fl)}),
]


def assert_agrees(spec: Spec, ev: Events, table: Table, fold: GroupedFold | None = None) -> None:
    """``table`` (one row per group) reads each group's plain reference."""
    fold = fold or spec.make()
    assert size(table) == ev.groups
    got = fold.read(table)
    for g in range(ev.groups):
        xs, flags = ev.of(g)
        want = spec.reference(xs, flags)
        assert set(got) == set(want)
        sel = spec.selected(xs, flags)
        for column, w in want.items():
            value = got[column][g].item()
            if isinstance(w, int):
                assert value == w, (spec.name, g, column, value, w)
            elif math.isnan(w):
                assert math.isnan(value), (spec.name, g, column, value)
            else:
                tol = tolerance(column, sel, w)
                assert abs(value - w) <= tol, (spec.name, g, column, value, w, tol)


def fold_table(fold: GroupedFold, columns: Any, codes: Any, groups: int) -> Table:
    """One ``fold_block`` of a block, as a table of ``groups`` rows."""
    seg = Segments(np.array(codes, dtype=np.int64))
    part = fold.fold_block(columns, seg)
    assert size(part) == len(seg.groups)
    return merge_into(fold, empty(fold, groups), seg.groups, part)


def table_of(fold: GroupedFold, ev: Events) -> Table:
    return fold_table(fold, ev.columns(), ev.codes, ev.groups)


def integers(table: Table) -> Table:
    return {k: v for k, v in table.items() if v.dtype.kind in "iub"}


# --- the laws (each example holds every kernel to them) ------------------------------------


@CAPPED
@given(ev=events())
def test_a_block_agrees_with_the_plain_reference(ev):
    """One fold_block of a block of many groups reads each group's plain reference."""
    for spec in SPECS:
        assert_agrees(spec, ev, table_of(spec.make(), ev))


@CAPPED
@given(ev=events(), data=st.data())
def test_parts_merged_in_order_agree_with_the_whole(ev, data):
    """The consecutive parts of a block (any cut points) folded apart and merged in
    order agree with the reference, their integer columns equal to one block's."""
    bounds = cut_points(data, len(ev))
    for spec in SPECS:
        fold = spec.make()
        merged = empty(fold, ev.groups)
        for lo, hi in itertools.pairwise(bounds):
            merged = fold.merge(merged, table_of(fold, ev.part(lo, hi)))
        assert_agrees(spec, ev, merged)
        assert equal(integers(merged), integers(table_of(fold, ev))), spec.name


@CAPPED
@given(ev=events(), data=st.data())
def test_merge_is_associative(ev, data):
    """(a · b) · c and a · (b · c) of three consecutive parts both agree with the
    reference and have the same integer columns."""
    i, j = sorted(data.draw(st.tuples(st.integers(0, len(ev)), st.integers(0, len(ev)))))
    for spec in SPECS:
        fold = spec.make()
        a, b, c = (table_of(fold, ev.part(lo, hi)) for lo, hi in ((0, i), (i, j), (j, len(ev))))
        left = fold.merge(fold.merge(a, b), c)
        right = fold.merge(a, fold.merge(b, c))
        assert_agrees(spec, ev, left)
        assert_agrees(spec, ev, right)
        assert equal(integers(left), integers(right)), spec.name


@CAPPED
@given(ev=events(), data=st.data())
def test_the_empty_row_is_the_identity(ev, data):
    """Merging the empty table on either side of a block's table changes nothing
    (exactly); on the left of a merged table too, on its right nothing beyond the
    tolerance (its last point may differ from its peak by a rounding)."""
    k = data.draw(st.integers(0, len(ev)), label="cut")
    for spec in SPECS:
        fold = spec.make()
        t = table_of(fold, ev)
        none = empty(fold, ev.groups)
        assert equal(fold.merge(none, t), t), spec.name
        assert equal(fold.merge(t, none), t), spec.name
        merged = fold.merge(table_of(fold, ev.part(0, k)), table_of(fold, ev.part(k, len(ev))))
        assert equal(fold.merge(none, merged), merged), spec.name
        assert_agrees(spec, ev, fold.merge(merged, none))


@CAPPED
@given(ev=events())
def test_one_event_at_a_time_agrees_with_the_block(ev):
    """``step`` over the events in arrival order agrees with the reference, its
    integer columns equal to one block's."""
    columns = ev.columns()
    one = [{k: v[i : i + 1] for k, v in columns.items()} for i in range(len(ev))]
    for spec in SPECS:
        fold = spec.make()
        table = empty(fold, ev.groups)
        for g, event in zip(ev.codes, one, strict=True):
            table = step(fold, table, g, event)
        assert_agrees(spec, ev, table)
        assert equal(integers(table), integers(table_of(fold, ev))), spec.name


@CAPPED
@given(ev=events(), more=events(longest=8))
def test_state_round_trips_exactly_through_json(ev, more):
    """``from_state`` of ``to_state`` through strict JSON is the same table exactly
    (dtypes included), and the two keep folding identically."""
    columns = more.columns()
    one = [{k: v[i : i + 1] for k, v in columns.items()} for i in range(len(more))]
    for spec in SPECS:
        fold = spec.make()
        t = table_of(fold, ev)
        text = json.dumps(to_state(fold, t), allow_nan=False)
        back = from_state(fold, json.loads(text))
        assert equal(back, t), spec.name
        dtypes = {f.name: np.dtype(f.dtype) for f in fold.fields}
        assert {k: v.dtype for k, v in back.items()} == dtypes, spec.name
        assert to_state(fold, back) == to_state(fold, t), spec.name
        n = max(ev.groups, more.groups)
        a, b = grow(fold, t, n), grow(fold, back, n)
        for g, event in zip(more.codes, one, strict=True):
            a, b = step(fold, a, g, event), step(fold, b, g, event)
        assert equal(a, b), spec.name


@CAPPED
@given(ev=events(longest=8))
def test_a_state_of_another_version_or_other_columns_is_refused(ev):
    """A state with another version, a missing, extra or renamed column, columns of
    different lengths, or another kernel's columns raises FoldStateError."""
    for spec in SPECS:
        fold = spec.make()
        state = json.loads(json.dumps(to_state(fold, table_of(fold, ev))))
        for version in (fold.version + 1, fold.version - 1, None, str(fold.version)):
            with pytest.raises(FoldStateError):
                from_state(fold, {**state, "version": version})
        with pytest.raises(FoldStateError):
            from_state(fold, {"columns": state["columns"]})
        columns = state["columns"]
        first = next(iter(columns))
        rest = {k: v for k, v in columns.items() if k != first}
        for bad in (rest, {**columns, "extra": columns[first]}, {**rest, "other": columns[first]}):
            with pytest.raises(FoldStateError):
                from_state(fold, {**state, "columns": bad})
        if len(columns) > 1:
            with pytest.raises(FoldStateError):
                from_state(fold, {**state, "columns": {**columns, first: [*columns[first], 0]}})
        names = sorted(f.name for f in fold.fields)
        for other in SPECS:
            theirs = other.make()
            if sorted(f.name for f in theirs.fields) != names:
                with pytest.raises(FoldStateError):
                    from_state(fold, to_state(theirs, table_of(theirs, ev)))


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
@pytest.mark.parametrize("n", [0, 1, 4])
def test_empty_table_holds_each_fields_identity(spec, n):
    """``empty(fold, n)``: n rows of each field's dtype and identity."""
    fold = spec.make()
    t = empty(fold, n)
    assert list(t) == [f.name for f in fold.fields]
    for f in fold.fields:
        assert t[f.name].dtype == np.dtype(f.dtype) and t[f.name].tolist() == [f.identity] * n


# --- Composite ----------------------------------------------------------------------------


class Derive:
    """What a domain does: inputs derived from a block's columns (calls counted)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, columns: Any) -> dict[str, np.ndarray]:
        self.calls += 1
        x, w = columns["x"], columns["w"]
        return {"x": x, "w": w, "xn": np.where(w, x, np.nan), "neg": -x, "pos": x > 0}


PARTS = [
    ("n", Count()), ("pos", Count("pos")), ("s", Sum("xn", "w")), ("neg", Sum("neg")),
    ("mean", Mean("xn", "w")), ("m", Moments("xn", "w")), ("p", Path("x")), ("r", Run("pos")),
]  # fmt: skip


def _part(name: str, table: Table) -> Table:
    """The columns of part ``name`` of a Composite's table, unprefixed."""
    return {k.removeprefix(f"{name}."): v for k, v in table.items() if k.startswith(f"{name}.")}


@CAPPED
@given(ev=events(), data=st.data())
def test_composite_is_its_parts_side_by_side(ev, data):
    """A Composite's fields, fold_block, merge and read are exactly its parts' own on
    the derived columns (names prefixed), and it derives once per block."""
    derive = Derive()
    comp = Composite(PARTS, derive, version=3)
    assert [f.name for f in comp.fields] == [
        f"{name}.{f.name}" for name, kernel in PARTS for f in kernel.fields
    ]
    k = data.draw(st.integers(0, len(ev)), label="cut")
    first, rest = ev.part(0, k), ev.part(k, len(ev))
    a, b = table_of(comp, first), table_of(comp, rest)
    assert derive.calls == 2
    merged = comp.merge(a, b)
    read = comp.read(merged)
    for name, kernel in PARTS:
        pa, pb = (
            fold_table(kernel, Derive()(p.columns()), p.codes, ev.groups) for p in (first, rest)
        )
        assert equal(_part(name, a), pa)
        assert equal(_part(name, merged), kernel.merge(pa, pb))
        assert equal(_part(name, read), kernel.read(kernel.merge(pa, pb)))
    assert to_state(comp, merged)["version"] == 3


# --- the generic table operations ---------------------------------------------------------


@CAPPED
@given(ev=events(), data=st.data())
def test_merge_into_some_rows_merges_row_by_row(ev, data):
    """``merge_into(table, rows, part)`` merges part's i-th row after row ``rows[i]``
    and leaves every other row as it was; ``grow`` adds empty rows only."""
    fold = Composite(PARTS, Derive())
    n = ev.groups
    k = data.draw(st.integers(0, len(ev)), label="cut")
    table, later = table_of(fold, ev.part(0, k)), table_of(fold, ev.part(k, len(ev)))
    rows = data.draw(st.permutations(range(n)), label="rows")[: data.draw(st.integers(0, n))]
    taken = data.draw(st.permutations(range(n)), label="taken")[: len(rows)]
    part = take(later, np.array(taken, dtype=np.int64))
    want = {c: v.copy() for c, v in table.items()}
    for i, r in enumerate(rows):
        one = fold.merge(take(table, np.array([r])), take(part, np.array([i])))
        want = put(want, np.array([r]), one)
    got = merge_into(fold, {c: v.copy() for c, v in table.items()}, np.array(rows, np.int64), part)
    assert equal(got, want)
    grown = grow(fold, table, n + 3)
    assert equal(take(grown, np.arange(n)), table)
    assert equal(take(grown, np.arange(n, n + 3)), empty(fold, 3))
    assert grow(fold, table, n) is table


# --- hand-computed cases ------------------------------------------------------------------


def _read_one(fold: GroupedFold, xs: list[float], flags: list[bool] | None = None) -> dict:
    n = len(xs)
    columns = {"x": np.array(xs, dtype=np.float64), "w": np.array(flags or [True] * n)}
    table = fold.fold_block(columns, Segments(np.zeros(n, dtype=np.int64)))
    return {k: v[0].item() for k, v in fold.read(table).items()}


def test_hand_computed_paths():
    """A path from 0: a rising path has no fall, a fall from the start counts."""
    assert _read_one(Path(), [1.0, -2.0, 0.5, -1.0, 3.0]) == {
        "total": 1.5, "peak": 1.5, "trough": -1.5, "max_drawdown": 2.5,
    }  # fmt: skip
    assert _read_one(Path(), [1.0, 2.0, 0.0, 3.0])["max_drawdown"] == 0.0
    assert _read_one(Path(), [-1.0, -2.0, 0.5]) == {
        "total": -2.5, "peak": 0.0, "trough": -3.0, "max_drawdown": 3.0,
    }  # fmt: skip


def test_hand_computed_runs_join_across_a_merge():
    """The longest run lies in one part or across the seam."""
    run = Run("w")
    assert _read_one(run, [0.0] * 7, [True, True, False, True, True, True, False]) == {"longest": 3}
    seg = Segments(np.zeros(3, dtype=np.int64))
    a = run.fold_block({"w": np.array([True, False, True])}, seg)
    b = run.fold_block({"w": np.array([True, True, False])}, seg)
    assert run.read(run.merge(a, b))["longest"].tolist() == [3]
    assert run.read(run.merge(b, a))["longest"].tolist() == [2]


def test_hand_computed_moments_and_counts():
    """No event: mean and variance undefined (NaN, not 0); one: variance undefined."""
    m = Moments()
    none = m.read(empty(m, 1))
    assert none["n"].tolist() == [0] and math.isnan(none["mean"][0]) and math.isnan(none["var"][0])
    one = _read_one(m, [4.0])
    assert one["n"] == 1 and one["mean"] == 4.0 and math.isnan(one["var"])
    assert _read_one(m, [1.0, 2.0, 4.0]) == {"n": 3, "mean": 7 / 3, "var": 7 / 3}
    assert _read_one(Count("w"), [0.0] * 4, [True, False, True, True]) == {"n": 3}


def test_compensated_sum_beats_naive_summation():
    """1e16 + 1 − 1e16, a hundred times: exactly 100, where plain floats lose it."""
    xs = [1e16, 1.0, -1e16] * 100
    assert _read_one(Sum(), xs) == {"sum": 100.0}
    assert sum(xs) != 100.0


# --- Segments -----------------------------------------------------------------------------


@st.composite
def group_codes(draw: st.DrawFn) -> list[int]:
    top = draw(st.sampled_from([0, 1, 3, 10, 1000]))  # few groups: long ones
    return draw(st.lists(st.integers(0, top), max_size=300))


@CAPPED
@given(group_codes(), st.data())
def test_segments_describe_the_codes(codes, data):
    """groups, lengths, starts, local and order agree with the codes: order is the
    stable sort, local each event's number among the (ascending) groups."""
    seg = Segments(np.array(codes, dtype=np.int64))
    groups = sorted(set(codes))
    assert seg.n == len(codes) and len(seg) == len(groups)
    assert seg.groups.tolist() == groups
    assert seg.lengths.tolist() == [codes.count(g) for g in groups]
    assert seg.starts.tolist() == list(itertools.accumulate([0, *seg.lengths.tolist()]))[:-1]
    assert seg.local.tolist() == [groups.index(c) for c in codes]
    assert seg.order.tolist() == sorted(range(len(codes)), key=lambda i: (codes[i], i))
    for a in (seg.groups, seg.lengths, seg.local, seg.order):
        assert a.dtype == np.int64
    flags = data.draw(st.lists(st.booleans(), min_size=len(codes), max_size=len(codes)))
    mask = np.array(flags, dtype=np.bool_)
    assert seg.count(mask).tolist() == [
        sum(m for c, m in zip(codes, flags, strict=True) if c == g) for g in groups
    ]
    counted = seg.count()
    counted += 1
    assert seg.lengths.tolist() == [codes.count(g) for g in groups]  # count() was a copy
    xs = data.draw(st.lists(values, min_size=len(codes), max_size=len(codes)), label="xs")
    totals = seg.total(np.array(xs, dtype=np.float64)).tolist()
    for g, got in zip(groups, totals, strict=True):
        mine = [x for x, c in zip(xs, codes, strict=True) if c == g]
        assert abs(got - math.fsum(mine)) <= REL * math.fsum(map(abs, mine))


@CAPPED
@given(group_codes(), st.data())
def test_buckets_cover_each_group_in_arrival_order(codes, data):
    """Every group is one row of one bucket; the row's valid prefix indexes its
    events in arrival order; rows of a bucket have lengths within one power of two,
    so padding at most doubles a bucket; ``padded`` puts each group's values (the
    fill at the padding and where a flag is False) along its row; gather inverts."""
    seg = Segments(np.array(codes, dtype=np.int64))
    groups = seg.groups.tolist()
    flags = data.draw(st.lists(st.booleans(), min_size=len(codes), max_size=len(codes)))
    x = np.arange(len(codes), dtype=np.float64) + 0.5
    where = np.array(flags, dtype=np.bool_)
    seen: list[int] = []
    plain, masked = seg.padded(x, -1.0), seg.padded(x, -1.0, where)
    assert len(plain) == len(masked) == len(seg.buckets)
    for ((rows_, index, valid_), padded), (_, flagged) in zip(plain, masked, strict=True):
        rows = rows_.tolist()  # a bucket: (rows, positions, valid)
        seen += rows
        lengths = seg.lengths[rows_]
        width = index.shape[1]
        assert index.shape == valid_.shape == (len(rows), width)
        assert width == lengths.max() and width < 2 * lengths.min()
        assert int(lengths.max()).bit_length() == int(lengths.min()).bit_length()
        for r, g in enumerate(rows):
            mine = [i for i, c in enumerate(codes) if c == groups[g]]
            pad = [-1.0] * (width - len(mine))
            assert valid_[r].tolist() == [True] * len(mine) + [False] * (width - len(mine))
            assert index[r, : len(mine)].tolist() == mine
            assert padded[r].tolist() == [i + 0.5 for i in mine] + pad
            assert flagged[r].tolist() == [i + 0.5 if flags[i] else -1.0 for i in mine] + pad
        assert ((index >= 0) & (index < len(codes))).all()  # padding: some valid position
    assert sorted(seen) == list(range(len(groups)))
    assert bucket_rows_gathered(seg) == list(range(len(groups)))
    assert sum(b[2].size for b in seg.buckets) <= 2 * len(codes)


def bucket_rows_gathered(seg: Segments) -> list[int]:
    return seg.gather([(b, b[0]) for b in seg.buckets], np.int64).tolist()


def test_segments_of_no_events():
    """An empty block has no groups and no buckets."""
    seg = Segments(np.array([], dtype=np.int64))
    assert len(seg) == 0 and seg.n == 0 and seg.buckets == []
    assert seg.groups.tolist() == seg.lengths.tolist() == seg.local.tolist() == []
    for spec in SPECS:
        fold = spec.make()
        part = fold.fold_block(Events((), (), (), 0).columns(), seg)
        assert size(part) == 0 and set(part) == {f.name for f in fold.fields}
