"""Published figures of groups under one window (architecture §4), from their
records (:data:`~execution.intel.folds.Records`: one column per
:class:`~execution.intel.folds.Sufficient` field, one row per group).

Pure functions, no state, computed for all groups at once with numpy. Every
figure is a number or ``null``; a ``null`` comes with its reason in the group's
``null_reasons`` (figure → reason), never a sentinel such as 0, 100 or NaN standing
in for "undefined".

Beyond §4 (trades, wins, losses, hit_rate, avg_r, expectancy_per_risk, pnl_usd,
max_drawdown_r, dd_expectancy, fills, maker_fill_rate, fallback_rate,
avg_slippage_bps, notional_usd, reject_rate):

* ``scratches`` — trades with |R| below ``scratch_epsilon_r``, and
  ``decisive_hit_rate`` — wins among the trades that are not scratches, so a run of
  break-even exits neither flatters nor hides the hit rate;
* ``hit_rate_lb95`` — Wilson lower bound (95 %) of the hit rate: what the hit rate
  is at least, given how few trades there are;
* ``avg_win_r``, ``avg_loss_r``, ``profit_factor`` (gross profit / gross loss),
  ``longest_loss_streak``;
* ``r_std`` (sample) and ``sqn`` = √n · avg_r / r_std (Van Tharp's system quality
  number over the window's R);
* ``slippage_cost_usd`` = Σ slippage_bps × notional / 10⁴ over fills, and
  ``slippage_cost_r`` = slippage cost / Σ risk_usd: the R given up to slippage per
  unit of risk taken, directly comparable with ``expectancy_per_risk``;
* ``orders``, ``rejects``, ``avg_latency_ms``, ``r_trades``;
* ``avg_r_robust`` and ``r_std_robust`` — mean and sample standard deviation of R
  winsorised at ± ``clip_r`` (:class:`~execution.intel.folds.RobustPolicy`): one
  outlier trade moves the mean by at most 2·clip_r / n;
* ``avg_r_recent``, ``r_std_recent`` and ``r_recent_trades`` — the same winsorised
  R exponentially weighted (half-life ``half_life_trades`` trades): mean, weighted
  standard deviation and the effective number of trades (Σw)² / Σw².

The decoder's numeric policy keeps every sum and mean finite; a ratio of finite
figures can still overflow (a profit of 1e15 over a loss of 5e-324): such a figure is
``null`` with the reason ``"out of range"``.

>>> from execution.intel.folds import Sufficient, records_of
>>> f, = figures(records_of([Sufficient(trades=2, wins=1, losses=1, r_trades=2, sum_r=1.0,
...     mean_r=0.5, var_r=4.5, max_drawdown_r=1.0, pnl_usd=50.0)]), dd_penalty=1.0)
>>> f["hit_rate"], f["avg_r"], f["dd_expectancy"], round(f["sqn"], 6)
(0.5, 0.5, 0.0, 0.333333)
>>> f["maker_fill_rate"], f["null_reasons"]["maker_fill_rate"]
(None, 'no fills')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054  # two-sided 95 % normal quantile

# The figures of a group, in document order (§4 first, then the extras).
FIGURES = (
    "trades",
    "wins",
    "losses",
    "hit_rate",
    "avg_r",
    "expectancy_per_risk",
    "pnl_usd",
    "max_drawdown_r",
    "dd_expectancy",
    "fills",
    "maker_fill_rate",
    "fallback_rate",
    "avg_slippage_bps",
    "notional_usd",
    "orders",
    "rejects",
    "reject_rate",
    "scratches",
    "decisive_hit_rate",
    "hit_rate_lb95",
    "r_trades",
    "r_std",
    "sqn",
    "avg_win_r",
    "avg_loss_r",
    "profit_factor",
    "longest_loss_streak",
    "slippage_cost_usd",
    "slippage_cost_r",
    "avg_latency_ms",
    "avg_r_robust",
    "r_std_robust",
    "avg_r_recent",
    "r_std_recent",
    "r_recent_trades",
)


Floats = npt.NDArray[np.float64]


def wilson_lower_bound(hits: Any, n: Any, z: float = Z95) -> Any:
    """Lower end of the Wilson score interval of a proportion (NaN where n = 0);
    numbers or arrays.

    >>> round(float(wilson_lower_bound(8, 10)), 4), float(wilson_lower_bound(0, 0))
    (0.4902, nan)
    """
    hits, n = np.asarray(hits, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = hits / n
        z2 = z * z
        centre = p + z2 / (2 * n)
        spread = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        return np.where(n > 0, np.maximum(0.0, (centre - spread) / (1 + z2 / n)), np.nan)


class _Figures:
    """Figure columns under construction: each a float column (NaN = null) and,
    where null, the reason."""

    __slots__ = ("defined", "reasons", "values")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.defined: dict[str, Any] = {}
        self.reasons: dict[str, list[tuple[Any, str]]] = {}

    def set(self, name: str, value: Any, defined: Any = True, *why: tuple[Any, str]) -> None:
        """``value`` where ``defined``; elsewhere null, for the first reason whose
        mask holds there (masks are tried in order)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            self.values[name] = np.where(defined, value, np.nan)
        self.defined[name] = defined
        if why:
            self.reasons[name] = [(np.asarray(mask) & ~np.asarray(defined), text)
                                  for mask, text in why]  # fmt: skip


def _div(num: Any, den: Any) -> Floats:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.asarray(np.divide(num, np.where(den == 0, 1, den)), dtype=np.float64)


def figures(rec: Mapping[str, Any], *, dd_penalty: float) -> list[dict[str, Any]]:
    """The published figures of each group (row) of ``rec`` (module docstring)."""
    n = len(rec["trades"])
    if n == 0:
        return []
    with np.errstate(all="ignore"):  # an overflow is a figure out of range, below
        return _figures(rec, n, dd_penalty)


def _figures(rec: Mapping[str, Any], n: int, dd_penalty: float) -> list[dict[str, Any]]:
    g = {k: np.asarray(v, dtype=np.float64) for k, v in rec.items()}
    f = _Figures()
    ALL = np.ones(n, dtype=np.bool_)  # noqa: N806 - a constant mask
    trades, orders, fills = g["trades"], g["orders"], g["fills"]
    has_trades = trades > 0
    for name in ("trades", "wins", "losses", "pnl_usd", "max_drawdown_r", "fills",
                 "notional_usd", "orders", "rejects", "scratches", "r_trades",
                 "longest_loss_streak", "slippage_cost_usd"):  # fmt: skip
        f.set(name, g[name])
    f.set("hit_rate", _div(g["wins"], trades), has_trades, (ALL, "no trades"))
    f.set("hit_rate_lb95", wilson_lower_bound(g["wins"], trades), has_trades, (ALL, "no trades"))
    decisive = trades - g["scratches"]
    f.set("decisive_hit_rate", _div(g["decisive_wins"], decisive), decisive > 0,
          (~has_trades, "no trades"), (ALL, "only scratch trades"))  # fmt: skip
    mean_r = g["mean_r"]
    has_r = (g["r_trades"] > 0) & ~np.isnan(mean_r)
    f.set("avg_r", mean_r, has_r, (ALL, "no trades with R"))
    f.set("dd_expectancy", mean_r - _div(dd_penalty * g["max_drawdown_r"], g["r_trades"]), has_r,
          (ALL, "no trades with R"))  # fmt: skip
    var = g["var_r"]
    has_var = ~np.isnan(var)
    std = np.sqrt(np.maximum(np.where(has_var, var, 0.0), 0.0))
    f.set("r_std", std, has_var, (ALL, "fewer than 2 trades with R"))
    f.set("sqn", _div(np.sqrt(g["r_trades"]) * mean_r, std), has_var & (std > 0) & has_r,
          (~has_var, "fewer than 2 trades with R"), (ALL, "R does not vary"))  # fmt: skip
    risked = (g["risk_trades"] > 0) & (g["risk_usd"] > 0)
    f.set("expectancy_per_risk", _div(g["risk_pnl_usd"], g["risk_usd"]), risked,
          (ALL, "no trades with risk_usd"))  # fmt: skip
    f.set("slippage_cost_r", _div(g["slippage_cost_usd"], g["risk_usd"]), risked,
          (ALL, "no trades with risk_usd"))  # fmt: skip
    for name, count, mean, why in (
        ("avg_win_r", "win_r_trades", "mean_win_r", "winning"),
        ("avg_loss_r", "loss_r_trades", "mean_loss_r", "losing"),
    ):
        f.set(name, g[mean], (g[count] > 0) & ~np.isnan(g[mean]), (ALL, f"no {why} trades with R"))
    f.set(
        "profit_factor",
        _div(g["gross_profit_usd"], g["gross_loss_usd"]),
        g["gross_loss_usd"] > 0,
        (~has_trades, "no trades"),
        (ALL, "no losing trades"),
    )
    has_fills = fills > 0
    f.set("maker_fill_rate", _div(g["maker_fills"], fills), has_fills, (ALL, "no fills"))
    f.set("fallback_rate", _div(g["fallbacks"], fills), has_fills, (ALL, "no fills"))
    f.set("avg_slippage_bps", g["mean_slippage_bps"],
          (g["slippage_fills"] > 0) & ~np.isnan(g["mean_slippage_bps"]),
          (~has_fills, "no fills"), (ALL, "no fills with slippage"))  # fmt: skip
    f.set("reject_rate", _div(g["rejects"], orders), orders > 0, (ALL, "no orders"))
    f.set("avg_latency_ms", g["mean_latency_ms"],
          (g["latency_orders"] > 0) & ~np.isnan(g["mean_latency_ms"]),
          (orders == 0, "no orders"), (ALL, "no orders with latency"))  # fmt: skip
    for kind in ("robust", "recent"):
        m, v = g[f"mean_r_{kind}"], g[f"var_r_{kind}"]
        f.set(f"avg_r_{kind}", m, has_r & ~np.isnan(m), (ALL, "no trades with R"))
        spread = ~np.isnan(v)
        f.set(f"r_std_{kind}", np.sqrt(np.maximum(np.where(spread, v, 0.0), 0.0)), spread,
              (ALL, "fewer than 2 trades with R"))  # fmt: skip
    f.set("r_recent_trades", g["r_recent_n_eff"])
    return _rows(f, n, rec)


_COUNTS = frozenset(
    ("trades", "wins", "losses", "fills", "orders", "rejects", "scratches", "r_trades",
     "longest_loss_streak")
)  # fmt: skip


def _rows(f: _Figures, n: int, rec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One dict per group: every figure in :data:`FIGURES` order, ``null_reasons``."""
    why: list[dict[str, str]] = [{} for _ in range(n)]
    columns: list[list[Any]] = []
    for name in FIGURES:
        if name in _COUNTS:  # integers as the records hold them
            columns.append(np.asarray(rec[name]).astype(np.int64).tolist())
            continue
        v = f.values[name]
        finite = np.isfinite(v)
        out = v.tolist()
        for i in np.flatnonzero(~finite).tolist():
            out[i] = None
        for mask, text in f.reasons.get(name, ()):
            for i in np.flatnonzero(mask).tolist():
                why[i].setdefault(name, text)
        for i in np.flatnonzero(~finite & f.defined[name]).tolist():
            why[i][name] = "out of range"  # defined, but a ratio overflowed
        columns.append(out)
    rows = [dict(zip(FIGURES, values, strict=True)) for values in zip(*columns, strict=True)]
    for row, reasons in zip(rows, why, strict=True):
        row["null_reasons"] = reasons
    return rows
