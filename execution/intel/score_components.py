"""The components of the symbol score (:mod:`execution.intel.symbol_score_v6`), one
small function each. Every component lies in [−1, 1]; ``None`` means an input is
missing, and the score then counts the component as its **neutral value 0** and
lists it under ``missing`` — a missing figure is never a penalty.

=================  ===========================================  ======================
component          value                                        missing (→ 0) when
=================  ===========================================  ======================
``expectancy``     ``2·P(edge > 0) − 1`` from the empirical-    no trade with R
                   Bayes posterior of the symbol's R (below)
``hit_rate``       ``2·(wins + k/2) / (trades + k) − 1``        no trades, or no wins
``slippage``       ``−tanh(s̃ / 10 bps)``, s̃ = avg slippage       no slippage figure
                   shrunk by fills
``router_quality`` ``(2q − 1)·f/(f + k)``, q = mean of maker     no maker or fallback
                   fill rate and 1 − fallback rate, f fills      rate
``reject_rate``    ``(1 − 2·rejects/orders)·o/(o + k)``,         no orders
                   o orders (filled or not)
``liquidity``      ``tanh(ln(notional / median) / 2)``          no notional
``volatility``     ``−tanh(ln(r_std / median r_std))·n/(n+k)``  no R spread
=================  ===========================================  ======================

``k`` is ``score.prior_trades``: with k events of evidence a rate counts half.

**Expectancy.** Each symbol's evidence is a winsorised (and by default
exponentially weighted) mean R ``m`` worth ``n_eff`` trades, with a per-trade
variance ``v`` shrunk toward the pooled (median) variance ``s0²`` of the universe
with the weight of ``ν`` trades: ``v' = ((n−1)·v + ν·s0²) / (n−1+ν)``, floored at
``min_r_sd²``; its sampling variance is ``se² = v' / n_eff``. The prior of an
edge is ``N(0, τ²)``: centred on no edge (a symbol without evidence has none, and
the component stays monotone in the symbol's own mean), its spread estimated from
the cross-section by a robust method of moments, ``τ² = max(median(m²) / 0.455 −
median(se²), min_prior_sd²)`` (0.455 is the median of χ²₁, so the first term is
the typical ``τ² + se²``; medians, so one extreme symbol cannot widen everyone's
prior), or ``prior_sd²`` with fewer than ``min_prior_symbols`` symbols. The
posterior is normal: ``w = τ² / (τ² + se²)`` (the ``confidence``: the share of the
estimate that is the symbol's own evidence), mean ``w·m``, sd ``√(w·se²)``, and the
component ``2·Φ(mean / sd) − 1``: near 0 on little evidence, near ±1 when a long
record leaves no doubt about the sign of the edge.

>>> round(hit_rate(30, 40, prior=20), 4), hit_rate(None, 40, prior=20)
(0.3333, None)
>>> round(reject_rate(0, 80, prior=20), 2), round(reject_rate(3, 3, prior=20), 4)
(0.8, -0.1304)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MEDIAN_CHI2_1 = 0.454936423119572  # the median of a χ² variable of one degree of freedom
SLIPPAGE_SCALE_BPS = 10.0
LIQUIDITY_SCALE = 2.0  # natural-log units of notional relative to the median


def _shrink(n: float, k: float) -> float:
    return n / (n + k) if n > 0 else 0.0


def _clamp(x: float) -> float:
    return min(1.0, max(-1.0, x))


# --- the rates ------------------------------------------------------------------------


def hit_rate(wins: float | None, trades: float, *, prior: float) -> float | None:
    """Wins among trades, shrunk toward one half by ``prior`` trades."""
    if wins is None or trades <= 0:
        return None
    return _clamp(2 * (min(wins, trades) + prior / 2) / (trades + prior) - 1)


def slippage(avg_bps: float | None, fills: float, *, prior: float) -> float | None:
    """Average slippage (bps, positive is a cost) shrunk by fills: cost lowers it."""
    if avg_bps is None:
        return None
    return _clamp(-math.tanh(avg_bps * _shrink(fills, prior) / SLIPPAGE_SCALE_BPS))


def router_quality(
    maker_fill_rate: float | None, fallback_rate: float | None, fills: float, *, prior: float
) -> float | None:
    """How well the router fills: maker fills up, fallbacks down, shrunk by fills.
    Rejects are a component of their own (:func:`reject_rate`)."""
    parts = [p for p in (maker_fill_rate, None if fallback_rate is None else 1 - fallback_rate)
             if p is not None]  # fmt: skip
    if not parts:
        return None
    return _clamp((2 * statistics.fmean(parts) - 1) * _shrink(fills, prior))


def reject_rate(rejects: float | None, orders: float, *, prior: float) -> float | None:
    """Rejected orders among all orders, whether or not anything filled: none
    rejected → toward +1, all rejected → toward −1, shrunk by orders."""
    if rejects is None or orders <= 0:
        return None
    share = min(max(rejects, 0.0), orders) / orders
    return _clamp((1 - 2 * share) * _shrink(orders, prior))


def liquidity(notional: float | None, median: float | None) -> float | None:
    """Traded notional against the universe's median, in log units."""
    if notional is None or notional <= 0 or not median:
        return None
    return _clamp(math.tanh((math.log(notional) - math.log(median)) / LIQUIDITY_SCALE))


def volatility(
    r_std: float | None, median: float | None, r_trades: float, *, prior: float
) -> float | None:
    """A symbol whose R swings more than its peers' is less dependable."""
    if r_std is None or r_std <= 0 or not median:
        return None
    return _clamp(-math.tanh(math.log(r_std) - math.log(median)) * _shrink(r_trades, prior))


# --- expectancy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EdgePolicy:
    """The empirical-Bayes settings of the expectancy component (module docstring)."""

    variance_prior_trades: float = 5.0  # ν
    min_r_sd: float = 0.1
    prior_sd_r: float = 0.25
    min_prior_sd_r: float = 0.05
    min_prior_symbols: int = 4


@dataclass(frozen=True, slots=True)
class Evidence:
    """One symbol's R: a (winsorised) mean worth ``n_eff`` trades, the per-trade
    standard deviation when known, and the count of trades with R."""

    mean: float
    n_eff: float
    sd: float | None
    n: int


@dataclass(frozen=True, slots=True)
class Edge:
    """The posterior of one symbol's edge and the component it gives."""

    mean_r: float
    n_eff: float
    se_r: float
    prior_sd_r: float
    confidence: float  # w = τ² / (τ² + se²)
    posterior_mean_r: float
    posterior_sd_r: float
    p_edge_positive: float
    component: float


def pooled_variance(evidence: Sequence[Evidence | None], policy: EdgePolicy) -> float:
    """The universe's typical per-trade variance of R: the median over symbols with
    a spread, 1 R² when none has one; never below ``min_r_sd²``."""
    vs = [e.sd * e.sd for e in evidence if e is not None and e.sd is not None and e.n > 1]
    return max(statistics.median(vs) if vs else 1.0, policy.min_r_sd**2)


def sampling_variance(e: Evidence, pooled: float, policy: EdgePolicy) -> float:
    """``se²`` of the symbol's mean: its variance shrunk toward the pooled one."""
    nu = policy.variance_prior_trades
    own = e.sd * e.sd if e.sd is not None and e.n > 1 else pooled
    df = max(e.n - 1, 0)
    v = (df * own + nu * pooled) / (df + nu)
    return max(v, policy.min_r_sd**2) / max(e.n_eff, 1e-12)


def prior_variance(means: Sequence[float], se2: Sequence[float], policy: EdgePolicy) -> float:
    """``τ²`` of the edges of the universe (module docstring)."""
    if len(means) < policy.min_prior_symbols:
        return policy.prior_sd_r**2
    typical = statistics.median(m * m for m in means) / MEDIAN_CHI2_1
    return max(typical - statistics.median(se2), policy.min_prior_sd_r**2)


def edges(evidence: Sequence[Evidence | None], policy: EdgePolicy) -> list[Edge | None]:
    """The posterior of each symbol's edge (None where it has no evidence)."""
    pooled = pooled_variance(evidence, policy)
    se2 = [None if e is None else sampling_variance(e, pooled, policy) for e in evidence]
    tau2 = prior_variance(
        [e.mean for e in evidence if e is not None], [v for v in se2 if v is not None], policy
    )
    out: list[Edge | None] = []
    for e, v in zip(evidence, se2, strict=True):
        if e is None or v is None:
            out.append(None)
            continue
        w = tau2 / (tau2 + v)
        post = w * e.mean
        sd = math.sqrt(w * v)
        p = 0.5 * math.erfc(-post / (sd * math.sqrt(2.0)))
        out.append(Edge(e.mean, e.n_eff, math.sqrt(v), math.sqrt(tau2), w, post, sd, p,
                        _clamp(2 * p - 1)))  # fmt: skip
    return out
