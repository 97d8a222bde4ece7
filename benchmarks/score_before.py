"""The symbol score as it was before the robust, recency-weighted, calibrated
score (kept for ``bench_score.py`` to compare with: "no worse than before").
One function over an ``expectancy_v6`` window: ``tanh`` of a shrunk plain mean R,
hit rate, slippage, router quality (rejects only when something filled),
liquidity and volatility, weighted (the weights of the old ``intel_v6.json``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any, Final

SCORE_COMPONENTS: Final = (
    "expectancy", "hit_rate", "slippage", "router_quality", "liquidity", "volatility"
)  # fmt: skip
SCHEMA: Final = "symbol_scores_v6"
VERSION: Final = 1
RANGE: Final = (-1.0, 1.0)
R_SCALE: Final = 0.5  # R per trade at which the expectancy component reaches tanh(1)
SLIPPAGE_SCALE_BPS: Final = 10.0
LIQUIDITY_SCALE: Final = 2.0  # natural-log units of notional relative to the median


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _clamp(x: float) -> float:
    return min(RANGE[1], max(RANGE[0], x))


def _shrink(n: float, k: float) -> float:
    return n / (n + k) if n > 0 else 0.0


def _median_positive(values: list[float | None]) -> float | None:
    xs = [v for v in values if v is not None and v > 0]
    return statistics.median(xs) if xs else None


def _router_figures(
    group: Mapping[str, Any], health: Mapping[str, Any] | None
) -> tuple[dict[str, float | None], float, str | None]:
    """Router inputs from the window, else from router_health.json: (figures, fills, source)."""
    fills = _num(group.get("fills")) or 0.0
    names = ("maker_fill_rate", "fallback_rate", "reject_rate", "avg_slippage_bps")
    if fills > 0:
        return {n: _num(group.get(n)) for n in names}, fills, None
    if isinstance(health, Mapping):
        h_fills = _num(health.get("fills")) or 0.0
        if h_fills > 0:
            return {n: _num(health.get(n)) for n in names}, h_fills, "router_health.json"
    return dict.fromkeys(names), 0.0, None


def score_symbol(
    symbol: str,
    group: Mapping[str, Any],
    *,
    health: Mapping[str, Any] | None,
    median_notional: float | None,
    median_r_std: float | None,
    prior: float,
    weights: Mapping[str, float],
) -> dict[str, Any]:
    """One symbol's entry (without its rank)."""
    trades = int(_num(group.get("trades")) or 0)
    wins = _num(group.get("wins")) or 0.0
    r_trades = _num(group.get("r_trades")) or 0.0
    avg_r = _num(group.get("avg_r"))
    r_std = _num(group.get("r_std"))
    notional = _num(group.get("notional_usd"))
    router, fills, source = _router_figures(group, health)
    comp: dict[str, float] = dict.fromkeys(SCORE_COMPONENTS, 0.0)
    missing: list[str] = []
    sources: dict[str, str] = {}

    if avg_r is not None and r_trades > 0:
        comp["expectancy"] = math.tanh(avg_r * _shrink(r_trades, prior) / R_SCALE)
    else:
        missing.append("expectancy")
    if trades > 0:
        comp["hit_rate"] = 2 * (wins + prior / 2) / (trades + prior) - 1
    else:
        missing.append("hit_rate")

    slip = router["avg_slippage_bps"]
    if slip is not None:
        comp["slippage"] = -math.tanh(slip * _shrink(fills, prior) / SLIPPAGE_SCALE_BPS)
    else:
        missing.append("slippage")
    fallback, rejects = router["fallback_rate"], router["reject_rate"]
    parts = [
        router["maker_fill_rate"],
        None if fallback is None else 1 - fallback,
        None if rejects is None else 1 - rejects,
    ]
    present = [p for p in parts if p is not None]
    if present:
        q = statistics.fmean(present)
        comp["router_quality"] = (2 * q - 1) * _shrink(fills, prior)
    else:
        missing.append("router_quality")
    if source is not None:
        for name in ("slippage", "router_quality"):
            if name not in missing:
                sources[name] = source

    if notional is not None and notional > 0 and median_notional:
        ratio = math.log(notional) - math.log(median_notional)  # no underflow for tiny values
        comp["liquidity"] = math.tanh(ratio / LIQUIDITY_SCALE)
    else:
        missing.append("liquidity")
    if r_std is not None and r_std > 0 and median_r_std:
        ratio = math.log(r_std) - math.log(median_r_std)
        comp["volatility"] = -math.tanh(ratio) * _shrink(r_trades, prior)
    else:
        missing.append("volatility")

    comp = {k: _clamp(v) for k, v in comp.items()}
    total = sum(weights.values())
    score = _clamp(sum(weights.get(k, 0.0) * v for k, v in comp.items()) / total)
    entry: dict[str, Any] = {
        "symbol": symbol,
        "score": score,
        "rank": 0,
        "trades": trades,
        "confidence": _shrink(trades, prior),
        "components": comp,
        "inputs": {
            "avg_r": avg_r,
            "hit_rate": _num(group.get("hit_rate")),
            "avg_slippage_bps": slip,
            "maker_fill_rate": router["maker_fill_rate"],
            "fallback_rate": router["fallback_rate"],
            "reject_rate": router["reject_rate"],
            "notional_usd": notional,
            "r_std": r_std,
            "pnl_usd": _num(group.get("pnl_usd")),
            "expectancy_per_risk": _num(group.get("expectancy_per_risk")),
        },
        "missing": missing,
    }
    if sources:
        entry["sources"] = sources
    return entry


def score_symbols(
    expectancy: Mapping[str, Any], *, window: str, weights: Mapping[str, float], prior: float
) -> dict[str, float]:
    """Each symbol's score as the score computed it before (no router_health)."""
    total = sum(weights.values())
    w = {k: float(weights.get(k, 0.0)) for k in SCORE_COMPONENTS}
    groups = expectancy.get("windows", {}).get(window, {}).get("symbols", {}) or {}
    med_notional = _median_positive([_num(g.get("notional_usd")) for g in groups.values()])
    med_r_std = _median_positive([_num(g.get("r_std")) for g in groups.values()])
    return {
        sym: score_symbol(sym, g, health=None, median_notional=med_notional,
                          median_r_std=med_r_std, prior=prior,
                          weights={k: v / total for k, v in w.items()})["score"]
        for sym, g in groups.items()
    }  # fmt: skip
