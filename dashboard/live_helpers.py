"""Readers and tables for the dashboard, over the state documents only.

Every reader returns a :class:`Loaded`: the document, or ``None`` with the reason
(missing, unreadable, not JSON — e.g. a partial file —, not an object, or another
schema). No reader raises; the page shows the reason instead of the data. This
module imports neither the engine nor Streamlit, so it is cheap to test and the
dashboard cannot disturb the executor.

>>> import tempfile
>>> d = tempfile.mkdtemp()
>>> load_scores(d).reason
'symbol_scores_v6.json: missing'
>>> symbol_table(None, None)
[]
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAV = "nav.json"
POSITIONS = "positions.json"
UNIVERSE = "universe.json"
ROUTER_HEALTH = "router_health.json"
EXPECTANCY = "expectancy_v6.json"
SCORES = "symbol_scores_v6.json"
STALE_AFTER_S = 120.0
COMPONENTS = ("expectancy", "hit_rate", "slippage", "router_quality", "liquidity", "volatility")
DIMENSIONS = ("symbols", "strategies", "policies", "regimes")


@dataclass(frozen=True, slots=True)
class Loaded:
    doc: dict[str, Any] | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.doc is not None


def read_document(
    state_dir: str | Path, name: str, *, schema: str | None = None, required: tuple[str, ...] = ()
) -> Loaded:
    """One state document, or the reason it cannot be shown."""
    path = Path(state_dir) / name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Loaded(None, f"{name}: missing")
    except OSError as exc:
        return Loaded(None, f"{name}: unreadable ({exc.strerror})")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return Loaded(None, f"{name}: not valid JSON ({exc})")
    if not isinstance(doc, dict):
        return Loaded(None, f"{name}: not a JSON object")
    if schema is not None and doc.get("schema") != schema:
        return Loaded(None, f"{name}: schema {doc.get('schema')!r}, expected {schema!r}")
    missing = [k for k in required if k not in doc]
    if missing:
        return Loaded(None, f"{name}: lacks {', '.join(missing)}")
    return Loaded(doc)


def load_nav(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, NAV, required=("nav_usd",))


def load_positions(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, POSITIONS, required=("positions",))


def load_universe(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, UNIVERSE)


def load_router_health(state_dir: str | Path) -> Loaded:
    return read_document(state_dir, ROUTER_HEALTH, required=("symbols",))


def load_expectancy(state_dir: str | Path) -> Loaded:
    loaded = read_document(state_dir, EXPECTANCY, schema="expectancy_v6", required=("windows",))
    if loaded.doc is not None and not isinstance(loaded.doc["windows"], dict):
        return Loaded(None, f"{EXPECTANCY}: windows is not an object")
    return loaded


def load_scores(state_dir: str | Path) -> Loaded:
    loaded = read_document(state_dir, SCORES, schema="symbol_scores_v6", required=("symbols",))
    if loaded.doc is not None and not isinstance(loaded.doc["symbols"], list):
        return Loaded(None, f"{SCORES}: symbols is not a list")
    return loaded


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    return float(x) if math.isfinite(x) else None


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def symbol_table(
    scores: dict[str, Any] | None, expectancy: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The ranked per-symbol table: symbol, score, expectancy (avg R), hit rate,
    slippage, router quality, trades, confidence, then the six components.
    Expectancy figures come from the score's own window; a malformed entry is
    skipped, never fatal."""
    if not scores:
        return []
    window = str(scores.get("window"))
    groups = _dict(_dict(_dict(_dict(expectancy).get("windows")).get(window)).get("symbols"))
    rows = []
    for e in scores.get("symbols", []):
        if not isinstance(e, dict) or not isinstance(e.get("symbol"), str):
            continue
        g, c, i = _dict(groups.get(e["symbol"])), _dict(e.get("components")), _dict(e.get("inputs"))
        rows.append(
            {
                "rank": e.get("rank"),
                "symbol": e["symbol"],
                "score": _num(e.get("score")),
                "expectancy": _num(g.get("avg_r", i.get("avg_r"))),
                "hit_rate": _num(g.get("hit_rate", i.get("hit_rate"))),
                "slippage_bps": _num(g.get("avg_slippage_bps", i.get("avg_slippage_bps"))),
                "router_quality": _num(c.get("router_quality")),
                "trades": e.get("trades"),
                "confidence": _num(e.get("confidence")),
                **{f"c_{k}": _num(c.get(k)) for k in COMPONENTS},
            }
        )
    rows.sort(key=lambda r: (r["rank"] if isinstance(r["rank"], int) else 1 << 30, r["symbol"]))
    return rows


def top_n(scores: dict[str, Any] | None, n: int) -> list[str]:
    """The best ``n`` symbols by rank."""
    rows = symbol_table(scores, None)
    return [r["symbol"] for r in rows[: max(n, 0)]]


def windows(expectancy: dict[str, Any] | None) -> list[str]:
    return [w for w in _dict(_dict(expectancy).get("windows")) if isinstance(w, str)]


GROUP_KEY = {
    "symbols": "symbol",
    "strategies": "strategy",
    "policies": "policy",
    "regimes": "regime",
}
GROUP_COLUMNS = (
    "trades",
    "hit_rate",
    "avg_r",
    "expectancy_per_risk",
    "dd_expectancy",
    "max_drawdown_r",
    "pnl_usd",
    "profit_factor",
    "fills",
    "maker_fill_rate",
    "fallback_rate",
    "avg_slippage_bps",
)


def group_table(expectancy: dict[str, Any] | None, window: str, dim: str) -> list[dict[str, Any]]:
    """One row per group (e.g. per strategy) of one window."""
    groups = _dict(_dict(_dict(_dict(expectancy).get("windows")).get(window)).get(dim))
    return [
        {GROUP_KEY.get(dim, dim): key} | {c: _dict(g).get(c) for c in GROUP_COLUMNS}
        for key, g in sorted(groups.items())
    ]


@dataclass(frozen=True, slots=True)
class Age:
    generated_at: float | None
    as_of: float | None
    age_s: float | None  # now - generated_at
    stale: bool


def data_age(
    doc: dict[str, Any] | None, now: float | None = None, stale_after: float = STALE_AFTER_S
) -> Age:
    """How old a published document is; stale when older than ``stale_after`` or
    when it carries no time at all."""
    now = time.time() if now is None else now
    gen, as_of = _num(_dict(doc).get("generated_at")), _num(_dict(doc).get("as_of"))
    age = None if gen is None else max(0.0, now - gen)
    return Age(gen, as_of, age, age is None or age > stale_after)


def reject_counts(expectancy: dict[str, Any] | None) -> dict[str, int]:
    """Rejected and skipped lines by reason."""
    inputs = _dict(_dict(expectancy).get("inputs"))
    out = {
        str(k): int(v)
        for k, v in {
            **_dict(inputs.get("reject_reasons")),
            **_dict(inputs.get("skip_reasons")),
        }.items()
        if isinstance(v, int)
    }
    return dict(sorted(out.items()))
