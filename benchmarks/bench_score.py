"""How well the symbol score ranks symbols by the edge in force now.

Simulated universes of symbols with a known true edge (mean R per trade), uneven
trade counts (log-uniform between 15 and 300), each trade's R = edge + noise:

* ``a`` — Gaussian noise, sd 1 R;
* ``b`` — Student-t noise (df 3, sd √3 R) with 1 % of trades replaced by ±8 R;
* ``c`` — ``b``'s noise, and a third of the symbols change edge once, at a point
  in the second half of their history (the new edge drawn afresh);
* ``d`` — stop-and-target payoffs: each symbol's trades end at −1 R or at its
  target (0.8, 2 or 3 R, as the strategies' ``target_r``), the hit probability
  set by the edge, plus N(0, 0.1²) execution noise and 1 % gaps of ±8 R — where
  winsorising below a target would bias symbols of different payoff shapes
  against each other.

Edges are drawn from N(0, 0.2²). For each universe the trades go through the real
path (events → ``expectancy_surfaces`` → ``score_symbols``) and the benchmark
reports Spearman ρ between the true current edge and

* ``score`` — the score with the configured defaults (``config/intel_v6.json``,
  window ``all``);
* ``before`` — the score as it was before (``benchmarks/score_before.py``, window
  ``50t``, the old weights);
* ``perf_filter`` — Freqtrade PerformanceFilter's rule: summed profit over the
  lookback (the whole history);
* ``mean`` — the plain mean R;
* ``ideal`` — the conjugate (Gaussian) posterior mean with the true prior, the
  true noise variance and, in ``c``, only the trades after the change point: what
  a mean-based estimator that knew everything but the edges would do;

and, for choosing the policy, the score's expectancy over a grid of winsorisation
bounds ``k`` and half-lives ``H`` (the recent figures computed as the trade fold
does, by the oracle's formulas; ``H=inf``: the winsorised mean of all trades).

Run: ``python -m benchmarks.bench_score --seeds 20`` (prints a Markdown table).
"""

from __future__ import annotations

import argparse
import copy
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np

from benchmarks import score_before
from execution.config import load_intel_config
from execution.intel.engine import ExpectancyEngine
from execution.intel.events import to_event
from execution.intel.symbol_score_v6 import drift_of, score_symbols
from tests.support import CONFIG_DIR

EDGE_SD = 0.2
T_DF = 3
OUTLIER_SHARE, OUTLIER_R = 0.01, 8.0
BEFORE_WEIGHTS = {"expectancy": 0.35, "hit_rate": 0.15, "slippage": 0.15,
                  "router_quality": 0.15, "liquidity": 0.1, "volatility": 0.1}  # fmt: skip
GRID_K = (1.0, 1.5, 2.0, 3.0, 1e12)
GRID_H = (15.0, 25.0, 50.0, 100.0, math.inf)
GRID_LAMBDA = [10.0, 15.0, 20.0, 25.0, 40.0]


@dataclass
class Universe:
    rs: list[np.ndarray]  # each symbol's R in order
    now: np.ndarray  # the edge in force at the end
    since: list[int]  # index of the first trade under the current edge
    noise_var: list[float]  # each symbol's per-trade variance of R


def universe(world: str, seed: int, n: int = 30) -> Universe:
    rng = np.random.default_rng([seed, ord(world)])
    edges = rng.normal(0.0, EDGE_SD, n)
    counts = np.exp(rng.uniform(math.log(15), math.log(300), n)).astype(int)
    now, since, rs = edges.copy(), [0] * n, []
    variances: list[float] = []
    for i in range(n):
        c = int(counts[i])
        if world == "a":
            noise = rng.normal(0.0, 1.0, c)
        else:
            noise = rng.standard_t(T_DF, c)
            out = rng.random(c) < OUTLIER_SHARE
            noise[out] = rng.choice([-OUTLIER_R, OUTLIER_R], int(out.sum()))
        if world == "d":
            target = float(rng.choice([0.8, 2.0, 3.0]))
            p = float(np.clip((edges[i] + 1) / (target + 1), 0.05, 0.95))
            now[i] = p * (target + 1) - 1
            hit = rng.random(c) < p
            x = np.where(hit, target, -1.0) + rng.normal(0.0, 0.1, c)
            out = rng.random(c) < OUTLIER_SHARE
            x[out] = rng.choice([-OUTLIER_R, OUTLIER_R], int(out.sum()))
            rs.append(x)
            variances.append(p * (1 - p) * (target + 1) ** 2 + 0.01 + OUTLIER_SHARE * 64)
            continue
        mu = np.full(c, edges[i])
        if world == "c" and i % 3 == 0 and c >= 4:
            cp = int(rng.integers(c // 2, c - 1))
            now[i] = rng.normal(0.0, EDGE_SD)
            mu[cp:] = now[i]
            since[i] = cp
        rs.append(mu + noise)
    t_var = T_DF / (T_DF - 2)
    var = 1.0 if world == "a" else (1 - OUTLIER_SHARE) * t_var + OUTLIER_SHARE * OUTLIER_R**2
    return Universe(rs, now, since, variances or [var] * n)


def events_of(u: Universe) -> list[dict[str, Any]]:
    """Trades of all symbols interleaved in time, risk 100 USD each."""
    out: list[dict[str, Any]] = []
    for i, rs in enumerate(u.rs):
        span = np.sort(np.random.default_rng(i).uniform(0, 1e6, len(rs)))
        out += [{"event": "trade", "ts": 1.7e9 + float(t), "symbol": f"S{i:02d}",
                 "trade_id": f"{i}-{j}", "pnl_usd": float(r) * 100.0, "risk_usd": 100.0}
                for j, (t, r) in enumerate(zip(span, rs, strict=True))]  # fmt: skip
    out.sort(key=lambda e: e["ts"])
    return out


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    ra = np.argsort(np.argsort(np.asarray(a), kind="stable"), kind="stable")
    rb = np.argsort(np.argsort(np.asarray(b), kind="stable"), kind="stable")
    return float(np.corrcoef(ra, rb)[0, 1])


def recent(rs: np.ndarray, k: float, h: float) -> tuple[float, float | None, float]:
    """Mean, sd and effective trades of R clipped at ±k, weights 2^(−age/h)."""
    x = np.clip(rs, -k, k)
    m = len(x)
    w = np.ones(m) if math.isinf(h) else np.exp2(-(m - 1 - np.arange(m)) / h)
    sw, sw2 = w.sum(), (w * w).sum()
    mean = float((w * x).sum() / sw)
    var = float((w * (x - mean) ** 2).sum() * sw / (sw * sw - sw2)) if m > 1 else None
    return mean, None if var is None else math.sqrt(max(var, 0.0)), float(sw * sw / sw2)


def with_policy(doc: dict[str, Any], u: Universe, k: float, h: float) -> dict[str, Any]:
    """A copy of ``doc`` whose all-time window has the recent figures of policy (k, h)."""
    doc = copy.deepcopy(doc)
    groups = doc["windows"]["all"]["symbols"]
    for i, rs in enumerate(u.rs):
        mean, sd, n_eff = recent(rs, k, h)
        groups[f"S{i:02d}"].update(avg_r_recent=mean, r_std_recent=sd, r_recent_trades=n_eff)
    return doc


def ideal(u: Universe) -> list[float]:
    out = []
    for rs, cp, var in zip(u.rs, u.since, u.noise_var, strict=True):
        x = rs[cp:]
        w = EDGE_SD**2 / (EDGE_SD**2 + var / len(x))
        out.append(w * float(x.mean()))
    return out


def measure(world: str, seed: int, cfg: Any) -> dict[str, float]:
    u = universe(world, seed)
    engine = ExpectancyEngine(["all", "50t", cfg.drift_window or "50t"])
    engine.apply_many([to_event(e, engine.decoder.decode) for e in events_of(u)])
    doc = engine.document(generated_at=0.0)
    drift = drift_of(engine, cfg)
    names = [f"S{i:02d}" for i in range(len(u.rs))]
    groups = doc["windows"]["all"]["symbols"]

    def rho_of(scores: dict[str, float]) -> float:
        return spearman(u.now, [scores[s] for s in names])

    def scored(d: dict[str, Any], c: Any = cfg, drift: Any = drift) -> dict[str, float]:
        out = score_symbols(d, config=c, generated_at=0.0, drift=drift)
        return {e["symbol"]: e["score"] for e in out["symbols"]}

    before = score_before.score_symbols(doc, window="50t", weights=BEFORE_WEIGHTS, prior=20.0)
    res = {
        "score": rho_of(scored(doc)),
        "score, no drift test": rho_of(scored(doc, drift=None)),
        "before": rho_of(before),
        "perf_filter": rho_of({s: groups[s]["pnl_usd"] for s in names}),
        "mean": rho_of({s: groups[s]["avg_r"] for s in names}),
        "ideal": spearman(u.now, ideal(u)),
    }
    for k in GRID_K:
        for h in GRID_H:
            res[f"k={k:g} H={h:g}"] = rho_of(scored(with_policy(doc, u, k, h), drift=None))
    for lam in GRID_LAMBDA:
        c = msgspec.structs.replace(cfg, drift_threshold_r=lam, drift_discount=True)
        found = drift_of(engine, c) or {}
        res[f"discount at drift λ={lam:g}"] = rho_of(scored(doc, c, found))
        changed = [i for i, cp in enumerate(u.since) if cp > 0]
        steady = [i for i, cp in enumerate(u.since) if cp == 0]
        flagged = [found.get(names[i]) is not None for i in range(len(names))]
        res[f"flagged, steady symbols, λ={lam:g}"] = statistics.fmean(flagged[i] for i in steady)
        if changed:
            res[f"flagged, changed symbols, λ={lam:g}"] = statistics.fmean(
                flagged[i] for i in changed
            )
    return res


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--worlds", default="abcd")
    ap.add_argument("--drift-window", help="the drift test's last-N window (default: config)")
    ap.add_argument("--lambdas", help="drift thresholds to try, comma-separated (R)")
    args = ap.parse_args(argv)
    base = load_intel_config(CONFIG_DIR / "intel_v6.json").score
    cfg = msgspec.structs.replace(base, window="all")
    if args.drift_window:
        cfg = msgspec.structs.replace(cfg, drift_window=args.drift_window)
    if args.lambdas:
        GRID_LAMBDA[:] = [float(x) for x in args.lambdas.split(",")]
    started = time.perf_counter()
    table: dict[str, dict[str, list[float]]] = {}
    for world in args.worlds:
        for seed in range(args.seeds):
            for name, rho in measure(world, seed, cfg).items():
                table.setdefault(name, {}).setdefault(world, []).append(rho)
    worlds = list(args.worlds)
    print(f"{args.seeds} seeds per world, 30 symbols each; mean Spearman ρ (± standard error)\n")
    print("| ranking | " + " | ".join(worlds) + " |")
    print("|---|" + "---:|" * len(worlds))
    show: Callable[[list[float]], str] = lambda xs: (  # noqa: E731
        f"{statistics.fmean(xs):.3f} ± {statistics.stdev(xs) / math.sqrt(len(xs)):.3f}"
    )
    for name, by_world in table.items():
        cells = [show(by_world[w]) if len(by_world.get(w, [])) > 1 else "—" for w in worlds]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nPaired differences (same universes), mean ± standard error:\n")
    print("| difference | " + " | ".join(worlds) + " |")
    print("|---|" + "---:|" * len(worlds))
    for other in ("before", "perf_filter", "mean", "ideal"):
        diffs = {w: [a - b for a, b in zip(table["score"][w], table[other][w], strict=True)]
                 for w in worlds}  # fmt: skip
        print(f"| score − {other} | " + " | ".join(show(diffs[w]) for w in worlds) + " |")
    print(f"\n{time.perf_counter() - started:.0f} s; {platform.machine()}, "
          f"{platform.python_version()}, {platform.system()}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
