"""The two domain folds (``execution.intel.folds``): generated trades and orders of
several groups, folded as grouped blocks (one block, parts merged, one event at a
time, inside each window), read into one ``Sufficient`` record per group that
equals the batch oracle's (``tests.intel.oracle.batch_sufficient``) of that group's
events; the state round-trips exactly; the win / loss / scratch rule, the event
columns and ``present`` follow their definitions.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import warnings
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.intel.events import Event, Order, Trade
from execution.intel.folds import (
    ORDERS,
    Sufficient,
    classify,
    order_columns,
    present,
    records,
    records_of,
    trade_columns,
    trade_fold,
)
from streaming.block import Block
from streaming.fold import (
    FoldStateError,
    Segments,
    Table,
    empty,
    equal,
    from_state,
    grow,
    merge_into,
    step,
    to_state,
)
from streaming.windows import window
from tests.capped import CAPPED
from tests.intel.builders import T0, assert_close, good_event
from tests.intel.oracle import batch_sufficient

epsilons = st.sampled_from([0.0, 0.05, 0.5, 1.0])


@dataclasses.dataclass(frozen=True)
class Case:
    """Trades and orders in arrival order, each with its group code, and the
    number of groups (some may have no event of one kind, or none at all)."""

    groups: int
    trades: tuple[Trade, ...]
    trade_codes: tuple[int, ...]
    orders: tuple[Order, ...]
    order_codes: tuple[int, ...]

    def of(self, g: int) -> tuple[list[Trade], list[Order]]:
        return (
            [t for t, c in zip(self.trades, self.trade_codes, strict=True) if c == g],
            [o for o, c in zip(self.orders, self.order_codes, strict=True) if c == g],
        )


@st.composite
def events_of(draw: st.DrawFn, kind: str, groups: int, most: int) -> tuple[list, list[int]]:
    n = draw(st.integers(0, most))
    ts = T0
    out = []
    for i in range(n):
        ts += draw(st.sampled_from([0.0, 60.0, 600.0, 3600.0, -1800.0]))
        out.append(msgspec.convert(draw(good_event(i, ts, kind)), Event))
    codes = draw(st.lists(st.integers(0, groups - 1), min_size=n, max_size=n))
    return out, codes


@st.composite
def cases(draw: st.DrawFn, most: int = 30) -> Case:
    groups = draw(st.integers(1, 4))
    trades, tcodes = draw(events_of("trade", groups, most))
    orders, ocodes = draw(events_of("order", groups, most))
    return Case(groups, tuple(trades), tuple(tcodes), tuple(orders), tuple(ocodes))


def fold_table(fold: Any, columns: dict, codes: Any, groups: int) -> Table:
    """One fold_block, as a table of ``groups`` rows."""
    seg = Segments(np.asarray(codes, dtype=np.int64))
    return merge_into(fold, empty(fold, groups), seg.groups, fold.fold_block(columns, seg))


def tables(case: Case, eps: float) -> tuple[Table, Table]:
    t = fold_table(trade_fold(eps), trade_columns(case.trades), case.trade_codes, case.groups)
    o = fold_table(ORDERS, order_columns(case.orders), case.order_codes, case.groups)
    return t, o


def row(recs: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """Row ``i`` of records (one column per Sufficient field) as plain values, NaN
    as None: comparable with ``dataclasses.asdict`` of a Sufficient."""
    out = {}
    for name, column in recs.items():
        v = column[i].item()
        out[name] = None if isinstance(v, float) and math.isnan(v) else v
    return out


def assert_rows_are_the_oracles(recs: dict[str, np.ndarray], views: list, eps: float) -> None:
    """Row g of ``recs`` is the oracle's record of views[g] = (trades, orders)."""
    assert list(recs) == [f.name for f in dataclasses.fields(Sufficient)]
    assert all(len(v) == len(views) for v in recs.values())
    for g, (trades, orders) in enumerate(views):
        want = batch_sufficient(trades, orders, eps)
        assert_close(row(recs, g), dataclasses.asdict(want), f"$[{g}]")


def assert_records_are_the_oracles(case: Case, t: Table, o: Table, eps: float) -> None:
    recs = records(trade_fold(eps).read(t), ORDERS.read(o), np.arange(case.groups))
    assert_rows_are_the_oracles(recs, [case.of(g) for g in range(case.groups)], eps)


# --- the records --------------------------------------------------------------------------


@CAPPED
@given(cases(), epsilons)
def test_each_groups_record_is_the_oracles(case, eps):
    """One block of trades and one of orders of several groups: each group's record
    equals the batch oracle of its own events."""
    assert_records_are_the_oracles(case, *tables(case, eps), eps)


@CAPPED
@given(cases(), epsilons, st.data())
def test_parts_merged_and_single_events_give_the_oracles_record(case, eps, data):
    """The events cut anywhere into parts merged in order, or stepped in one at a
    time, give the same records as the oracle."""
    fold = trade_fold(eps)
    tcols, ocols = trade_columns(case.trades), order_columns(case.orders)
    merged = []
    for fold_, cols, codes in ((fold, tcols, case.trade_codes), (ORDERS, ocols, case.order_codes)):
        n = len(codes)
        cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3), label="cuts"))
        table = empty(fold_, case.groups)
        for a, b in itertools.pairwise([0, *cuts, n]):
            part = {k: v[a:b] for k, v in cols.items()}
            table = fold_.merge(table, fold_table(fold_, part, codes[a:b], case.groups))
        merged.append(table)
    assert_records_are_the_oracles(case, *merged, eps)
    stepped = []
    for fold_, cols, codes in ((fold, tcols, case.trade_codes), (ORDERS, ocols, case.order_codes)):
        table = empty(fold_, case.groups)
        for i, g in enumerate(codes):
            table = step(fold_, table, g, {k: v[i : i + 1] for k, v in cols.items()})
        stepped.append(table)
    assert_records_are_the_oracles(case, *stepped, eps)


@CAPPED
@given(cases(most=25), epsilons, st.sampled_from(["all", "last", "time"]), st.data())
def test_windows_of_the_domain_folds_give_the_oracles_record(case, eps, kind, data):
    """A window of each fold fed blocks (all events, each group's last n, the events
    of the last span seconds) gives the oracle's record of each group's events in view."""
    n = data.draw(st.integers(1, 10), label="n")
    span = data.draw(st.sampled_from([60.0, 3600.0, 7200.0]), label="span")
    wins = [
        window(f, trades=n if kind == "last" else None, seconds=span if kind == "time" else None)
        for f in (trade_fold(eps), ORDERS)
    ]
    sides = (
        (case.trades, case.trade_codes, trade_columns),
        (case.orders, case.order_codes, order_columns),
    )
    for w, (evs, codes, columns) in zip(wins, sides, strict=True):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(evs)), max_size=3), label="cuts"))
        for a, b in itertools.pairwise([0, *cuts, len(evs)]):
            if a == b:
                continue
            cols = columns(evs[a:b])
            c = np.asarray(codes[a:b], dtype=np.int64)
            w.absorb(Block(cols["ts"], cols, c, Segments(c), case.groups))
    wm = max((e.ts for e in (*case.trades, *case.orders)), default=T0)
    t, o = (
        grow(f, w.read(wm), case.groups)
        for f, w in zip((trade_fold(eps), ORDERS), wins, strict=True)
    )
    views = []
    for g in range(case.groups):
        trades, orders = case.of(g)
        if kind == "last":
            trades, orders = trades[-n:], orders[-n:]
        elif kind == "time":
            trades = [x for x in trades if x.ts > wm - span]
            orders = [x for x in orders if x.ts > wm - span]
        views.append((trades, orders))
    recs = records(trade_fold(eps).read(t), ORDERS.read(o), np.arange(case.groups))
    assert_rows_are_the_oracles(recs, views, eps)


@CAPPED
@given(cases(most=15), epsilons, st.data())
def test_records_follow_the_rows_asked_for(case, eps, data):
    """``records(…, rows)`` has row ``rows[i]``'s record at i, in any order; and
    ``records_of`` the oracle's records is the same columns."""
    t, o = tables(case, eps)
    reads = trade_fold(eps).read(t), ORDERS.read(o)
    every = records(*reads, np.arange(case.groups))
    rows = data.draw(st.lists(st.integers(0, case.groups - 1), max_size=6), label="rows")
    some = records(*reads, np.array(rows, dtype=np.int64))
    assert [row(some, i) for i in range(len(rows))] == [row(every, r) for r in rows]
    oracle = [batch_sufficient(*case.of(g), eps) for g in range(case.groups)]
    plain = records_of(oracle)
    assert {k: v.dtype for k, v in plain.items()} == {k: v.dtype for k, v in every.items()}
    for g, s in enumerate(oracle):
        assert row(plain, g) == dataclasses.asdict(s)


@CAPPED
@given(cases(most=10), epsilons)
def test_present_marks_groups_with_a_trade_or_an_order(case, eps):
    """``present`` is True exactly for groups with at least one trade or order."""
    t, o = tables(case, eps)
    got = present(trade_fold(eps).read(t), ORDERS.read(o)).tolist()
    assert got == [g in {*case.trade_codes, *case.order_codes} for g in range(case.groups)]


# --- the state ------------------------------------------------------------------------------


@CAPPED
@given(cases(), epsilons)
def test_state_round_trips_exactly_through_strict_json(case, eps):
    """Both folds' tables restore exactly from ``to_state`` through JSON without NaN,
    and a state of the other fold or of another version is refused."""
    t, o = tables(case, eps)
    fold = trade_fold(eps)
    for f, table in ((fold, t), (ORDERS, o)):
        back = from_state(f, json.loads(json.dumps(to_state(f, table), allow_nan=False)))
        assert equal(back, table)
        with pytest.raises(FoldStateError):
            from_state(f, {**to_state(f, table), "version": f.version + 1})
    with pytest.raises(FoldStateError):
        from_state(fold, to_state(ORDERS, o))
    with pytest.raises(FoldStateError):
        from_state(ORDERS, to_state(fold, t))


# --- the rule and the columns ---------------------------------------------------------------

pnl_values = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, -5e-324]) | st.floats(
    -1e15, 1e15, allow_nan=False
)
r_values = st.sampled_from([math.nan, 0.0, -0.0, 0.05, -0.05, 0.5, -0.5, 1.0, math.inf]) | (
    st.floats(-1e12, 1e12, allow_nan=False)
)


@CAPPED
@given(st.lists(st.tuples(pnl_values, r_values), max_size=30), epsilons)
def test_classify_is_the_rule_on_arrays_and_scalars(rows, eps):
    """win: pnl > 0; loss: pnl < 0; scratch: |R| < eps, never when R is unknown
    (NaN); on arrays and on single floats alike, without a warning."""
    pnl = np.array([p for p, _ in rows], dtype=np.float64)
    r = np.array([x for _, x in rows], dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        win, loss, scratch = classify(pnl, r, eps)
        singles = [classify(p, x, eps) for p, x in rows]
    for i, (p, x) in enumerate(rows):
        want = (p > 0, p < 0, not math.isnan(x) and abs(x) < eps)
        assert (bool(win[i]), bool(loss[i]), bool(scratch[i])) == want, (p, x, eps)
        assert tuple(map(bool, singles[i])) == want, (p, x, eps)


@CAPPED
@given(st.lists(st.integers(0, 10**6).flatmap(lambda i: good_event(i, T0 + i, "trade"))))
def test_trade_columns_take_r_multiple_over_pnl_over_risk(dicts):
    """ts and pnl as given; risk NaN when absent; R the given r_multiple, else
    pnl / risk, else NaN."""
    trades = [msgspec.convert(d, Event) for d in dicts]
    cols = trade_columns(trades)
    assert set(cols) == {"ts", "pnl", "r", "risk"}
    for i, d in enumerate(dicts):
        assert cols["ts"][i] == d["ts"] and cols["pnl"][i] == d["pnl_usd"]
        risk = d.get("risk_usd")
        assert math.isnan(cols["risk"][i]) if risk is None else cols["risk"][i] == risk
        if "r_multiple" in d:
            want = d["r_multiple"]
        elif risk is not None:
            want = d["pnl_usd"] / risk
        else:
            want = math.nan
        got = float(cols["r"][i])
        assert (math.isnan(got) and math.isnan(want)) or got == want, (d, got)
        assert (trades[i].r is None) == math.isnan(got)


@CAPPED
@given(st.lists(st.integers(0, 10**6).flatmap(lambda i: good_event(i, T0 + i, "order"))))
def test_order_columns_follow_the_status(dicts):
    """A fill (FILLED or PARTIALLY_FILLED) counts maker and fallback and carries its
    slippage (else NaN); REJECTED is a reject; latency NaN when absent."""
    orders = [msgspec.convert(d, Event) for d in dicts]
    cols = order_columns(orders)
    for i, d in enumerate(dicts):
        filled = d["status"] in ("FILLED", "PARTIALLY_FILLED")
        assert bool(cols["filled"][i]) == filled
        assert bool(cols["maker"][i]) == (filled and d["is_maker"])
        assert bool(cols["fallback"][i]) == (filled and d["fallback"])
        assert bool(cols["rejected"][i]) == (d["status"] == "REJECTED")
        slip = d.get("slippage_bps") if filled else None
        assert math.isnan(cols["slip"][i]) if slip is None else cols["slip"][i] == slip
        latency = d.get("latency_ms")
        assert math.isnan(cols["latency"][i]) if latency is None else cols["latency"][i] == latency
        assert cols["notional"][i] == d["notional_usd"] and cols["ts"][i] == d["ts"]


# --- hand-computed cases ------------------------------------------------------------------


def _trades(rs: list[float], risk: float = 10.0) -> list[Trade]:
    return [
        Trade(ts=T0 + i, symbol="X", trade_id=f"t{i}", pnl_usd=r * risk, risk_usd=risk)
        for i, r in enumerate(rs)
    ]


def test_a_merge_joins_loss_streaks_and_drawdowns_across_the_seam():
    """R 1, -1, -1 then -1, 3: a streak of three losses and a fall of 3 R across
    the seam."""
    fold = trade_fold(0.05)
    a, b = (
        fold_table(fold, trade_columns(ts), [0] * len(ts), 1)
        for ts in (_trades([1.0, -1.0, -1.0]), _trades([-1.0, 3.0]))
    )
    s = row(records(fold.read(fold.merge(a, b)), ORDERS.read(empty(ORDERS, 1)), np.array([0])), 0)
    assert (s["longest_loss_streak"], s["max_drawdown_r"], s["sum_r"], s["trades"]) == (
        3,
        3.0,
        1.0,
        5,
    )


def test_an_empty_group_reads_the_empty_record():
    """No event: every count and sum 0, every mean and variance None."""
    fold = trade_fold(0.05)
    s = row(records(fold.read(empty(fold, 1)), ORDERS.read(empty(ORDERS, 1)), np.array([0])), 0)
    assert s == dataclasses.asdict(Sufficient())


def test_scratches_are_small_r_wins_and_losses():
    """pnl 20, -10, 0.1 on risk 10 under eps 0.05: two wins, one loss, one scratch
    (R 0.01), one decisive win, Σ R 1.01, a fall of 1 R."""
    fold = trade_fold(0.05)
    t = fold_table(fold, trade_columns(_trades([2.0, -1.0, 0.01])), [0, 0, 0], 1)
    s = row(records(fold.read(t), ORDERS.read(empty(ORDERS, 1)), np.array([0])), 0)
    counts = [s[k] for k in ("trades", "wins", "losses", "scratches", "decisive_wins")]
    assert counts == [3, 2, 1, 1, 1]
    assert s["sum_r"] == pytest.approx(1.01) and s["max_drawdown_r"] == 1.0
