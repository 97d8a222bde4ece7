"""Windows: last-N and event-time windows agree with a plain slice, obey the merge law,
round-trip their state, and hold bounded memory."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.keyed import KeyedMap
from streaming.stats import Drawdown, HitCounter, MeanVar
from streaming.windows import LastN, TimeWindow
from tests.streaming.test_stats import close, fold, ref_drawdown

values = st.floats(-1e3, 1e3, allow_nan=False)
timed = st.lists(st.tuples(st.floats(0, 1e4, allow_nan=False), values), max_size=60)


def splits(data, n):
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=4)))
    return list(zip([0, *cuts], [*cuts, n], strict=True))


@given(st.lists(values, max_size=80), st.integers(1, 30), st.data())
def test_last_n_equals_the_slice_under_any_split(xs, n, data):
    """Merged parts give the drawdown of exactly the last n events."""
    merged = LastN(n, Drawdown)
    for lo, hi in splits(data, len(xs)):
        merged.merge(fold(lambda: LastN(n, Drawdown), xs[lo:hi]))
    want = ref_drawdown(xs[-n:])
    got = merged.result
    scale = sum(abs(x) for x in xs[-n:])
    assert close(got.max_drawdown, want[3], scale) and close(got.total, want[0], scale)
    assert len(merged.items) == min(n, len(xs))


@given(st.lists(values, max_size=40), st.integers(1, 10))
def test_last_n_state_round_trip(xs, n):
    w = fold(lambda: LastN(n, MeanVar), xs)
    back = LastN.from_state(json.loads(json.dumps(w.to_state())), MeanVar)
    assert back == w
    assert back.result == w.result


def test_last_n_tuple_items_survive_a_round_trip():
    w = LastN(2, HitCounterOfPairs)
    for item in [(1.0, True), (2.0, False), (3.0, True)]:
        w.update(item)
    back = LastN.from_state(json.loads(json.dumps(w.to_state())), HitCounterOfPairs)
    assert back == w and back.result == w.result == 0.5


class HitCounterOfPairs(HitCounter):
    def update(self, x):
        super().update(x[1])


@given(timed, st.floats(1, 5e3), st.floats(0, 2e4), st.data())
def test_time_window_equals_the_filter_under_any_split(items, span, extra_wm, data):
    """Events with ts > watermark - span, in arrival order, whatever the merge split."""
    merged = TimeWindow(span, MeanVar)
    for lo, hi in splits(data, len(items)):
        merged.merge(fold(lambda: TimeWindow(span, MeanVar), items[lo:hi]))
    own = max((ts for ts, _ in items), default=0.0)
    for wm in (own, own + extra_wm):
        want = [x for ts, x in items if ts > wm - span]
        got = merged.result(watermark=wm)
        assert got.n == len(want)
        if want:
            assert close(got.mean, sum(want) / len(want), max(abs(x) for x in want))


@given(timed, st.floats(1, 5e3))
def test_time_window_state_round_trip(items, span):
    w = fold(lambda: TimeWindow(span, MeanVar), items)
    back = TimeWindow.from_state(json.loads(json.dumps(w.to_state())), MeanVar)
    assert back == w
    assert back.result() == w.result()


def test_time_window_memory_is_bounded_by_the_span():
    w = TimeWindow(10.0, MeanVar)
    for t in range(10_000):
        w.update((float(t), 1.0))
    assert len(w.items) == 10  # ts in (9989, 9999]


def test_time_window_boundary_is_exclusive():
    w = fold(lambda: TimeWindow(10.0, MeanVar), [(0.0, 1.0), (10.0, 2.0)])
    assert w.result().n == 1  # ts 0 is not > 10 - 10


def test_windows_reject_empty_sizes():
    with pytest.raises(ValueError):
        LastN(0, MeanVar)
    with pytest.raises(ValueError):
        TimeWindow(0.0, MeanVar)


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.booleans()), max_size=60), st.data())
def test_keyed_map_equals_group_by_under_any_split(rows, data):
    merged = KeyedMap(HitCounter)
    for lo, hi in splits(data, len(rows)):
        part = KeyedMap(HitCounter)
        for k, x in rows[lo:hi]:
            part.update(k, x)
        merged.merge(part)
    groups = {}
    for k, x in rows:
        groups.setdefault(k, []).append(x)
    assert merged.keys() == sorted(groups)
    for k, xs in groups.items():
        assert merged.get(k).result == sum(xs) / len(xs)
    back = KeyedMap.from_state(
        json.loads(json.dumps(merged.to_state())), HitCounter, HitCounter.from_state
    )
    assert back == merged


def test_keyed_map_of_windows_restores_with_its_factory():
    k = KeyedMap(lambda: LastN(2, MeanVar))
    for key, x in [("a", 1.0), ("a", 2.0), ("a", 3.0), ("b", 5.0)]:
        k.update(key, x)
    back = KeyedMap.from_state(
        k.to_state(), lambda: LastN(2, MeanVar), lambda s: LastN.from_state(s, MeanVar)
    )
    assert back == k
    assert back.get("a").result.mean == 2.5
    assert len(k) == 2


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.lists(st.tuples(st.integers(0, 400), values), max_size=9)),
            st.tuples(st.just("read"), st.integers(0, 150)),
        ),
        max_size=40,
    ),
    st.integers(1, 5),
    st.sampled_from([MeanVar, Drawdown]),
)
def test_chunked_time_window_reads_equal_a_plain_filter(ops, chunk, kind):
    """Cached chunk folds never go stale: after any mix of updates, batch extends and
    reads at later watermarks, a read equals folding the plain list of events."""
    span = 60.0
    w = TimeWindow(span, kind, chunk=chunk)
    seen: list[tuple[float, float]] = []
    for op, arg in ops:
        if op == "add":
            batch = [(float(ts), x) for ts, x in arg]
            if len(batch) == 1:
                w.update(batch[0])
            else:
                w.extend(batch)
            seen += batch
        elif seen:
            wm = max(ts for ts, _ in seen) + arg
            want = fold(kind, [x for ts, x in seen if ts > wm - span])
            got = w.fold(wm).to_state()
            assert all(close(a, b, scale=1e3) for a, b in zip(got, want.to_state(), strict=True))
            assert w.result(wm) == w.fold(wm).result  # a kept read is never stale
    restored = TimeWindow.from_state(json.loads(json.dumps(w.to_state())), kind, chunk=chunk)
    assert restored == w


@given(
    st.lists(st.tuples(st.integers(0, 400), values), max_size=80),
    st.lists(st.integers(1, 30), max_size=6),
    st.integers(1, 6),
    st.integers(0, 100),
)
def test_time_window_blocks_equal_single_updates(items, sizes, chunk, late):
    """Blocks through ``extend_rows`` (any sizes, mixed with single updates) give the
    state and the reads of updating one event at a time."""
    span = 60.0
    one = TimeWindow(span, Drawdown, chunk=chunk)
    rows = TimeWindow(span, Drawdown, chunk=chunk)
    events = [(float(ts), x) for ts, x in items]
    for ev in events:
        one.update(ev)
    i = 0
    for k, n in enumerate(sizes or [len(events) or 1]):
        part = events[i : i + n]
        if k % 2:
            for ev in part:
                rows.update(ev)
        else:
            rows.extend_rows(
                np.array([ts for ts, _ in part], dtype=float), np.array([x for _, x in part])
            )
        i += n
    rows.extend(events[i:])
    assert rows.to_state() == one.to_state()
    if events:
        wm = max(ts for ts, _ in events) + late
        got, want = rows.fold(wm), fold(Drawdown, [x for ts, x in events if ts > wm - span])
        scale = sum(abs(x) for _, x in events) + 1.0
        assert close(got.max_drawdown, want.max_drawdown, scale)
        assert close(got.total, want.total, scale)


@given(timed, st.floats(0, 500), st.floats(0, 500))
def test_forgetting_below_a_watermark_floor_changes_no_later_read(items, floor_gap, later):
    """After ``forget(floor)``, a read at any watermark ≥ floor is unchanged."""
    span = 60.0
    w = fold(lambda: TimeWindow(span, MeanVar, chunk=4), items)
    top = max((ts for ts, _ in items), default=0.0)
    floor, wm = top + floor_gap, top + floor_gap + later
    before = w.fold(wm).to_state()
    w.forget(floor)
    after = w.fold(wm).to_state()
    assert all(close(a, b, scale=1e3) for a, b in zip(after, before, strict=True))


def test_forget_drops_what_has_aged_out_in_arrival_order():
    w = fold(lambda: TimeWindow(60.0, MeanVar, chunk=2), [(float(t), 1.0) for t in range(10)])
    w.forget(65.0)  # sees ts > 5 only
    assert [ts for ts, _ in w.items] == [6.0, 7.0, 8.0, 9.0]


@given(st.lists(st.one_of(values, st.none()), max_size=60), st.integers(1, 8))
def test_last_n_reads_between_updates_are_never_stale(ops, n):
    """A read is kept until the next change: reads interleaved with updates (None
    marks a read) equal a fresh fold of the last n."""
    w = LastN(n, MeanVar)
    seen: list[float] = []
    for x in ops:
        if x is None:
            assert w.result == fold(MeanVar, seen[-n:]).result
        else:
            w.update(x)
            seen.append(x)


@given(timed, st.floats(1, 5e3))
def test_time_window_restores_the_earlier_item_layout(items, span):
    """A state saved as one [ts, item] pair per event (the earlier layout) restores
    to the same window."""
    w = fold(lambda: TimeWindow(span, MeanVar), items)
    earlier = {"span": span, "max_ts": w.max_ts, "items": [list(it) for it in w.items]}
    back = TimeWindow.from_state(json.loads(json.dumps(earlier)), MeanVar)
    assert back == w


def test_time_window_state_keeps_missing_fields_apart_from_zeros():
    w = TimeWindow(60.0, MeanVar)
    w.extend_rows(np.array([1.0, 2.0]), np.array([[0.0, np.nan], [np.nan, 3.0]]))
    state = json.loads(json.dumps(w.to_state()))
    assert state["rows"] == [0.0, 0.0, 0.0, 3.0] and state["missing"] == [1, 2]
    assert TimeWindow.from_state(state, MeanVar).items == [(1.0, (0.0, None)), (2.0, (None, 3.0))]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("kind", [MeanVar, Drawdown])
def test_sliding_reads_over_many_chunks_equal_a_plain_filter(seed, kind):
    """Time mostly rising, small chunks, a read after every step at a rising
    watermark: the path that merges runs of whole chunks from running aggregates
    (rebuilt as the window slides) equals folding the plain list of events in view."""
    rng = random.Random(seed)
    span, chunk = 60.0, 1 + seed % 4
    w = TimeWindow(span, kind, chunk=chunk)
    seen: list[tuple[float, float]] = []
    now = 0.0
    for _ in range(300):
        batch = []
        for _ in range(rng.randint(1, 6)):
            now += rng.random() * 3
            late = now - 80 * rng.random() if rng.random() < 0.03 else now  # a late event
            batch.append((late, rng.uniform(-10, 10)))
        if len(batch) > 1 and rng.random() < 0.5:
            w.extend(batch)
        else:
            for item in batch:
                w.update(item)
        seen += batch
        wm = now + rng.random() * 5
        want = fold(kind, [x for ts, x in seen if ts > wm - span])
        got = w.fold(wm).to_state()
        assert all(close(a, b, scale=1e3) for a, b in zip(got, want.to_state(), strict=True))


def test_reads_do_not_change_a_time_window():
    """to_state, equality and repr are pure: the pending tail stays a tail."""
    w = TimeWindow(100.0, MeanVar, chunk=8)
    for i in range(13):
        w.update((float(i), float(i)))
    before = (len(w._chunks), list(w._tail), list(w._tail_ts))
    state = w.to_state()
    assert w == TimeWindow.from_state(state, MeanVar, chunk=8)
    repr(w)
    assert (len(w._chunks), list(w._tail), list(w._tail_ts)) == before
    assert w.to_state() == state
    assert "TimeWindow" in repr(w)
