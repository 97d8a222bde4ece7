"""Symbol score v6: one number in [−1, 1] per symbol, with its seven components,
ranked (architecture §5, ``symbol_scores_v6.json``; docs/score.md).

The score exists to rank symbols by their **true edge now**. Its expectancy
component is ``tanh(posterior mean / s)`` — a strictly increasing function of the
empirical-Bayes posterior mean of the edge, ``s`` the cross-sectional prior spread
τ (times ``expectancy_scale``) — over a winsorised, exponentially weighted mean R
(``avg_r_recent`` of the expectancy document, :class:`~execution.intel.folds.RobustPolicy`);
the calibrated ``P(edge > 0)`` is published beside it under ``edge``. The other
components are rates and cross-sectional comparisons
(:mod:`execution.intel.score_components`, where each is defined with its neutral
value). The score is the weighted mean of the components **present** (weights from
``score.weights``, renormalised over them: ``weights_used``), so it lies in [−1, 1].

A missing input (no trades with R, no wins figure, no orders, no fills…) gives
the neutral component 0, listed under ``missing``, and takes no weight, so it
neither caps nor lifts the score. Orders without a single fill are not missing
figures: no liquidity (−1) and the worst fill. Router figures fall back to
``router_health.json`` when the window has none, and ``sources`` says so. Each
entry explains itself: ``components``, ``weights_used``, ``contributions``
(weight used × component, summing to the score), ``edge`` (the posterior behind
the expectancy) and ``confidence`` (the share of that posterior that is the
symbol's own evidence). All else equal, a better expectancy or a healthier router
never lowers a score: a symbol's shrinkage (its pooled noise variance and its
prior spread τ) comes from the other symbols only, so its posterior mean rises
with each of its trades' R. Ranks are by score, ties broken by symbol name.

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
[0.649, -0.474]
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from execution.config import SCORE_COMPONENTS, ScoreConfig
from execution.intel import score_components as sc
from execution.intel.drift import Drift, DriftPolicy, drifts
from execution.intel.folds import ROBUST

if TYPE_CHECKING:
    from execution.intel.engine import ExpectancyEngine

SCHEMA: Final = "symbol_scores_v6"
VERSION: Final = 1
RANGE: Final = (-1.0, 1.0)

# expectancy_figure → (mean, standard deviation, effective trades) figures it reads
R_FIGURES: Final = {
    "recent": ("avg_r_recent", "r_std_recent", "r_recent_trades"),
    "robust": ("avg_r_robust", "r_std_robust", "r_trades"),
    "raw": ("avg_r", "r_std", "r_trades"),
}
ROUTER_FIGURES: Final = ("maker_fill_rate", "fallback_rate", "avg_slippage_bps")


def _num(x: Any) -> float | None:
    """``x`` as a float when it is a finite number (not a bool), else None.

    >>> _num(2), _num(0.5), _num(True), _num(float("nan")), _num("1"), _num(10**400)
    (2.0, 0.5, None, None, None, None)
    """
    kind = type(x)
    if kind is float:  # the common case first: one type test, no call
        return x if x - x == 0.0 else None
    if kind is bool or not isinstance(x, int | float):
        return None
    try:
        return float(x) if math.isfinite(x) else None
    except OverflowError:  # an int beyond any float
        return None


def _median_positive(values: list[float | None]) -> float | None:
    xs = [v for v in values if v is not None and v > 0]
    return statistics.median(xs) if xs else None


def evidence(group: Mapping[str, Any], figure: str) -> tuple[sc.Evidence | None, str | None]:
    """The symbol's R evidence and the figure it came from: the configured figure,
    else the next more basic one the document has (recent → robust → raw). A raw
    mean is clipped to ± ``clip_r`` like the robust ones, so no size dominates."""
    n = int(_num(group.get("r_trades")) or 0)
    order = list(R_FIGURES)
    for name in order[order.index(figure) :]:
        mean_f, sd_f, n_f = R_FIGURES[name]
        mean = _num(group.get(mean_f))
        n_eff = _num(group.get(n_f))
        if mean is None or n <= 0 or not n_eff or n_eff <= 0:
            continue
        k = ROBUST.clip_r
        return sc.Evidence(min(k, max(-k, mean)), n_eff, _num(group.get(sd_f)), n), mean_f
    return None, None


def drift_of(engine: ExpectancyEngine, cfg: ScoreConfig) -> dict[str, Drift | None] | None:
    """The Page–Hinkley test over the trades of the engine's drift window, per
    symbol; None when the score has no drift window or the engine lacks it."""
    if not cfg.drift_window:
        return None
    held = engine.held_trades(cfg.drift_window)
    return None if held is None else drifts(held, DriftPolicy.of(cfg, ROBUST.clip_r))


def since_change(d: Drift) -> sc.Evidence:
    """The evidence of the trades since a detected change."""
    return sc.Evidence(d.mean_r_since, float(d.trades_since), d.sd_r_since, d.trades_since)


def _router(
    group: Mapping[str, Any], health: Mapping[str, Any] | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Router inputs from the window, else from router_health.json (with the
    components that came from it)."""
    out: dict[str, float | None] = {n: _num(group.get(n)) for n in ROUTER_FIGURES}
    out["fills"] = _num(group.get("fills")) or 0.0
    orders = _num(group.get("orders")) or 0.0
    rejects, rate = _num(group.get("rejects")), _num(group.get("reject_rate"))
    if rejects is None and rate is not None:
        rejects = rate * orders
    out["orders"], out["rejects"] = orders, rejects
    sources: dict[str, str] = {}
    h = health if isinstance(health, Mapping) else {}
    h_fills = _num(h.get("fills")) or 0.0
    if out["fills"] == 0 and h_fills > 0:
        out.update({n: _num(h.get(n)) for n in ROUTER_FIGURES})
        out["fills"] = h_fills
        sources.update(slippage="router_health.json", router_quality="router_health.json")
    h_orders = _num(h.get("orders")) or 0.0
    if orders == 0 and h_orders > 0 and _num(h.get("rejects")) is not None:
        out["orders"], out["rejects"] = h_orders, _num(h.get("rejects"))
        sources["reject_rate"] = "router_health.json"
    return out, sources


def weights_present(weights: Mapping[str, float], missing: list[str]) -> dict[str, float]:
    """The weights of the components present, renormalised to sum to 1: a missing
    component is neutral — it neither counts 0 at its weight (which would cap the
    score of a symbol with fewer inputs) nor lifts or lowers the rest. Empty when
    no weighted component is present (the score is then 0).

    >>> weights_present({"expectancy": 0.5, "hit_rate": 0.25, "slippage": 0.25}, ["slippage"])
    {'expectancy': 0.6666666666666666, 'hit_rate': 0.3333333333333333}
    """
    return dict(_renormalised(tuple(weights.items()), tuple(missing)))


@functools.lru_cache(maxsize=256)
def _renormalised(
    weights: tuple[tuple[str, float], ...], missing: tuple[str, ...]
) -> tuple[tuple[str, float], ...]:
    """:func:`weights_present` of hashable arguments: symbols share a few patterns
    of missing components, so each is computed once."""
    present = {k: w for k, w in weights if k not in missing and w > 0}
    total = math.fsum(present.values())
    return tuple((k, w / total) for k, w in present.items()) if total > 0 else ()


def score_symbols(
    expectancy: Mapping[str, Any],
    router_health: Mapping[str, Any] | None = None,
    *,
    window: str | None = None,
    config: ScoreConfig | None = None,
    generated_at: float | None = None,
    drift: Mapping[str, Drift | None] | None = None,
) -> dict[str, Any]:
    """The ``symbol_scores_v6`` document from an ``expectancy_v6`` document.

    ``window`` defaults to ``config.window``; a window the document lacks scores no
    symbol (an empty ranking, not an error). ``router_health`` is the executor's
    ``router_health.json`` document, when there is one. ``drift``: the change test
    per symbol (:func:`drift_of`), when it ran; with ``drift_discount`` a symbol's
    expectancy then reads only the trades since its last detected change.
    """
    cfg = config or ScoreConfig()
    window = window or cfg.window
    weights = {k: float(cfg.weights.get(k, 0.0)) for k in SCORE_COMPONENTS}
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("score weights must not all be zero")
    weights = {k: v / total for k, v in weights.items()}
    prior = float(cfg.prior_trades)
    policy = sc.EdgePolicy(cfg.variance_prior_trades, cfg.min_r_sd, cfg.prior_sd_r,
                           cfg.min_prior_sd_r, cfg.min_prior_symbols, ROBUST.clip_r,
                           cfg.expectancy_scale)  # fmt: skip
    found: Mapping[str, Any] = (
        expectancy.get("windows", {}).get(window, {}).get("symbols", {}) or {}
    )
    groups = {
        s: g for s, g in sorted(found.items()) if isinstance(s, str) and isinstance(g, Mapping)
    }
    health_by_symbol: Mapping[str, Any] = {}
    if isinstance(router_health, Mapping) and isinstance(router_health.get("symbols"), Mapping):
        health_by_symbol = router_health["symbols"]
    med_notional = _median_positive([_num(g.get("notional_usd")) for g in groups.values()])
    spread = {s: _num(g.get("r_std_robust", g.get("r_std"))) for s, g in groups.items()}
    med_r_std = _median_positive(list(spread.values()))
    found_evidence = {s: evidence(g, cfg.expectancy_figure) for s, g in groups.items()}
    changes = {s: (drift or {}).get(s) for s in groups}
    if cfg.drift_discount:
        for s, d in changes.items():
            if d is not None and found_evidence[s][0] is not None:
                found_evidence[s] = since_change(d), "since_drift"
    posterior = dict(zip(groups, sc.edges([e for e, _ in found_evidence.values()], policy),
                         strict=True))  # fmt: skip
    entries = []
    for sym, g in groups.items():
        router, sources = _router(g, health_by_symbol.get(sym))
        trades = int(_num(g.get("trades")) or 0)
        r_trades = int(_num(g.get("r_trades")) or 0)
        edge, change = posterior[sym], changes[sym]
        values: dict[str, float | None] = {
            "expectancy": None if edge is None else edge.component,
            "hit_rate": sc.hit_rate(_num(g.get("wins")), trades, prior=prior),
            "slippage": sc.slippage(
                router["avg_slippage_bps"], router["fills"] or 0.0, prior=prior
            ),
            "router_quality": sc.router_quality(
                router["maker_fill_rate"],
                router["fallback_rate"],
                router["fills"] or 0.0,
                prior=prior,
                orders=router["orders"] or 0.0,
            ),
            "reject_rate": sc.reject_rate(router["rejects"], router["orders"] or 0.0, prior=prior),
            "liquidity": sc.liquidity(
                _num(g.get("notional_usd")),
                med_notional,
                orders=router["orders"] or 0.0,
                fills=router["fills"] or 0.0,
            ),
            "volatility": sc.volatility(spread[sym], med_r_std, r_trades, prior=prior),
        }
        missing = [k for k in SCORE_COMPONENTS if values[k] is None]
        comp = {k: 0.0 if values[k] is None else float(values[k] or 0.0) for k in SCORE_COMPONENTS}
        used = weights_present(weights, missing)
        contributions = {k: used.get(k, 0.0) * comp[k] for k in SCORE_COMPONENTS}
        score = min(RANGE[1], max(RANGE[0], math.fsum(contributions.values())))
        entry: dict[str, Any] = {
            "symbol": sym,
            "score": score,
            "rank": 0,
            "trades": trades,
            "confidence": 0.0 if edge is None else edge.confidence,
            "components": comp,
            "contributions": contributions,
            "weights_used": used,
            "edge": None
            if edge is None
            else {
                "figure": found_evidence[sym][1],
                "mean_r": edge.mean_r,
                "n_eff": edge.n_eff,
                "se_r": edge.se_r,
                "prior_sd_r": edge.prior_sd_r,
                "posterior_mean_r": edge.posterior_mean_r,
                "posterior_sd_r": edge.posterior_sd_r,
                "p_edge_positive": edge.p_edge_positive,
                "scale_r": edge.scale_r,
            },
            "drift": None if change is None else change.document(),
            "inputs": {
                "avg_r": _num(g.get("avg_r")),
                "avg_r_robust": _num(g.get("avg_r_robust")),
                "avg_r_recent": _num(g.get("avg_r_recent")),
                "r_recent_trades": _num(g.get("r_recent_trades")),
                "hit_rate": _num(g.get("hit_rate")),
                "avg_slippage_bps": router["avg_slippage_bps"],
                "maker_fill_rate": router["maker_fill_rate"],
                "fallback_rate": router["fallback_rate"],
                "reject_rate": _num(g.get("reject_rate")),
                "orders": router["orders"],
                "rejects": router["rejects"],
                "notional_usd": _num(g.get("notional_usd")),
                "r_std": _num(g.get("r_std")),
                "pnl_usd": _num(g.get("pnl_usd")),
                "expectancy_per_risk": _num(g.get("expectancy_per_risk")),
            },
            "missing": missing,
        }
        if sources:
            entry["sources"] = dict(sorted(sources.items()))
        entries.append(entry)
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
        "weights": weights,
        "prior_trades": cfg.prior_trades,
        "drift_window": cfg.drift_window if drift is not None else None,
        "policy": {
            "expectancy_figure": cfg.expectancy_figure,
            "clip_r": ROBUST.clip_r,
            "half_life_trades": ROBUST.half_life_trades,
            "variance_prior_trades": policy.variance_prior_trades,
            "min_r_sd": policy.min_r_sd,
            "prior_sd_r": policy.prior_sd_r,
            "min_prior_sd_r": policy.min_prior_sd_r,
            "min_prior_symbols": policy.min_prior_symbols,
            "expectancy_scale": policy.scale,
            "drift_threshold_r": cfg.drift_threshold_r,
            "drift_delta_r": cfg.drift_delta_r,
            "drift_min_trades": cfg.drift_min_trades,
            "drift_discount": cfg.drift_discount,
        },
        "symbols": entries,
        "top": [e["symbol"] for e in entries[: cfg.top_n]],
    }
