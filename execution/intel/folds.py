"""The two domain folds, declared once: closed trades and order outcomes.

A block of events becomes columns (:func:`trade_columns`, :func:`order_columns`);
:data:`TRADES` and :data:`ORDERS` are :class:`~streaming.composite.Composite` folds
over them, so the engine, its windows and the checkpoints all go through the one
protocol of :mod:`streaming.fold`. The win / loss / scratch rule is
:func:`classify`, the only place it is written: the folds derive their flags
with it and the test oracle calls it on plain lists.

:func:`records` reads a pair of tables (trades, orders of the same groups) into
:data:`Records` — one column per :class:`Sufficient` field — from which
:func:`execution.intel.figures.figures` derives the published figures.

>>> import numpy as np
>>> from streaming.fold import Segments
>>> cols = {"pnl": np.array([20.0, -10.0, 0.1]), "risk": np.full(3, 10.0)}
>>> cols["r"] = cols["pnl"] / cols["risk"]
>>> seg = Segments(np.zeros(3, dtype=np.int64))
>>> from streaming.fold import empty
>>> trades = trade_fold(0.05).read(trade_fold(0.05).fold_block(cols, seg))
>>> s = records(trades, ORDERS.read(empty(ORDERS, 1)), np.array([0]))
>>> [s[k].tolist() for k in ("trades", "wins", "losses", "scratches", "sum_r", "max_drawdown_r")]
[[3], [2], [1], [1], [1.01], [1.0]]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from itertools import repeat
from operator import attrgetter
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from execution.intel.events import Order, Trade
from streaming.composite import Composite
from streaming.fold import Bools, Columns, Floats, Ints, Table
from streaming.kernels import Count, Mean, Moments, Sum
from streaming.ordered_kernels import Decayed, Path, Run


@dataclass(frozen=True, slots=True)
class FoldPolicy:
    """Every threshold the folds and the document use, passed in (never a global).

    ``scratch_epsilon_r``: a trade with |R| below it is a scratch; ``dd_penalty``:
    the weight of the drawdown in ``dd_expectancy``; ``dedup_horizon``: ids held for
    de-duplication; ``max_groups``: distinct groups per grouping."""

    scratch_epsilon_r: float = 0.0
    dd_penalty: float = 1.0
    dedup_horizon: int = 100_000
    max_groups: int = 20_000


@dataclass(frozen=True, slots=True)
class RobustPolicy:
    """How the trade fold makes R robust (the figures ``avg_r_robust`` and
    ``avg_r_recent`` and what the score reads).

    ``clip_r``: R is winsorised to [−clip_r, clip_r] before the robust and recent
    moments (R is already in units of risk, so a fixed bound in R is a scale every
    symbol shares and the fold stays a plain mergeable sum: one trade moves a
    symbol's robust mean by at most 2·clip_r / n). ``half_life_trades``: the
    recent moments weigh the j-th last trade with R by 2^(−j / half_life_trades).
    Both chosen by ``benchmarks/bench_score.py`` (``benchmarks/RESULTS-score.md``)."""

    clip_r: float = 3.0
    half_life_trades: float = 50.0

    def __post_init__(self) -> None:
        for name in ("clip_r", "half_life_trades"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a positive number, not {v!r}")


ROBUST: Final = RobustPolicy()


def classify(pnl: Any, r: Any, eps: float) -> tuple[Any, Any, Any]:
    """(win, loss, scratch) of trades: pnl above / below 0, and |R| below ``eps``
    (never when R is unknown: NaN). Arrays or single floats alike."""
    with np.errstate(invalid="ignore"):
        return np.greater(pnl, 0), np.less(pnl, 0), np.less(np.abs(r), eps)


def _derive_trades(eps: float, clip_r: float, c: Columns) -> Columns:
    pnl, r = c["pnl"], c["r"]
    win, loss, scratch = classify(pnl, r, eps)
    has_r = ~np.isnan(r)
    return {
        "pnl": pnl,
        "neg_pnl": -pnl,
        "r": r,
        "r_clip": np.clip(r, -clip_r, clip_r),  # NaN stays NaN (no R)
        "risk": c["risk"],
        "win": win,
        "loss": loss,
        "scratch": scratch,
        "decisive": win & ~scratch,
        "has_r": has_r,
        "has_risk": ~np.isnan(c["risk"]),
        "win_r": has_r & win,
        "loss_r": has_r & loss,
    }


@cache
def trade_fold(eps: float, robust: RobustPolicy = ROBUST) -> Composite:
    """The statistics of closed trades under scratch band ``eps`` and the
    winsorisation and half-life of ``robust``."""
    return Composite(
        [
            ("trades", Count()),
            ("wins", Count("win")),
            ("losses", Count("loss")),
            ("scratches", Count("scratch")),
            ("decisive", Count("decisive")),
            ("risked", Count("has_risk")),
            ("pnl", Sum("pnl")),
            ("profit", Sum("pnl", "win")),
            ("loss", Sum("neg_pnl", "loss")),
            ("risk_pnl", Sum("pnl", "has_risk")),
            ("risk", Sum("risk", "has_risk")),
            ("r", Moments("r", "has_r")),
            ("win_r", Mean("r", "win_r")),
            ("loss_r", Mean("r", "loss_r")),
            ("dd", Path("r", "has_r")),
            ("streak", Run("loss")),
            ("r_robust", Moments("r_clip", "has_r")),
            ("r_recent", Decayed("r_clip", "has_r", half_life=robust.half_life_trades)),
        ],
        partial(_derive_trades, eps, robust.clip_r),
        version=2,
    )


def _derive_orders(c: Columns) -> Columns:
    slip, latency = c["slip"], c["latency"]
    has_slip = ~np.isnan(slip)
    return {
        **c,
        "has_slip": has_slip,
        "slip_cost": slip * c["notional"] / 1e4,
        "has_latency": ~np.isnan(latency),
    }


ORDERS: Final = Composite(
    [
        ("orders", Count()),
        ("fills", Count("filled")),
        ("maker", Count("maker")),
        ("fallbacks", Count("fallback")),
        ("rejects", Count("rejected")),
        ("slippage", Mean("slip", "has_slip")),
        ("slip_cost", Sum("slip_cost", "has_slip")),
        ("notional", Sum("notional")),
        ("latency", Mean("latency", "has_latency")),
    ],
    _derive_orders,
)


# --- events → columns ---------------------------------------------------------------------


def _column(xs: Sequence[Any], field: str) -> Floats:
    """A float field of each record (None → NaN)."""
    nan = math.nan
    values = map(attrgetter(field), xs)
    return np.fromiter((nan if v is None else v for v in values), np.float64, len(xs))


def _required(xs: Sequence[Any], field: str) -> Floats:
    """A float field that every record has."""
    return np.fromiter(map(attrgetter(field), xs), np.float64, len(xs))


def trade_columns(trades: Sequence[Trade]) -> dict[str, Floats]:
    """ts, pnl, R and risk of a block of trades; NaN where R or risk is unknown
    (R is ``r_multiple`` when given, else pnl / risk)."""
    pnl = _required(trades, "pnl_usd")
    risk = _column(trades, "risk_usd")
    given = _column(trades, "r_multiple")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(np.isnan(given), pnl / risk, given)
    return {"ts": _required(trades, "ts"), "pnl": pnl, "r": r, "risk": risk}


# The input columns of each fold, as the two functions build them.
TRADE_INPUTS: Final = ("ts", "pnl", "r", "risk")
ORDER_INPUTS: Final = (
    "ts",
    "filled",
    "maker",
    "fallback",
    "rejected",
    "slip",
    "notional",
    "latency",
)

_STATUS: Final = {"FILLED": 1, "PARTIALLY_FILLED": 1, "REJECTED": 2}


def order_columns(orders: Sequence[Order]) -> dict[str, Any]:
    """ts, fill, maker fill, fallback fill, reject, slippage of a fill (NaN: none),
    notional and latency (NaN: none) of a block of orders."""
    status = np.fromiter(
        map(_STATUS.get, map(attrgetter("status"), orders), repeat(0)), np.int8, len(orders)
    )
    filled = status == 1
    return {
        "ts": _required(orders, "ts"),
        "filled": filled,
        "maker": filled & _required(orders, "is_maker").astype(np.bool_),
        "fallback": filled & _required(orders, "fallback").astype(np.bool_),
        "rejected": status == 2,
        "slip": np.where(filled, _column(orders, "slippage_bps"), np.nan),
        "notional": _required(orders, "notional_usd"),
        "latency": _column(orders, "latency_ms"),
    }


# --- tables → records -------------------------------------------------------------------


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
    mean_r_robust: float | None = None  # mean of R winsorised at ± clip_r
    var_r_robust: float | None = None  # its sample variance, None below two
    mean_r_recent: float | None = None  # exponentially weighted mean of the winsorised R
    var_r_recent: float | None = None  # its weighted variance, None below two
    r_recent_n_eff: float = 0.0  # (Σw)² / Σw²: the trades the weighted mean is worth
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


# Sufficient field ← read column of the trade fold / the order fold
_FROM_TRADES: Final = {
    "trades": "trades.n", "wins": "wins.n", "losses": "losses.n", "scratches": "scratches.n",
    "decisive_wins": "decisive.n", "pnl_usd": "pnl.sum", "gross_profit_usd": "profit.sum",
    "gross_loss_usd": "loss.sum", "risk_trades": "risked.n", "risk_pnl_usd": "risk_pnl.sum",
    "risk_usd": "risk.sum", "r_trades": "r.n", "sum_r": "dd.total", "mean_r": "r.mean",
    "var_r": "r.var", "win_r_trades": "win_r.n", "mean_win_r": "win_r.mean",
    "loss_r_trades": "loss_r.n", "mean_loss_r": "loss_r.mean",
    "max_drawdown_r": "dd.max_drawdown", "longest_loss_streak": "streak.longest",
    "mean_r_robust": "r_robust.mean", "var_r_robust": "r_robust.var",
    "mean_r_recent": "r_recent.mean", "var_r_recent": "r_recent.var",
    "r_recent_n_eff": "r_recent.n_eff",
}  # fmt: skip
_FROM_ORDERS: Final = {
    "orders": "orders.n", "fills": "fills.n", "maker_fills": "maker.n",
    "fallbacks": "fallbacks.n", "rejects": "rejects.n", "slippage_fills": "slippage.n",
    "mean_slippage_bps": "slippage.mean", "slippage_cost_usd": "slip_cost.sum",
    "notional_usd": "notional.sum", "latency_orders": "latency.n",
    "mean_latency_ms": "latency.mean",
}  # fmt: skip


# One column per Sufficient field, one row per group (NaN where a mean is undefined).
Records = dict[str, npt.NDArray[Any]]


def records(trades: Table, orders: Table, rows: Ints) -> Records:
    """The records of ``rows`` from the reads (``fold.read``) of a trade table and an
    order table of the same groups."""
    out: Records = {}
    for read, sources in ((trades, _FROM_TRADES), (orders, _FROM_ORDERS)):
        for name, column in sources.items():
            out[name] = read[column][rows]
    return out


_INTS: Final = frozenset(f.name for f in dataclasses.fields(Sufficient) if f.type == "int")


def records_of(groups: Sequence[Sufficient]) -> Records:
    """The records of plain :class:`Sufficient` values (None → NaN)."""
    out: Records = {}
    for f in dataclasses.fields(Sufficient):
        values = [getattr(s, f.name) for s in groups]
        if f.name in _INTS:
            out[f.name] = np.array(values, dtype=np.int64)
        else:
            out[f.name] = np.array([math.nan if v is None else v for v in values], np.float64)
    return out


def present(trades: Table, orders: Table) -> Bools:
    """Groups with at least one event (trade or order), from the two reads."""
    return np.asarray((trades["trades.n"] > 0) | (orders["orders.n"] > 0))
