"""Windows over a grouped fold (``streaming.windows``): all events, the last N of each
group, the events of the last T of event time.

Every read is held to a brute-force reference: each group's events in view (all of
them; the last n in arrival order; those with ts > watermark − span, timestamps
out of order, the watermark the window's own largest ts or a later one given)
folded by plain Python (``tests.streaming.test_kernels``' references, within its
tolerance). The fold is a Composite of every kernel, its masked inputs NaN where
the flag does not hold (so the state must keep NaN apart from 0). On top: any
blocks give the same read, a merge with a remap equals absorbing the other's events
after this one's, forgetting changes no later read, the state round-trips through
strict JSON, and reads between absorbs are never stale.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streaming.block import Block, decode_columns, encode_columns
from streaming.composite import Composite
from streaming.fold import Segments, Table, equal, grow
from streaming.fold import size as rows_of
from streaming.kernels import Count, Moments, Sum
from streaming.ordered_kernels import Path, Run
from streaming.time_window import TimeWindow
from streaming.windows import AllTime, LastN, last_n, window
from tests.capped import CAPPED
from tests.streaming.test_kernels import ref_longest_run, ref_moments, ref_path, tolerance

FOLD = Composite(
    [("n", Count("w")), ("s", Sum("xn", "w")), ("m", Moments("xn", "w")),
     ("p", Path("xn", "w")), ("r", Run("w"))],
    dict,
)  # fmt: skip
values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False) | st.just(0.0)


@dataclass(frozen=True)
class Ev:
    ts: float
    code: int
    x: float
    flag: bool


def make_block(evs: Sequence[Ev], size: int) -> Block:
    codes = np.array([e.code for e in evs], dtype=np.int64)
    x = np.array([e.x for e in evs], dtype=np.float64)
    w = np.array([e.flag for e in evs], dtype=np.bool_)
    columns = {"x": x, "w": w, "xn": np.where(w, x, np.nan)}
    return Block(
        np.array([e.ts for e in evs], dtype=np.float64), columns, codes, Segments(codes), size
    )


@dataclass(frozen=True)
class Stream:
    """Events in arrival order cut into blocks, each block with its group count
    (non-decreasing: groups once known stay known)."""

    blocks: tuple[tuple[Ev, ...], ...]
    sizes: tuple[int, ...]

    @property
    def events(self) -> list[Ev]:
        return [e for b in self.blocks for e in b]

    @property
    def size(self) -> int:
        return self.sizes[-1] if self.sizes else 0

    def feed(self, w: Any) -> Any:
        for b, n in zip(self.blocks, self.sizes, strict=True):
            w.absorb(make_block(b, n))
        return w

    def top(self) -> float | None:
        return max((e.ts for e in self.events), default=None)


@st.composite
def streams(draw: st.DrawFn, max_events: int = 60, max_groups: int = 5) -> Stream:
    groups = draw(st.integers(1, max_groups))
    n = draw(st.integers(0, max_events))
    ts, evs = draw(st.integers(0, 100)) * 1.0, []
    for _ in range(n):
        ts += draw(st.sampled_from([0.0, 1.0, 3.0, 10.0, -7.0, -40.0]))  # out of order too
        evs.append(Ev(ts, draw(st.integers(0, groups - 1)), draw(values), draw(st.booleans())))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    blocks = tuple(tuple(evs[a:b]) for a, b in itertools.pairwise([0, *cuts, n]))
    sizes, known = [], 0
    for b in blocks:
        top = max((e.code for e in b), default=-1) + 1
        known = max(known, top) + draw(st.integers(0, 1))  # sometimes a group yet unseen
        sizes.append(known)
    return Stream(blocks, tuple(sizes))


# --- the brute-force reference ------------------------------------------------------------


def per_group(evs: Sequence[Ev], size: int) -> list[list[Ev]]:
    out: list[list[Ev]] = [[] for _ in range(size)]
    for e in evs:
        out[e.code].append(e)
    return out


def in_view(kind: str, evs: Sequence[Ev], size: int, *, n: int = 0, horizon: float = 0.0):
    """Each group's events in view, in arrival order."""
    groups = per_group(evs, size)
    if kind == "last":
        return [g[-n:] for g in groups]
    if kind == "time":
        return [[e for e in g if e.ts > horizon] for g in groups]
    return groups


def expected(evs: list[Ev]) -> dict[str, float]:
    sel = [e.x for e in evs if e.flag]
    out: dict[str, float] = {"n.n": len(sel), "s.sum": math.fsum(sel)}
    out.update({f"m.{k}": v for k, v in ref_moments(sel).items()})
    out.update({f"p.{k}": v for k, v in ref_path(sel).items()})
    out["r.longest"] = ref_longest_run([e.flag for e in evs])
    return out


def assert_reads(table: Table, view: list[list[Ev]]) -> None:
    """``table`` reads each group's reference (a group past its last row reads as
    the empty fold: the row count is the ``test_a_…_row…`` tests' subject)."""
    assert rows_of(table) <= len(view), (rows_of(table), len(view))
    got = FOLD.read(grow(FOLD, table, len(view)))
    for g, evs in enumerate(view):
        sel = [e.x for e in evs if e.flag]
        for column, want in expected(evs).items():
            value = got[column][g].item()
            if isinstance(want, int):
                assert value == want, (g, column, value, want)
            elif math.isnan(want):
                assert math.isnan(value), (g, column, value)
            else:
                tol = tolerance(column.split(".")[1], sel, want)
                assert abs(value - want) <= tol, (g, column, value, want)


def snapshot(table: Table) -> Table:
    """A copy: a read may be the window's own table, changed by later absorbs."""
    return {k: v.copy() for k, v in table.items()}


def integers(table: Table, size: int) -> Table:
    """The integer columns of ``size`` rows (missing rows: the empty fold)."""
    return {k: v for k, v in grow(FOLD, table, size).items() if v.dtype.kind in "iub"}


# --- the windows under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """A window kind and its parameters (n for last; span, chunk and run size for
    time: small, so that reads cross chunk and run boundaries)."""

    name: str
    n: int = 1
    span: float = 1.0
    chunk: int = 1
    sub: int = 1

    def make(self) -> Any:
        if self.name == "all":
            return AllTime(FOLD)
        if self.name == "last":
            return LastN(FOLD, n=self.n)
        return TimeWindow(FOLD, span=self.span, chunk=self.chunk, sub=self.sub)

    def views(self, evs: Sequence[Ev], size: int, extra: float) -> list[tuple[Any, Any]]:
        """(watermark to read at, each group's events in view) for the default
        watermark and a later one."""
        top = max((e.ts for e in evs), default=None)
        if self.name != "time":
            v = in_view(self.name, evs, size, n=self.n)
            return [(None, v), (0.0 if top is None else top + extra, v)]
        if top is None:
            return [(None, [[] for _ in range(size)])]
        return [
            (wm, in_view("time", evs, size, horizon=(top if wm is None else wm) - self.span))
            for wm in (None, top + extra)
        ]


def kinds(names: Sequence[str] = ("all", "last", "time")) -> st.SearchStrategy[Kind]:
    return st.builds(
        Kind,
        st.sampled_from(names),
        n=st.integers(1, 12),
        span=st.sampled_from([1.0, 10.0, 25.0, 100.0]) | st.floats(0.5, 200.0),
        chunk=st.integers(1, 7),
        sub=st.integers(1, 4),
    )


extras = st.sampled_from([0.0, 1.0, 10.0, 30.0]) | st.floats(0.0, 300.0)


def check(w: Any, kind: Kind, evs: Sequence[Ev], size: int, extra: float) -> None:
    for wm, view in kind.views(evs, size, extra):
        assert_reads(w.read(wm), view)


# --- the properties -----------------------------------------------------------------------


@CAPPED
@given(kinds(), streams(), extras)
def test_a_read_equals_the_brute_force_reference(kind, stream, extra):
    """After any blocks, a read at the default or a later watermark equals each
    group's events in view folded by plain Python."""
    w = stream.feed(kind.make())
    check(w, kind, stream.events, stream.size, extra)


@CAPPED
@given(kinds(), streams(), st.data())
def test_any_blocks_give_the_same_read(kind, stream, data):
    """The events cut into other blocks (down to one event each) read the same:
    integer columns exactly, floats within the reference's tolerance."""
    evs = stream.events
    cuts = sorted(data.draw(st.lists(st.integers(0, len(evs)), max_size=8), label="cuts"))
    one_each = data.draw(st.booleans(), label="one event per block")
    bounds = list(range(len(evs) + 1)) if one_each else [0, *cuts, len(evs)]
    other = kind.make()
    for a, b in itertools.pairwise(bounds):
        other.absorb(make_block(evs[a:b], stream.size))
    w = stream.feed(kind.make())
    for wm, view in kind.views(evs, stream.size, 5.0):
        mine, theirs = snapshot(w.read(wm)), snapshot(other.read(wm))
        assert_reads(theirs, view)
        assert equal(integers(mine, stream.size), integers(theirs, stream.size))


@st.composite
def remaps(draw: st.DrawFn, mine: int, theirs: int) -> tuple[np.ndarray, int]:
    """Their codes → mine: distinct, some of my groups (any order), some new ones."""
    codes = draw(st.permutations(range(mine + theirs)))[:theirs]
    top = max([mine, *(c + 1 for c in codes)])
    return np.array(codes, dtype=np.int64), top + draw(st.integers(0, 1))


@CAPPED
@given(kinds(), streams(), streams(), st.data())
def test_a_merge_equals_absorbing_the_others_events_after(kind, first, second, data):
    """``merge(other, remap, size)`` reads as if this window had absorbed the other's
    events after its own, their codes translated by ``remap``."""
    remap, size = data.draw(remaps(first.size, second.size), label="remap")
    mine, theirs = first.feed(kind.make()), second.feed(kind.make())
    mine.merge(theirs, remap, size)
    moved = [Ev(e.ts, int(remap[e.code]), e.x, e.flag) for e in second.events]
    evs = [*first.events, *moved]
    check(mine, kind, evs, size, data.draw(extras, label="extra"))
    along = first.feed(kind.make())
    along.absorb(make_block(moved, size))
    for wm, _ in kind.views(evs, size, 3.0):
        assert equal(integers(snapshot(mine.read(wm)), size), integers(along.read(wm), size))


@CAPPED
@given(kinds(), streams(), st.floats(0, 300), st.floats(0, 300))
def test_forgetting_changes_no_later_read(kind, stream, gap, later):
    """After ``forget(floor)`` (floor at or past the window's own last time), a read
    at any watermark from the floor on is the same, and the reference."""
    w = stream.feed(kind.make())
    top = stream.top() or 0.0
    floor, wm = top + gap, top + gap + later
    before = snapshot(w.read(wm))
    held = w.held() if isinstance(w, TimeWindow) else None
    w.forget(floor)
    after = snapshot(w.read(wm))
    assert equal(integers(before, stream.size), integers(after, stream.size))
    _, view = kind.views(stream.events, stream.size, gap + later)[-1]
    assert_reads(after, view)
    if held is not None:
        assert w.held() <= held


@CAPPED
@given(kinds(), streams(), streams(max_events=20), st.floats(0, 50))
def test_state_round_trips_through_strict_json(kind, stream, more, extra):
    """A fresh window restored from ``to_state`` (through JSON without NaN) reads the
    same, saves the same state, and keeps reading the same after more blocks."""
    w = stream.feed(kind.make())
    text = json.dumps(w.to_state(), allow_nan=False)
    back = kind.make()
    back.restore(json.loads(text))
    assert json.dumps(back.to_state(), allow_nan=False) == text
    check(back, kind, stream.events, stream.size, extra)
    for wm, _ in kind.views(stream.events, stream.size, extra):
        n = stream.size
        assert equal(integers(snapshot(back.read(wm)), n), integers(w.read(wm), n))
    shift = Stream(more.blocks, tuple(max(n, stream.size) for n in more.sizes))
    shift.feed(w)
    shift.feed(back)
    evs = [*stream.events, *shift.events]
    size = max(stream.size, shift.size)
    check(back, kind, evs, size, extra)
    for wm, _ in kind.views(evs, size, extra):
        assert equal(integers(snapshot(back.read(wm)), size), integers(w.read(wm), size))


@CAPPED
@given(kinds(), st.lists(st.tuples(streams(max_events=12, max_groups=3), extras), max_size=6))
def test_reads_between_absorbs_are_never_stale(kind, steps):
    """Blocks and reads interleaved (cached tables, the kept run of whole chunks, the
    groups refolded since the last read): every read is the reference then."""
    w = kind.make()
    seen: list[Ev] = []
    size = 0
    for part, extra in steps:
        size = max(size, part.size)
        Stream(part.blocks, tuple(max(n, size) for n in part.sizes)).feed(w)
        seen += part.events
        check(w, kind, seen, size, extra)


@CAPPED
@given(kinds(), streams(), extras)
def test_reads_and_saves_do_not_change_a_window(kind, stream, extra):
    """Reading (twice, at two watermarks) and saving leave the state and the next
    read as they were."""
    w = stream.feed(kind.make())
    state = json.dumps(w.to_state())
    views = kind.views(stream.events, stream.size, extra)
    first = [snapshot(w.read(wm)) for wm, _ in views]
    assert json.dumps(w.to_state()) == state
    for (wm, _), table in zip(views, first, strict=True):
        assert equal(snapshot(w.read(wm)), table)


# A read has one row per group known to the window (its largest block size, the size
# given to a merge), whatever the window holds: the three ways a window learns it.
small = streams(max_events=8, max_groups=3)


@example(Kind("time"), Stream(((),), (1,)))
@CAPPED
@given(kinds(), small)
def test_a_read_has_a_row_per_group_of_the_blocks_absorbed(kind, stream):
    """A read has as many rows as the largest block size absorbed (an empty block's
    too)."""
    assert rows_of(stream.feed(kind.make()).read()) == stream.size


@example(Kind("last"), Stream(((Ev(1.0, 0, 1.0, True),),), (2,)))
@CAPPED
@given(kinds(), small)
def test_a_restored_window_reads_as_many_rows(kind, stream):
    """A window restored from the state reads as many rows as the one saved."""
    w = stream.feed(kind.make())
    back = kind.make()
    back.restore(json.loads(json.dumps(w.to_state())))
    assert rows_of(back.read()) == rows_of(w.read())


@CAPPED
@given(kinds(), small, small, st.booleans(), st.data())
def test_a_merged_window_reads_a_row_per_group_of_the_merge(kind, stream, other, fed, data):
    """After ``merge(other, remap, size)`` a read has max(own, size) rows, also when
    the other never absorbed a block."""
    w = stream.feed(kind.make())
    rows = rows_of(w.read())
    remap, size = data.draw(remaps(stream.size, other.size if fed else 0), label="remap")
    w.merge(other.feed(kind.make()) if fed else kind.make(), remap, size)
    assert rows_of(w.read()) == max(rows, size)


@CAPPED
@given(
    st.lists(st.integers(0, 5), max_size=80),
    st.integers(1, 10),
)
def test_last_n_positions_are_each_groups_last_events(codes, n):
    """``last_n`` gives, ascending, the positions of each group's last n events."""
    got = last_n(Segments(np.array(codes, dtype=np.int64)), n).tolist()
    want = sorted(i for g in set(codes) for i in [j for j, c in enumerate(codes) if c == g][-n:])
    assert got == want


@CAPPED
@given(
    st.lists(
        st.one_of(st.floats(allow_infinity=False), st.sampled_from([0.0, -0.0, math.nan])),
        max_size=20,
    ),
    st.lists(st.booleans(), max_size=20),
    st.lists(st.integers(-(2**62), 2**62), max_size=20),
)
def test_columns_survive_strict_json_with_nan_apart_from_zero(floats, flags, ints):
    """encode_columns / decode_columns through JSON without NaN: the same values (NaN
    where NaN was, 0.0 and -0.0 kept), the same dtypes."""
    columns = {
        "f": np.array(floats, dtype=np.float64),
        "b": np.array(flags, dtype=np.bool_),
        "i": np.array(ints, dtype=np.int64),
    }
    back = decode_columns(json.loads(json.dumps(encode_columns(columns), allow_nan=False)))
    assert equal(back, columns)
    assert {k: v.dtype for k, v in back.items()} == {k: v.dtype for k, v in columns.items()}
    zeros = columns["f"] == 0.0
    assert np.signbit(back["f"][zeros]).tolist() == np.signbit(columns["f"][zeros]).tolist()


# --- hand-computed cases and a long run ---------------------------------------------------


def _count(table: Table) -> list[int]:
    return FOLD.read(table)["n.n"].tolist()


def test_the_time_boundary_is_exclusive():
    """ts 0 is not inside a 10 s window ending at 10 (ts > 10 − 10)."""
    w = TimeWindow(FOLD, span=10.0)
    w.absorb(make_block([Ev(0.0, 0, 1.0, True), Ev(10.0, 0, 2.0, True)], 1))
    assert _count(w.read()) == [1]
    assert _count(w.read(19.5)) == [1] and _count(w.read(20.0)) == [0]


def test_memory_is_bounded_by_the_span_and_by_n():
    """Rising time: a time window holds only the events in view; a last-N window's
    state keeps n events per group."""
    for chunk in (1, 3, 16):
        w = TimeWindow(FOLD, span=10.0, chunk=chunk)
        last = LastN(FOLD, n=5)
        for t in range(0, 2000, 7):
            evs = [Ev(float(t + i), i % 3, 1.0, True) for i in range(7)]
            w.absorb(make_block(evs, 3))
            last.absorb(make_block(evs, 3))
        assert w.held() == 10  # ts in (1989, 1999]
        assert len(last.to_state()["codes"]) == 15


def test_forget_drops_what_has_aged_out_in_arrival_order():
    """forget(65) on a 60 s window keeps ts > 5 only."""
    w = TimeWindow(FOLD, span=60.0, chunk=2)
    w.absorb(make_block([Ev(float(t), 0, 1.0, True) for t in range(10)], 1))
    w.forget(65.0)
    assert w.held() == 4 and w.to_state()["ts"] == [6.0, 7.0, 8.0, 9.0]


def test_windows_refuse_empty_sizes():
    """n ≤ 0, a span that is not positive (NaN too), chunk or run size 0 raise
    ValueError."""
    with pytest.raises(ValueError):
        LastN(FOLD, n=0)
    for span in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError):
            TimeWindow(FOLD, span=span)
    with pytest.raises(ValueError):
        TimeWindow(FOLD, span=1.0, chunk=0)
    with pytest.raises(ValueError):
        TimeWindow(FOLD, span=1.0, sub=0)


def test_window_picks_the_lookbacks_kind():
    """Trades: the last N; seconds: a time window; neither: every event."""
    last = window(FOLD, trades=7, seconds=None)
    assert isinstance(last, LastN) and last.n == 7
    timed = window(FOLD, trades=None, seconds=60.0)
    assert isinstance(timed, TimeWindow) and timed.span == 60.0
    assert isinstance(window(FOLD, trades=None, seconds=None), AllTime)


@pytest.mark.parametrize("seed", range(4))
def test_sliding_reads_over_many_chunks_equal_the_reference(seed):
    """Time mostly rising, small chunks and runs, a read after every block at a
    rising watermark (the kept run of whole chunks extended, rebuilt as it slides,
    cut chunks refolding a run, a few late events): each read is the reference."""
    rng = random.Random(seed)
    span, chunk = 30.0, 4 + seed * 3
    w = TimeWindow(FOLD, span=span, chunk=chunk, sub=1 + seed % 3)
    seen: list[Ev] = []
    now = 0.0
    for _ in range(150):
        block = []
        for _ in range(rng.randint(1, 5)):
            now += rng.random() * 2
            late = now - 50 * rng.random() if rng.random() < 0.05 else now
            block.append(Ev(late, rng.randrange(3), rng.uniform(-10, 10), rng.random() < 0.8))
        w.absorb(make_block(block, 3))
        seen += block
        wm = now + rng.random() * 5
        assert_reads(w.read(wm), in_view("time", seen, 3, horizon=wm - span))
