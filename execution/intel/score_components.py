"""The components of the symbol score (:mod:`execution.intel.symbol_score_v6`), one
small function each. Every component lies in [−1, 1]; ``None`` means an input is
missing, and the score then counts the component as its **neutral value 0**, lists
it under ``missing`` and gives it no weight — a missing figure is never a penalty.

=================  ===========================================  ======================
component          value                                        missing (→ 0) when
=================  ===========================================  ======================
``expectancy``     ``tanh(posterior mean / (scale·τ))``, the    no trade with R
                   empirical-Bayes posterior of the edge
``hit_rate``       ``2·(wins + k/2) / (trades + k) − 1``        no trades, or no wins
``slippage``       ``−tanh(s̃ / 10 bps)``, s̃ = avg slippage       no slippage figure
                   shrunk by fills
``router_quality`` ``(2q − 1)·f/(f + k)``, q = mean of maker     no maker or fallback
                   fill rate and 1 − fallback rate, f fills;    rate (orders that
                   ``−o/(o + k)`` when o orders filled nothing  filled nothing: −1·…)
``reject_rate``    ``(1 − 2·rejects/orders)·o/(o + k)``,         no orders
                   o orders (filled or not)
``liquidity``      ``tanh(ln(notional / median) / 2)``; −1 for   no notional and no
                   orders without a fill                        order
``volatility``     ``−tanh(ln(r_std / median r_std))·n/(n+k)``  no R spread
=================  ===========================================  ======================

``k`` is ``score.prior_trades``: with k events of evidence a rate counts half.

**Expectancy.** Each symbol's evidence is a winsorised (and by default
exponentially weighted) mean R ``m`` worth ``n_eff`` trades over ``n`` trades. Its
shrinkage reads **the other symbols only**, never its own figures, so its posterior
mean rises with its own mean (and with each trade's R):

* the pooled per-trade variance ``s0²``: the median variance of R over the other
  symbols (1 R² when none has one), floored at ``min_r_sd²``;
* the per-trade variance used, drawn toward the widest a winsorised R can have
  with the weight of ``ν`` trades: ``v = (n·s0² + ν·clip_r²) / (n + ν)`` — a few
  trades are not trusted to be as calm as the universe (fat tails show only in
  long records); its sampling variance ``se² = v / n_eff``;
* the prior ``N(0, τ²)``: centred on no edge, its spread from the other symbols by
  a robust method of moments, ``τ² = max(median(m²) / 0.455 − median(se_own²),
  min_prior_sd²)`` (0.455 is the median of χ²₁; ``se_own²`` each symbol's own
  variance over its ``n_eff``; medians, so one extreme symbol cannot widen
  everyone's prior), or ``prior_sd²`` with fewer than ``min_prior_symbols`` others.

The posterior is normal: ``w = τ² / (τ² + se²)`` (the ``confidence``), mean
``w·m``, sd ``√(w·se²)``; ``P(edge > 0) = Φ(mean / sd)`` is published, and the
component is ``tanh(mean / (scale·τ))``: it ranks by the size of the edge, not
by the certainty of its sign (``2·P − 1`` reaches ±1 for every long record and
then ranks a +0.2 R symbol with a +1 R one). An edge of τ reads tanh(1) ≈ 0.76.

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
    maker_fill_rate: float | None,
    fallback_rate: float | None,
    fills: float,
    *,
    prior: float,
    orders: float = 0.0,
) -> float | None:
    """How well the router fills: maker fills up, fallbacks down, shrunk by fills.
    Rejects are a component of their own (:func:`reject_rate`). Orders that
    filled nothing at all are the worst fill, −1 shrunk by orders — not a missing
    figure, which would leave the symbol better off than one that filled some."""
    if fills <= 0 and orders > 0:
        return -_shrink(orders, prior)
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


def liquidity(
    notional: float | None, median: float | None, *, orders: float = 0.0, fills: float = 0.0
) -> float | None:
    """Traded notional against the universe's median, in log units. Orders without
    a single fill traded nothing: −1, the worst liquidity, not a missing one."""
    if notional is None or notional <= 0 or not median:
        return -1.0 if orders > 0 and fills <= 0 else None
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

    variance_prior_trades: float = 2.0  # ν: trades' worth of the tail variance clip_r²
    min_r_sd: float = 0.1
    prior_sd_r: float = 0.25
    min_prior_sd_r: float = 0.05
    min_prior_symbols: int = 4
    clip_r: float = 3.0  # the winsorisation bound of the R the evidence is made of
    scale: float = 1.0  # the component is tanh(posterior mean / (scale·τ))


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
    scale_r: float  # s: the component is tanh(posterior_mean_r / s)
    component: float


def medians_without(values: Sequence[float | None]) -> list[float | None]:
    """For each position, the median of the *other* values (``None`` values take
    no part; a ``None`` position gets the median of all): leave-one-out medians in
    O(n log n). ``None`` where nothing else is left.

    >>> medians_without([1.0, 2.0, 3.0, None])
    [2.5, 2.0, 1.5, 2.0]
    """
    present = sorted((v, i) for i, v in enumerate(values) if v is not None)
    xs = [v for v, _ in present]
    pos = {i: p for p, (_, i) in enumerate(present)}
    full = statistics.median(xs) if xs else None
    m = len(xs) - 1  # how many are left when one is removed
    out: list[float | None] = []
    for i in range(len(values)):
        p = pos.get(i)
        if p is None:
            out.append(full)
        elif m == 0:
            out.append(None)
        else:  # the k-th of the rest is xs[k] below the removed one, xs[k + 1] above
            lo, hi = (m - 1) // 2, m // 2
            out.append((xs[lo if lo < p else lo + 1] + xs[hi if hi < p else hi + 1]) / 2)
    return out


def _own_variance(e: Evidence | None) -> float | None:
    return e.sd * e.sd if e is not None and e.sd is not None and e.n > 1 else None


def pooled_variances(evidence: Sequence[Evidence | None], policy: EdgePolicy) -> list[float]:
    """Each symbol's pooled per-trade variance of R: the median variance over the
    *other* symbols with a spread (1 R² when none has one), never below
    ``min_r_sd²``. A symbol's own spread never enters its shrinkage."""
    own = [_own_variance(e) for e in evidence]
    return [max(1.0 if v is None else v, policy.min_r_sd**2) for v in medians_without(own)]


def sampling_variance(e: Evidence, pooled: float, policy: EdgePolicy) -> float:
    """``se²`` of the symbol's mean: the pooled variance, drawn toward the widest a
    winsorised R can have (``clip_r²``) with the weight of ``ν`` trades against the
    symbol's ``n``, over ``n_eff``. Few trades are not trusted to be as calm as the
    universe: fat tails show only in long records."""
    nu = policy.variance_prior_trades
    n = max(e.n, 1)
    v = (n * pooled + nu * policy.clip_r**2) / (n + nu)
    return max(v, policy.min_r_sd**2) / max(e.n_eff, 1e-12)


def prior_variances(evidence: Sequence[Evidence | None], policy: EdgePolicy) -> list[float]:
    """Each symbol's ``τ²``, from the *other* symbols only (module docstring): their
    squared means against the sampling variance of each from its own spread."""
    means = [None if e is None else e.mean for e in evidence]
    if sum(m is not None for m in means) - 1 < policy.min_prior_symbols:
        return [policy.prior_sd_r**2] * len(means)
    floor = policy.min_r_sd**2
    own_se2 = [
        None if e is None else max(_own_variance(e) or 1.0, floor) / max(e.n_eff, 1e-12)
        for e in evidence
    ]
    sq = medians_without([None if m is None else m * m for m in means])
    out = []
    for t, v in zip(sq, medians_without(own_se2), strict=True):
        typical = 0.0 if t is None else t / MEDIAN_CHI2_1
        out.append(max(typical - (v or 0.0), policy.min_prior_sd_r**2))
    return out


def edges(evidence: Sequence[Evidence | None], policy: EdgePolicy) -> list[Edge | None]:
    """The posterior of each symbol's edge (None where it has no evidence). A
    symbol's shrinkage (pooled variance, τ²) comes from the other symbols only, so
    its posterior mean and component rise with its own mean R."""
    pooled = pooled_variances(evidence, policy)
    se2 = [None if e is None else sampling_variance(e, p, policy)
           for e, p in zip(evidence, pooled, strict=True)]  # fmt: skip
    tau2s = prior_variances(evidence, policy)
    out: list[Edge | None] = []
    for e, v, tau2 in zip(evidence, se2, tau2s, strict=True):
        if e is None or v is None:
            out.append(None)
            continue
        w = tau2 / (tau2 + v)
        post = w * e.mean
        sd = math.sqrt(w * v)
        p = 0.5 * math.erfc(-post / (sd * math.sqrt(2.0)))
        s = policy.scale * math.sqrt(tau2)
        out.append(Edge(e.mean, e.n_eff, math.sqrt(v), math.sqrt(tau2), w, post, sd, p, s,
                        _clamp(math.tanh(post / s))))  # fmt: skip
    return out
