"""Published figures of one group under one window (architecture §4), from its
:class:`~execution.intel.stats.Sufficient` record.

Pure functions, no state. Every figure is a number or ``null``; a ``null`` comes with
its reason in the group's ``null_reasons`` (figure → reason), never a sentinel such
as 0, 100 or NaN standing in for "undefined".

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
* ``orders``, ``rejects``, ``avg_latency_ms``, ``r_trades``.

The decoder's numeric policy keeps every sum and mean finite; a ratio of finite
figures can still overflow (a profit of 1e15 over a loss of 5e-324): such a figure is
``null`` with the reason ``"out of range"``.

>>> from execution.intel.folds import Sufficient
>>> f = figures(Sufficient(trades=2, wins=1, losses=1, r_trades=2, sum_r=1.0, mean_r=0.5,
...                        var_r=4.5, max_drawdown_r=1.0, pnl_usd=50.0), dd_penalty=1.0)
>>> f["hit_rate"], f["avg_r"], f["dd_expectancy"], round(f["sqn"], 6)
(0.5, 0.5, 0.0, 0.333333)
>>> f["maker_fill_rate"], f["null_reasons"]["maker_fill_rate"]
(None, 'no fills')
"""

from __future__ import annotations

import math
from typing import Any

from execution.intel.folds import Sufficient

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
)


def wilson_lower_bound(hits: int, n: int, z: float = Z95) -> float | None:
    """Lower end of the Wilson score interval of a proportion (None when n = 0).

    >>> round(wilson_lower_bound(8, 10), 4), wilson_lower_bound(0, 0)
    (0.4902, None)
    """
    if n <= 0:
        return None
    p = hits / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z2 / n))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def figures(s: Sufficient, *, dd_penalty: float) -> dict[str, Any]:
    """The published figures of one group (see the module docstring)."""
    why: dict[str, str] = {}

    def undefined(name: str, reason: str) -> None:
        why[name] = reason

    out: dict[str, Any] = dict.fromkeys(FIGURES)
    out.update(
        trades=s.trades,
        wins=s.wins,
        losses=s.losses,
        pnl_usd=s.pnl_usd,
        max_drawdown_r=s.max_drawdown_r,
        fills=s.fills,
        notional_usd=s.notional_usd,
        orders=s.orders,
        rejects=s.rejects,
        scratches=s.scratches,
        r_trades=s.r_trades,
        longest_loss_streak=s.longest_loss_streak,
        slippage_cost_usd=s.slippage_cost_usd,
    )

    if s.trades:
        out["hit_rate"] = s.wins / s.trades
        out["hit_rate_lb95"] = wilson_lower_bound(s.wins, s.trades)
    else:
        undefined("hit_rate", "no trades")
        undefined("hit_rate_lb95", "no trades")
    decisive = s.trades - s.scratches
    if decisive:
        out["decisive_hit_rate"] = s.decisive_wins / decisive
    else:
        undefined("decisive_hit_rate", "no trades" if not s.trades else "only scratch trades")

    if s.r_trades and s.mean_r is not None:
        avg_r = s.mean_r
        out["avg_r"] = avg_r
        out["dd_expectancy"] = avg_r - dd_penalty * s.max_drawdown_r / s.r_trades
    else:
        undefined("avg_r", "no trades with R")
        undefined("dd_expectancy", "no trades with R")
    if s.var_r is None:
        undefined("r_std", "fewer than 2 trades with R")
        undefined("sqn", "fewer than 2 trades with R")
    else:
        std = math.sqrt(max(s.var_r, 0.0))
        out["r_std"] = std
        if std > 0 and s.mean_r is not None:
            out["sqn"] = math.sqrt(s.r_trades) * s.mean_r / std
        else:
            undefined("sqn", "R does not vary")

    if s.risk_trades and s.risk_usd > 0:
        out["expectancy_per_risk"] = s.risk_pnl_usd / s.risk_usd
        out["slippage_cost_r"] = s.slippage_cost_usd / s.risk_usd
    else:
        undefined("expectancy_per_risk", "no trades with risk_usd")
        undefined("slippage_cost_r", "no trades with risk_usd")

    if s.win_r_trades and s.mean_win_r is not None:
        out["avg_win_r"] = s.mean_win_r
    else:
        undefined("avg_win_r", "no winning trades with R")
    if s.loss_r_trades and s.mean_loss_r is not None:
        out["avg_loss_r"] = s.mean_loss_r
    else:
        undefined("avg_loss_r", "no losing trades with R")
    if s.gross_loss_usd > 0:
        out["profit_factor"] = s.gross_profit_usd / s.gross_loss_usd
    else:
        undefined("profit_factor", "no trades" if not s.trades else "no losing trades")

    if s.fills:
        out["maker_fill_rate"] = s.maker_fills / s.fills
        out["fallback_rate"] = s.fallbacks / s.fills
    else:
        undefined("maker_fill_rate", "no fills")
        undefined("fallback_rate", "no fills")
    if s.slippage_fills and s.mean_slippage_bps is not None:
        out["avg_slippage_bps"] = s.mean_slippage_bps
    else:
        undefined("avg_slippage_bps", "no fills" if not s.fills else "no fills with slippage")
    out["reject_rate"] = _ratio(s.rejects, s.orders)
    if not s.orders:
        undefined("reject_rate", "no orders")
    if s.latency_orders and s.mean_latency_ms is not None:
        out["avg_latency_ms"] = s.mean_latency_ms
    else:
        undefined("avg_latency_ms", "no orders" if not s.orders else "no orders with latency")

    for name, value in out.items():
        if type(value) is float and not math.isfinite(value):
            out[name] = None
            why[name] = "out of range"
    out["null_reasons"] = why
    return out
