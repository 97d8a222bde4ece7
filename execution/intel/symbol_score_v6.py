"""Symbol score v6: one number in [−1, 1] per symbol, with its six components,
ranked (architecture §5, ``symbol_scores_v6.json``).

The score exists to rank symbols by their **true edge**, so every component is
built from an estimate that is honest about sample size:

========================  ============================================================
component                 transform (each lies in [−1, 1]; 0 is neutral)
========================  ============================================================
``expectancy``            ``tanh(r̃ / 0.5)``, r̃ = avg R shrunk toward 0:
                          ``n·avg_r / (n + k)`` over the n trades with an R
``hit_rate``              ``2·h̃ − 1``, h̃ = ``(wins + k/2) / (trades + k)``
``slippage``              ``−tanh(s̃ / 10 bps)``, s̃ = avg slippage shrunk by fills
``router_quality``        ``2·q − 1`` shrunk by fills, q = mean of maker fill rate,
                          1 − fallback rate and 1 − reject rate
``liquidity``             ``tanh(ln(notional / median notional) / 2)`` across symbols
``volatility``            ``−tanh(ln(r_std / median r_std))`` shrunk by n: a symbol
                          whose R swings more than its peers' is less dependable
========================  ============================================================

``k`` is ``score.prior_trades``: with k trades of evidence a figure counts half.
``confidence`` = trades / (trades + k). The score is the weighted mean of the
components (weights from ``score.weights``, normalised), so it lies in [−1, 1].

A missing input (no trades with R, no fills, no notional…) gives a neutral
component listed under ``missing``; router figures fall back to
``router_health.json`` when the window has no fills, and ``sources`` says so.
All else equal, a better expectancy or a healthier router never lowers a score.
Ranks are by score, ties broken by symbol name, so the order is deterministic.

>>> doc = {"as_of": 10.0, "windows": {"all": {"symbols": {
...     "AAA": {"trades": 40, "wins": 24, "avg_r": 0.3, "r_trades": 40, "r_std": 1.0,
...             "fills": 80, "maker_fill_rate": 0.5, "fallback_rate": 0.1, "reject_rate": 0.0,
...             "avg_slippage_bps": 1.0, "notional_usd": 1e6},
...     "BBB": {"trades": 40, "wins": 16, "avg_r": -0.2, "r_trades": 40, "r_std": 1.0,
...             "fills": 80, "maker_fill_rate": 0.5, "fallback_rate": 0.1, "reject_rate": 0.0,
...             "avg_slippage_bps": 1.0, "notional_usd": 1e6}}}}}
>>> out = score_symbols(doc, window="all", generated_at=11.0)
>>> out["top"], [s["rank"] for s in out["symbols"]]
(['AAA', 'BBB'], [1, 2])
>>> [round(s["components"]["expectancy"], 3) for s in out["symbols"]]
[0.38, -0.261]
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping
from typing import Any, Final

from execution.config import SCORE_COMPONENTS, ScoreConfig

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
    expectancy: Mapping[str, Any],
    router_health: Mapping[str, Any] | None = None,
    *,
    window: str | None = None,
    config: ScoreConfig | None = None,
    generated_at: float | None = None,
) -> dict[str, Any]:
    """The ``symbol_scores_v6`` document from an ``expectancy_v6`` document.

    ``window`` defaults to ``config.window``; a window the document lacks scores no
    symbol (an empty ranking, not an error). ``router_health`` is the executor's
    ``router_health.json`` document, when there is one.
    """
    cfg = config or ScoreConfig()
    window = window or cfg.window
    weights = {k: float(cfg.weights.get(k, 0.0)) for k in SCORE_COMPONENTS}
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("score weights must not all be zero")
    prior = float(cfg.prior_trades)
    groups: Mapping[str, Any] = (
        expectancy.get("windows", {}).get(window, {}).get("symbols", {}) or {}
    )
    health_by_symbol: Mapping[str, Any] = {}
    if isinstance(router_health, Mapping) and isinstance(router_health.get("symbols"), Mapping):
        health_by_symbol = router_health["symbols"]
    med_notional = _median_positive([_num(g.get("notional_usd")) for g in groups.values()])
    med_r_std = _median_positive([_num(g.get("r_std")) for g in groups.values()])
    entries = [
        score_symbol(
            sym,
            g,
            health=health_by_symbol.get(sym),
            median_notional=med_notional,
            median_r_std=med_r_std,
            prior=prior,
            weights=weights,
        )
        for sym, g in groups.items()
        if isinstance(g, Mapping) and isinstance(sym, str)
    ]
    entries.sort(key=lambda e: (-e["score"], e["symbol"]))
    for rank, e in enumerate(entries, 1):
        e["rank"] = rank
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "generated_at": time.time() if generated_at is None else generated_at,
        "as_of": expectancy.get("as_of"),
        "window": window,
        "range": list(RANGE),
        "weights": {k: v / total for k, v in weights.items()},
        "prior_trades": cfg.prior_trades,
        "symbols": entries,
        "top": [e["symbol"] for e in entries[: cfg.top_n]],
    }
