"""The batch a user would write with pandas: parse each line, build a frame, group.

The same per-group records as :mod:`benchmarks.reference_polars` (and the same shared
O(groups) tail), with the usual pandas idioms: ``orjson`` per line with bad lines
skipped, ``groupby`` aggregates, ``cumsum``/``cummax`` for the drawdown path and run
labels for the longest loss streak.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from execution.config import IntelConfig
from execution.intel.events import source_label
from execution.intel.expectancy_v6 import DIMENSIONS, Inputs, Window, build_document
from execution.intel.folds import Sufficient, records_of
from execution.intel.symbol_score_v6 import score_symbols

KEYS = ("symbol", "strategy", "policy", "regime", "executor")
FIELDS = (
    "event", "ts", *KEYS, "order_id", "status", "notional_usd", "is_maker", "fallback",
    "slippage_bps", "latency_ms", "trade_id", "pnl_usd", "risk_usd", "r_multiple",
)  # fmt: skip
NUMBERS = ("ts", "notional_usd", "slippage_bps", "latency_ms", "pnl_usd", "risk_usd", "r_multiple")


def load(path: str | Path) -> pd.DataFrame:
    rows = []
    with open(path, "rb") as f:
        for line in f:
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("event") in ("order", "trade"):
                rows.append(obj)
    df = pd.DataFrame.from_records(rows, columns=list(FIELDS))
    for c in NUMBERS:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    ok = df["ts"].notna() & df["symbol"].map(lambda s: isinstance(s, str))
    ok &= ((df["event"] == "order") & df["order_id"].notna()) | (
        (df["event"] == "trade") & df["trade_id"].notna() & df["pnl_usd"].notna()
    )
    df = df[ok].copy()
    for k in KEYS[1:-1]:
        df[k] = df[k].fillna("unknown")
    df["executor"] = df["executor"].fillna(source_label(path))
    df["id"] = df["order_id"].where(df["event"] == "order", df["trade_id"])
    return df.drop_duplicates(subset=["event", "id"], keep="first")


def _trades(t: pd.DataFrame, key: str, eps: float) -> dict[str, dict[str, Any]]:
    t = t.assign(
        win=t.pnl_usd > 0,
        loss=t.pnl_usd < 0,
        has_risk=t.risk_usd.notna(),
        scratch=t.r.notna() & (t.r.abs() < eps),
    )
    t = t.assign(decisive=t.win & ~t.scratch)
    g = t.groupby(key, sort=False)
    out = pd.DataFrame({
        "trades": g.size(),
        "wins": g.win.sum(), "losses": g.loss.sum(), "scratches": g.scratch.sum(),
        "decisive_wins": g.decisive.sum(),
        "pnl_usd": g.pnl_usd.sum(),
        "gross_profit_usd": t.pnl_usd.where(t.win, 0.0).groupby(t[key]).sum(),
        "gross_loss_usd": -t.pnl_usd.where(t.loss, 0.0).groupby(t[key]).sum(),
        "risk_trades": g.has_risk.sum(),
        "risk_pnl_usd": t.pnl_usd.where(t.has_risk, 0.0).groupby(t[key]).sum(),
        "risk_usd": g.risk_usd.sum(),
        "r_trades": g.r.count(), "sum_r": g.r.sum(), "mean_r": g.r.mean(), "var_r": g.r.var(),
        "win_r_trades": t.r.where(t.win).groupby(t[key]).count(),
        "mean_win_r": t.r.where(t.win).groupby(t[key]).mean(),
        "loss_r_trades": t.r.where(t.loss).groupby(t[key]).count(),
        "mean_loss_r": t.r.where(t.loss).groupby(t[key]).mean(),
    })  # fmt: skip
    rt = t[t.r.notna()]
    cum = rt.r.groupby(rt[key]).cumsum()
    peak = cum.groupby(rt[key]).cummax().clip(lower=0.0)
    out["max_drawdown_r"] = (peak - cum).groupby(rt[key]).max()
    run = (t.loss != t.loss.groupby(t[key]).shift()).groupby(t[key]).cumsum()
    lens = t[t.loss].groupby([t[key], run]).size()
    out["longest_loss_streak"] = lens.groupby(level=0).max() if len(lens) else 0
    out["max_drawdown_r"] = out["max_drawdown_r"].fillna(0.0)
    out["longest_loss_streak"] = out["longest_loss_streak"].fillna(0).astype(int)
    return _rows(out)


def _orders(o: pd.DataFrame, key: str) -> dict[str, dict[str, Any]]:
    filled = o.status.isin(["FILLED", "PARTIALLY_FILLED"])
    slip = o.slippage_bps.where(filled)
    by = o[key]
    out = pd.DataFrame({
        "orders": o.groupby(by, sort=False).size(),
        "fills": filled.groupby(by).sum(),
        "maker_fills": (filled & (o.is_maker == True)).groupby(by).sum(),  # noqa: E712
        "fallbacks": (filled & (o.fallback == True)).groupby(by).sum(),  # noqa: E712
        "rejects": (o.status == "REJECTED").groupby(by).sum(),
        "slippage_fills": slip.groupby(by).count(),
        "mean_slippage_bps": slip.groupby(by).mean(),
        "slippage_cost_usd": (slip * o.notional_usd / 1e4).groupby(by).sum(),
        "notional_usd": o.notional_usd.fillna(0.0).groupby(by).sum(),
        "latency_orders": o.latency_ms.groupby(by).count(),
        "mean_latency_ms": o.latency_ms.groupby(by).mean(),
    })  # fmt: skip
    return _rows(out)


def _rows(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out = {}
    for key, row in frame.iterrows():
        rec = {}
        for f, v in row.items():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            rec[f] = v.item() if hasattr(v, "item") else v
            if f in ("trades", "wins", "losses", "scratches", "decisive_wins", "risk_trades",
                     "r_trades", "win_r_trades", "loss_r_trades", "longest_loss_streak",
                     "orders", "fills", "maker_fills", "fallbacks", "rejects",
                     "slippage_fills", "latency_orders"):  # fmt: skip
                rec[f] = int(rec[f])
        out[str(key)] = rec
    return out


def surfaces(df: pd.DataFrame, windows: list[Window], eps: float) -> dict[str, Any]:
    trades = df[df.event == "trade"].copy()
    trades["r"] = trades.r_multiple.where(
        trades.r_multiple.notna(), trades.pnl_usd / trades.risk_usd
    )
    orders = df[df.event == "order"]
    watermark = df.ts.max()
    out: dict[str, Any] = {}
    for w in windows:
        t_w, o_w = trades, orders
        if w.seconds is not None:
            t_w, o_w = (
                trades[trades.ts > watermark - w.seconds],
                orders[orders.ts > watermark - w.seconds],
            )
        out[w.spec] = {}
        for dim, key in zip(DIMENSIONS, KEYS, strict=True):
            t_k, o_k = t_w, o_w
            if w.trades is not None:
                t_k, o_k = t_w.groupby(key).tail(w.trades), o_w.groupby(key).tail(w.trades)
            t_rows = _trades(t_k, key, eps) if len(t_k) else {}
            o_rows = _orders(o_k, key) if len(o_k) else {}
            groups = {}
            for k in t_rows.keys() | o_rows.keys():
                t = t_rows.get(k, {})
                if not t.get("r_trades"):
                    t.pop("var_r", None)
                groups[k] = Sufficient(**t, **o_rows.get(k, {}))
            out[w.spec][dim] = (list(groups), records_of(list(groups.values())))
    return out


def run(path: str | Path, cfg: IntelConfig) -> tuple[dict, dict]:
    df = load(path)
    windows = [Window.parse(s) for s in dict.fromkeys([*cfg.windows, cfg.score.window])]
    groups = surfaces(df, windows, cfg.scratch_epsilon_r)
    inputs = Inputs(
        orders=int((df.event == "order").sum()),
        trades=int((df.event == "trade").sum()),
        watermark=float(df.ts.max()),
    )
    doc = build_document(
        groups, windows, inputs, dd_penalty=cfg.dd_penalty,
        scratch_epsilon_r=cfg.scratch_epsilon_r, generated_at=0.0,
    )  # fmt: skip
    return doc, score_symbols(doc, None, config=cfg.score, generated_at=0.0)
