"""The batch a user would write with polars: read the whole log, group, aggregate.

It computes every per-group record behind the §4 figures (the same
:class:`~execution.intel.folds.Sufficient` fields the engine keeps) for windows
``all``, ``<N>t`` and ``<T>d``, then shares the engine's O(groups) tail —
``build_document`` and ``score_symbols`` — so the documents can be compared field by
field. polars cannot read a log with one malformed line (``read_ndjson`` raises), so
on a dirty log the user's script first keeps the lines ``orjson`` parses as objects
of a known kind; ``clean=True`` skips that pass (the best case for polars).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from execution.config import IntelConfig
from execution.intel.events import source_label
from execution.intel.expectancy_v6 import DIMENSIONS, Inputs, Window, build_document
from execution.intel.folds import Sufficient, records_of
from execution.intel.symbol_score_v6 import score_symbols

SCHEMA = {
    "event": pl.String,
    "ts": pl.Float64,
    "symbol": pl.String,
    "strategy": pl.String,
    "policy": pl.String,
    "regime": pl.String,
    "executor": pl.String,
    "order_id": pl.String,
    "status": pl.String,
    "notional_usd": pl.Float64,
    "is_maker": pl.Boolean,
    "fallback": pl.Boolean,
    "slippage_bps": pl.Float64,
    "latency_ms": pl.Float64,
    "trade_id": pl.String,
    "pnl_usd": pl.Float64,
    "risk_usd": pl.Float64,
    "r_multiple": pl.Float64,
}
KEYS = ("symbol", "strategy", "policy", "regime", "executor")
KINDS = (b'"order"', b'"trade"')


def load(path: str | Path, *, clean: bool = False) -> pl.DataFrame:
    if clean:
        df = pl.read_ndjson(path, schema=SCHEMA)
    else:
        good = []
        with open(path, "rb") as f:
            for line in f:
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(obj, dict) and obj.get("event") in ("order", "trade"):
                    good.append(line)
        df = pl.read_ndjson(io.BytesIO(b"".join(good)), schema=SCHEMA, ignore_errors=True)
    df = df.filter(
        pl.col("ts").is_not_null()
        & pl.col("symbol").is_not_null()
        & pl.col("ts").is_finite()
        & (
            ((pl.col("event") == "order") & pl.col("order_id").is_not_null())
            | (
                (pl.col("event") == "trade")
                & pl.col("trade_id").is_not_null()
                & pl.col("pnl_usd").is_not_null()
            )
        )
    ).with_columns(
        *(pl.col(k).fill_null("unknown") for k in KEYS[1:-1]),
        pl.col("executor").fill_null(source_label(path)),
    )
    df = df.with_columns(
        pl.when(pl.col("event") == "order")
        .then(pl.col("order_id"))
        .otherwise(pl.col("trade_id"))
        .alias("id")
    )
    return df.unique(subset=["event", "id"], keep="first", maintain_order=True)


def _trade_aggs(eps: float) -> list[pl.Expr]:
    pnl, r, risk = pl.col("pnl_usd"), pl.col("r"), pl.col("risk_usd")
    win, loss = pnl > 0, pnl < 0
    scratch = r.is_not_null() & (r.abs() < eps)
    cum = r.drop_nulls().cum_sum()
    rle = loss.rle()
    return [
        pl.len().alias("trades"),
        win.sum().alias("wins"),
        loss.sum().alias("losses"),
        scratch.sum().alias("scratches"),
        (win & ~scratch).sum().alias("decisive_wins"),
        pnl.sum().alias("pnl_usd"),
        pnl.filter(win).sum().alias("gross_profit_usd"),
        (-pnl.filter(loss)).sum().alias("gross_loss_usd"),
        risk.is_not_null().sum().alias("risk_trades"),
        pnl.filter(risk.is_not_null()).sum().alias("risk_pnl_usd"),
        risk.sum().alias("risk_usd"),
        r.count().alias("r_trades"),
        r.sum().alias("sum_r"),
        r.mean().alias("mean_r"),
        r.var().alias("var_r"),
        r.filter(win).count().alias("win_r_trades"),
        r.filter(win).mean().alias("mean_win_r"),
        r.filter(loss).count().alias("loss_r_trades"),
        r.filter(loss).mean().alias("mean_loss_r"),
        (cum.cum_max().clip(lower_bound=0.0) - cum).max().alias("max_drawdown_r"),
        rle.struct.field("len")
        .filter(rle.struct.field("value"))
        .max()
        .alias("longest_loss_streak"),
    ]


def _order_aggs() -> list[pl.Expr]:
    filled = pl.col("status").is_in(["FILLED", "PARTIALLY_FILLED"])
    slip = pl.col("slippage_bps").filter(filled)
    return [
        pl.len().alias("orders"),
        filled.sum().alias("fills"),
        (filled & pl.col("is_maker")).sum().alias("maker_fills"),
        (filled & pl.col("fallback")).sum().alias("fallbacks"),
        (pl.col("status") == "REJECTED").sum().alias("rejects"),
        slip.count().alias("slippage_fills"),
        slip.mean().alias("mean_slippage_bps"),
        (pl.col("slippage_bps") * pl.col("notional_usd") / 1e4).filter(filled).sum()
        .alias("slippage_cost_usd"),
        pl.col("notional_usd").fill_null(0.0).sum().alias("notional_usd"),
        pl.col("latency_ms").count().alias("latency_orders"),
        pl.col("latency_ms").mean().alias("mean_latency_ms"),
    ]  # fmt: skip


def _last_n(df: pl.DataFrame, key: str, n: int) -> pl.DataFrame:
    return df.filter(pl.int_range(pl.len()).reverse().over(key) < n)


def _records(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row.pop("key"): row for row in rows}


def surfaces(df: pl.DataFrame, windows: list[Window], eps: float) -> dict[str, Any]:
    trades = df.filter(pl.col("event") == "trade").with_columns(
        pl.coalesce(pl.col("r_multiple"), pl.col("pnl_usd") / pl.col("risk_usd")).alias("r")
    )
    orders = df.filter(pl.col("event") == "order")
    watermark = df["ts"].max()
    out: dict[str, Any] = {}
    for w in windows:
        t_w, o_w = trades, orders
        if w.seconds is not None:
            horizon = watermark - w.seconds  # type: ignore[operator]
            t_w, o_w = trades.filter(pl.col("ts") > horizon), orders.filter(pl.col("ts") > horizon)
        out[w.spec] = {}
        for dim, key in zip(DIMENSIONS, KEYS, strict=True):
            t_k, o_k = t_w, o_w
            if w.trades is not None:
                t_k, o_k = _last_n(t_w, key, w.trades), _last_n(o_w, key, w.trades)
            t_rows = _records(
                t_k.group_by(pl.col(key).alias("key")).agg(_trade_aggs(eps)).to_dicts()
            )
            o_rows = _records(o_k.group_by(pl.col(key).alias("key")).agg(_order_aggs()).to_dicts())
            groups = {}
            for k in t_rows.keys() | o_rows.keys():
                t = {f: v for f, v in t_rows.get(k, {}).items() if v is not None}
                t.setdefault("longest_loss_streak", 0)
                t.setdefault("max_drawdown_r", 0.0)
                if not t.get("r_trades"):
                    t["var_r"] = None
                groups[k] = Sufficient(**t, **{f: v for f, v in o_rows.get(k, {}).items()
                                               if v is not None})  # fmt: skip
            out[w.spec][dim] = (list(groups), records_of(list(groups.values())))
    return out


def run(path: str | Path, cfg: IntelConfig, *, clean: bool = False) -> tuple[dict, dict]:
    df = load(path, clean=clean)
    windows = [Window.parse(s) for s in dict.fromkeys([*cfg.windows, cfg.score.window])]
    groups = surfaces(df, windows, cfg.scratch_epsilon_r)
    inputs = Inputs(
        orders=int((df["event"] == "order").sum()),
        trades=int((df["event"] == "trade").sum()),
        watermark=df["ts"].max(),  # type: ignore[arg-type]
    )
    doc = build_document(
        groups, windows, inputs, dd_penalty=cfg.dd_penalty,
        scratch_epsilon_r=cfg.scratch_epsilon_r, generated_at=0.0,
    )  # fmt: skip
    return doc, score_symbols(doc, None, config=cfg.score, generated_at=0.0)
