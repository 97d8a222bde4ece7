"""The per-group sufficient statistics behind every expectancy figure, as monoids.

:class:`TradeStats` folds closed trades, :class:`OrderStats` order outcomes. Both
are built from the generic accumulators of :mod:`streaming.stats`, so they inherit
their laws: ``update`` one event at a time, ``merge`` (the other's events come
after), the empty one is the identity, and ``to_state``/``from_state`` round-trip
exactly. Their ``result`` is a :class:`Sufficient` record of plain numbers, from
which :func:`execution.intel.figures.figures` derives the published figures; the
batch oracle computes the same record directly from event lists.

Events enter as small tuples (:func:`trade_item`, :func:`order_item`) rather than
objects, so windows can hold them cheaply and checkpoints can store them as JSON.
A block of events can also enter at once as numpy columns (:func:`trade_columns`,
:func:`order_columns`, :meth:`TradeStats.of_columns`): the block's state is built
with vectorised code and merged, which equals updating one event at a time up to
float rounding (every sum is compensated, :mod:`streaming.stats.sums`, so all
paths agree with ``math.fsum`` within 1e-9 relative). ``extend`` takes that path for
long runs of items, so windows read fast too; ``of_blocks`` builds the states of
many blocks at once, padded side by side into shared columns, for windows read
together.

>>> ts = TradeStats(scratch_epsilon_r=0.05)
>>> for pnl, risk in [(20.0, 10.0), (-10.0, 10.0), (0.1, 10.0)]:
...     ts.update((pnl, pnl / risk, risk))
>>> s = ts.result
>>> s.trades, s.wins, s.losses, s.scratches, s.sum_r, s.max_drawdown_r
(3, 2, 1, 1, 1.01, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from operator import attrgetter
from typing import Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

from execution.intel.events import Order, Trade
from streaming.stats import Accumulator, CompensatedSum, Drawdown, MeanVar, Streak
from streaming.windows import row_items

# (pnl_usd, r or None, risk_usd or None)
TradeItem = tuple[float, float | None, float | None]
# (filled, is_maker, fallback, rejected, slippage_bps or None, notional_usd, latency_ms or None)
OrderItem = tuple[bool, bool, bool, bool, float | None, float, float | None]


def trade_item(t: Trade) -> TradeItem:
    return (t.pnl_usd, t.r, t.risk_usd)


def order_item(o: Order) -> OrderItem:
    filled = o.filled
    return (
        filled,
        filled and o.is_maker,
        filled and o.fallback,
        o.status == "REJECTED",
        o.slippage_bps if filled else None,
        o.notional_usd,
        o.latency_ms,
    )


Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
# Below this many items a block is folded one by one: numpy's per-call cost wins.
VECTOR_MIN = 48
# From this many items a block is folded alone: its numpy calls are worth their cost,
# and padded columns side by side would take more memory than they save in calls.
SIDE_BY_SIDE_MAX = 256


def _floats(xs: Sequence[float | None]) -> Floats:
    """Floats with None as NaN (the fields it applies to are finite by contract)."""
    return np.array(xs, dtype=np.float64)


def _count(mask: Bools) -> int:
    return int(np.count_nonzero(mask))


def _counts(masks: Bools) -> npt.NDArray[np.intp]:
    """True places per row."""
    return np.asarray(np.count_nonzero(masks, axis=1), dtype=np.intp)


def _column(xs: Sequence[Any], field: str) -> Floats:
    """A float field of each record (None → NaN)."""
    return _floats(list(map(attrgetter(field), xs)))


def _required(xs: Sequence[Any], field: str) -> Floats:
    """A float field that every record has."""
    return np.fromiter(map(attrgetter(field), xs), np.float64, len(xs))


def _padded(rows: Floats, lengths: npt.NDArray[np.intp], pad: Floats) -> Floats:
    """Consecutive blocks of ``rows`` (``lengths`` rows each) side by side, padded
    with ``pad`` to the longest: an array of (column, block, place)."""
    width = int(lengths.max()) if len(lengths) else 0
    out = np.empty((rows.shape[1], len(lengths), width))
    out[:] = pad[:, None, None]
    starts = np.cumsum(lengths) - lengths
    block = np.repeat(np.arange(len(lengths)), lengths)
    place = np.arange(len(rows)) - np.repeat(starts, lengths)
    out[:, block, place] = rows.T
    return out


def _buckets(lengths: npt.NDArray[np.intp]) -> list[npt.NDArray[np.intp]]:
    """Block numbers grouped by length within a factor of two, so padding each group
    to its longest at most doubles it."""
    bits = np.frexp(np.maximum(lengths, 1).astype(np.float64))[1]
    return [np.flatnonzero(bits == b) for b in sorted(set(bits.tolist()))]


def trade_columns(trades: Sequence[Trade]) -> tuple[Floats, Floats, Floats]:
    """(pnl, R, risk) of a block of trades; NaN where R or risk is unknown."""
    pnl = _required(trades, "pnl_usd")
    risk = _column(trades, "risk_usd")
    given = _column(trades, "r_multiple")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.isnan(given), pnl / risk, given)
    return pnl, r, risk


_STATUS: Final = {"FILLED": 1, "PARTIALLY_FILLED": 1, "REJECTED": 2}


def order_columns(
    orders: Sequence[Order],
) -> tuple[Bools, Bools, Bools, Bools, Floats, Floats, Floats]:
    """The :data:`OrderItem` fields of a block of orders as columns (NaN = None)."""
    status = np.fromiter(
        map(_STATUS.get, map(attrgetter("status"), orders), repeat(0)), np.int8, len(orders)
    )
    filled = status == 1
    slip = _column(orders, "slippage_bps")
    return (
        filled,
        filled & _column(orders, "is_maker").astype(np.bool_),
        filled & _column(orders, "fallback").astype(np.bool_),
        status == 2,
        np.where(filled, slip, np.nan),
        _required(orders, "notional_usd"),
        _column(orders, "latency_ms"),
    )


@dataclass(frozen=True, slots=True)
class Sufficient:
    """Everything the figures of one group under one window are computed from."""

    trades: int = 0
    wins: int = 0
    losses: int = 0
    scratches: int = 0  # trades with |R| < epsilon
    decisive_wins: int = 0  # wins that are not scratches
    pnl_usd: float = 0.0
    gross_profit_usd: float = 0.0
    gross_loss_usd: float = 0.0  # positive
    risk_trades: int = 0
    risk_pnl_usd: float = 0.0  # Σ pnl over trades with risk_usd
    risk_usd: float = 0.0  # Σ risk_usd
    r_trades: int = 0
    sum_r: float = 0.0
    mean_r: float | None = None
    var_r: float | None = None  # sample variance, None below two
    win_r_trades: int = 0
    mean_win_r: float | None = None
    loss_r_trades: int = 0
    mean_loss_r: float | None = None
    max_drawdown_r: float = 0.0
    longest_loss_streak: int = 0
    orders: int = 0
    fills: int = 0
    maker_fills: int = 0
    fallbacks: int = 0
    rejects: int = 0
    slippage_fills: int = 0
    mean_slippage_bps: float | None = None
    slippage_cost_usd: float = 0.0  # Σ slippage_bps × notional / 1e4 over fills
    notional_usd: float = 0.0
    latency_orders: int = 0
    mean_latency_ms: float | None = None


class _Composite(Accumulator[Sequence[Any], Sufficient]):
    """Integer counters plus named sub-accumulators, merged and saved part by part."""

    __slots__ = ("_kept", "counts")
    _parts: tuple[str, ...] = ()
    counts: list[int]
    _kept: Sufficient | None  # the result until the next change

    @property
    def result(self) -> Sufficient:
        if self._kept is None:
            self._kept = self._result()
        return self._kept

    def _result(self) -> Sufficient:
        raise NotImplementedError

    def extend(self, xs: Iterable[Sequence[Any]]) -> None:
        items = xs if isinstance(xs, list) else list(xs)
        if len(items) < VECTOR_MIN:
            super().extend(items)
        else:
            self.merge(self._of_rows(_floats(items)))  # type: ignore[arg-type]

    def extend_rows(self, rows: npt.NDArray[np.float64]) -> None:
        """Absorb a block of item rows (one column per item field, NaN = None), as a
        time window holds them."""
        if len(rows) < VECTOR_MIN:
            super().extend(row_items(rows))
        elif self.counts[0] == 0:  # empty: take the block's fresh parts as they are
            block = self._of_rows(rows)
            self._kept = None
            self.counts = block.counts
            for name in self._parts:
                setattr(self, name, getattr(block, name))
        else:
            self.merge(self._of_rows(rows))

    def _of_rows(self, rows: npt.NDArray[np.float64]) -> Self:
        """The block state of item rows (one column per item field, NaN = None)."""
        raise NotImplementedError

    # the row an item of no effect pads a block with: 0 for counters, NaN = None
    _PAD: ClassVar[Floats]

    def of_blocks(self, rows: Floats, lengths: Sequence[int]) -> list[Self]:
        """The state of each block of consecutive item ``rows`` (``lengths`` rows
        each), as ``extend_rows`` on an empty accumulator builds it: short blocks
        item by item; long ones all at once, side by side with vectorised code
        (equal up to float rounding), so many windows read for the cost of a few
        block folds."""
        lens = np.asarray(lengths, dtype=np.intp)
        out: list[Any] = [None] * len(lens)
        starts = np.cumsum(lens) - lens
        for i in np.flatnonzero(lens < VECTOR_MIN).tolist():
            block = out[i] = self._blank_of(None)
            block.extend(row_items(rows[starts[i] : starts[i] + lens[i]]))
        for i in np.flatnonzero(lens >= SIDE_BY_SIDE_MAX).tolist():
            out[i] = self._of_rows(rows[starts[i] : starts[i] + lens[i]])
        long = np.flatnonzero((lens >= VECTOR_MIN) & (lens < SIDE_BY_SIDE_MAX))
        for bucket in _buckets(lens[long]):
            numbers = long[bucket]
            chosen = np.zeros(len(lens), dtype=np.bool_)
            chosen[numbers] = True
            cols = _padded(rows[np.repeat(chosen, lens)], lens[numbers], self._PAD)
            states = self._of_padded(cols, lens[numbers])
            for i, state in zip(numbers.tolist(), states, strict=True):
                out[i] = state
        return out

    def _blank_of(self, counts: list[int] | None) -> Self:
        """An empty accumulator like this one (``counts`` given: one whose parts the
        caller sets)."""
        raise NotImplementedError

    def _of_padded(self, cols: Floats, lengths: npt.NDArray[np.intp]) -> list[Self]:
        """The states of blocks given as padded columns (see :func:`_padded`)."""
        raise NotImplementedError

    def _assemble(self, counts: list[npt.NDArray[np.intp]], parts: list[list[Any]]) -> list[Self]:
        """Block states from per-block counters and, per name in ``_parts``, the
        per-block part states."""
        out: list[Self] = []
        names = self._parts
        for c, ps in zip(np.stack(counts, axis=1).tolist(), zip(*parts, strict=True), strict=True):
            s = self._blank_of(c)
            for name, part in zip(names, ps, strict=True):
                setattr(s, name, part)
            out.append(s)
        return out

    def merge(self, other: Self) -> None:
        self._kept = None
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        for name in self._parts:
            getattr(self, name).merge(getattr(other, name))

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"counts": list(self.counts)}
        for name in self._parts:
            state[name] = getattr(self, name).to_state()
        return state

    def _restore(self, state: dict[str, Any]) -> Self:
        self._kept = None
        self.counts = [int(v) for v in state["counts"]]
        for name in self._parts:
            setattr(self, name, type(getattr(self, name)).from_state(state[name]))
        return self


class TradeStats(_Composite):
    """Closed trades of one group: counts, sums, R moments, drawdown, loss streak."""

    __slots__ = (
        "dd",
        "eps",
        "gross_loss",
        "gross_profit",
        "loss_r",
        "pnl",
        "r",
        "risk",
        "risk_pnl",
        "streak",
        "win_r",
    )

    _parts = (
        "pnl", "gross_profit", "gross_loss", "risk_pnl", "risk", "r", "win_r", "loss_r", "dd",
        "streak",
    )  # fmt: skip

    def __init__(self, scratch_epsilon_r: float = 0.0) -> None:
        self._kept = None
        self.eps = scratch_epsilon_r
        # trades, wins, losses, scratches, decisive wins, trades with risk
        self.counts = [0, 0, 0, 0, 0, 0]
        self.pnl = CompensatedSum()
        self.gross_profit = CompensatedSum()
        self.gross_loss = CompensatedSum()
        self.risk_pnl = CompensatedSum()
        self.risk = CompensatedSum()
        self.r = MeanVar()
        self.win_r = MeanVar()
        self.loss_r = MeanVar()
        self.dd = Drawdown()
        self.streak = Streak()

    def update(self, x: Sequence[Any]) -> None:
        pnl, r, risk = x
        self._kept = None
        c = self.counts
        c[0] += 1
        scratch = r is not None and abs(r) < self.eps
        if pnl > 0:
            c[1] += 1
            self.gross_profit.update(pnl)
            if not scratch:
                c[4] += 1
        elif pnl < 0:
            c[2] += 1
            self.gross_loss.update(-pnl)
        if scratch:
            c[3] += 1
        self.pnl.update(pnl)
        if risk is not None:
            c[5] += 1
            self.risk_pnl.update(pnl)
            self.risk.update(risk)
        if r is not None:
            self.r.update(r)
            self.dd.update(r)
            if pnl > 0:
                self.win_r.update(r)
            elif pnl < 0:
                self.loss_r.update(r)
        self.streak.update(pnl < 0)

    @classmethod
    def of_columns(cls, eps: float, pnl: Floats, r: Floats, risk: Floats) -> Self:
        """The state after updating on each trade of a block given as columns."""
        s = cls.__new__(cls)  # every part is set below
        s.eps, s._kept = eps, None
        win, loss = pnl > 0, pnl < 0
        has_r, has_risk = r == r, risk == risk  # noqa: PLR0124 - False where NaN
        scratch = np.abs(r) < eps  # False where R is unknown (NaN)
        count = _count
        s.counts = [
            len(pnl),
            count(win),
            count(loss),
            count(scratch),
            count(win & ~scratch),
            count(has_risk),
        ]
        total = CompensatedSum.of_block
        s.pnl = total(pnl)
        s.gross_profit = total(pnl[win])
        s.gross_loss = total(pnl[loss]).negated()  # = Σ -pnl exactly
        s.risk_pnl = total(pnl[has_risk])
        s.risk = total(risk[has_risk])
        known = r[has_r]
        s.r = MeanVar.of_block(known)
        s.win_r = MeanVar.of_block(known[win[has_r]])
        s.loss_r = MeanVar.of_block(known[loss[has_r]])
        s.dd = Drawdown.of_block(known)
        s.streak = Streak.of_block(loss)
        return s

    def _of_rows(self, rows: Floats) -> Self:
        return self.of_columns(self.eps, rows[:, 0], rows[:, 1], rows[:, 2])

    _PAD = np.array([0.0, np.nan, np.nan])

    def _blank_of(self, counts: list[int] | None) -> Self:
        if counts is None:
            return type(self)(self.eps)
        s = object.__new__(type(self))
        s.eps, s._kept, s.counts = self.eps, None, counts
        return s

    def _of_padded(self, cols: Floats, lengths: npt.NDArray[np.intp]) -> list[Self]:
        pnl, r, risk = cols
        win, loss = pnl > 0, pnl < 0
        has_r, has_risk = r == r, risk == risk  # noqa: PLR0124 - False where NaN
        scratch = np.abs(r) < self.eps
        count = _counts
        sums, moments = CompensatedSum.of_padded, MeanVar.of_padded
        return self._assemble(
            [lengths, count(win), count(loss), count(scratch), count(win & ~scratch),
             count(has_risk)],
            [
                sums(pnl),
                sums(np.where(win, pnl, 0.0)),
                sums(np.where(loss, -pnl, 0.0)),
                sums(np.where(has_risk, pnl, 0.0)),
                sums(np.where(has_risk, risk, 0.0)),
                moments(r, has_r),
                moments(r, has_r & win),
                moments(r, has_r & loss),
                Drawdown.of_padded(np.where(has_r, r, 0.0)),
                Streak.of_padded(loss, lengths),
            ],
        )  # fmt: skip

    def _result(self) -> Sufficient:
        trades, wins, losses, scratches, decisive, risk_trades = self.counts
        r, win_r, loss_r = self.r.result, self.win_r.result, self.loss_r.result
        return Sufficient(
            trades=trades,
            wins=wins,
            losses=losses,
            scratches=scratches,
            decisive_wins=decisive,
            pnl_usd=self.pnl.result,
            gross_profit_usd=self.gross_profit.result,
            gross_loss_usd=self.gross_loss.result,
            risk_trades=risk_trades,
            risk_pnl_usd=self.risk_pnl.result,
            risk_usd=self.risk.result,
            r_trades=r.n,
            sum_r=self.dd.result.total,
            mean_r=r.mean,
            var_r=r.variance,
            win_r_trades=win_r.n,
            mean_win_r=win_r.mean,
            loss_r_trades=loss_r.n,
            mean_loss_r=loss_r.mean,
            max_drawdown_r=self.dd.max_drawdown,
            longest_loss_streak=self.streak.result,
        )

    def to_state(self) -> dict[str, Any]:
        return {"eps": self.eps, **super().to_state()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls(float(state["eps"]))._restore(state)


class OrderStats(_Composite):
    """Order outcomes of one group: fills, maker share, fallbacks, rejects, slippage."""

    __slots__ = ("latency", "notional", "slip_cost", "slippage")

    _parts = ("slippage", "slip_cost", "notional", "latency")

    def __init__(self) -> None:
        self._kept = None
        # orders, fills, maker fills, fallbacks, rejects
        self.counts = [0, 0, 0, 0, 0]
        self.slippage = MeanVar()
        self.slip_cost = CompensatedSum()
        self.notional = CompensatedSum()
        self.latency = MeanVar()

    def update(self, x: Sequence[Any]) -> None:
        filled, maker, fallback, rejected, slippage, notional, latency = x
        self._kept = None
        c = self.counts
        c[0] += 1
        if filled:
            c[1] += 1
            if maker:
                c[2] += 1
            if fallback:
                c[3] += 1
            if slippage is not None:
                self.slippage.update(slippage)
                self.slip_cost.update(slippage * notional / 1e4)
        if rejected:
            c[4] += 1
        self.notional.update(notional)
        if latency is not None:
            self.latency.update(latency)

    @classmethod
    def of_columns(  # noqa: PLR0917 - one positional column per OrderItem field
        cls,
        filled: Bools,
        maker: Bools,
        fallback: Bools,
        rejected: Bools,
        slippage: Floats,
        notional: Floats,
        latency: Floats,
    ) -> Self:
        """The state after updating on each order of a block given as columns."""
        s = cls()
        count = _count
        s.counts = [len(filled), count(filled), count(maker), count(fallback), count(rejected)]
        slipped = slippage == slippage  # noqa: PLR0124 - False where NaN
        s.slippage = MeanVar.of_block(slippage[slipped])
        s.slip_cost = CompensatedSum.of_block(slippage[slipped] * notional[slipped] / 1e4)
        s.notional = CompensatedSum.of_block(notional)
        s.latency = MeanVar.of_block(latency[latency == latency])  # noqa: PLR0124
        return s

    _PAD = np.array([0.0, 0.0, 0.0, 0.0, np.nan, 0.0, np.nan])

    def _blank_of(self, counts: list[int] | None) -> Self:
        if counts is None:
            return type(self)()
        s = object.__new__(type(self))
        s._kept, s.counts = None, counts
        return s

    def _of_padded(self, cols: Floats, lengths: npt.NDArray[np.intp]) -> list[Self]:
        flags = cols[:4] == 1.0
        slippage, notional, latency = cols[4:]
        slipped = slippage == slippage  # noqa: PLR0124 - False where NaN
        count = _counts
        sums, moments = CompensatedSum.of_padded, MeanVar.of_padded
        return self._assemble(
            [lengths, *(count(f) for f in flags)],
            [
                moments(slippage, slipped),
                sums(np.where(slipped, slippage * notional / 1e4, 0.0)),
                sums(notional),
                moments(latency, latency == latency),  # noqa: PLR0124
            ],
        )

    def _of_rows(self, rows: Floats) -> Self:
        flags = rows[:, :4] == 1.0
        return self.of_columns(
            flags[:, 0], flags[:, 1], flags[:, 2], flags[:, 3], rows[:, 4], rows[:, 5], rows[:, 6]
        )

    def _result(self) -> Sufficient:
        orders, fills, maker, fallbacks, rejects = self.counts
        slip, lat = self.slippage.result, self.latency.result
        return Sufficient(
            orders=orders,
            fills=fills,
            maker_fills=maker,
            fallbacks=fallbacks,
            rejects=rejects,
            slippage_fills=slip.n,
            mean_slippage_bps=slip.mean,
            slippage_cost_usd=self.slip_cost.result,
            notional_usd=self.notional.result,
            latency_orders=lat.n,
            mean_latency_ms=lat.mean,
        )

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        return cls()._restore(state)


def combine(trades: Sufficient, orders: Sufficient) -> Sufficient:
    """One group's record: trade fields from ``trades``, order fields from ``orders``."""
    return replace(
        trades,
        orders=orders.orders,
        fills=orders.fills,
        maker_fills=orders.maker_fills,
        fallbacks=orders.fallbacks,
        rejects=orders.rejects,
        slippage_fills=orders.slippage_fills,
        mean_slippage_bps=orders.mean_slippage_bps,
        slippage_cost_usd=orders.slippage_cost_usd,
        notional_usd=orders.notional_usd,
        latency_orders=orders.latency_orders,
        mean_latency_ms=orders.mean_latency_ms,
    )
