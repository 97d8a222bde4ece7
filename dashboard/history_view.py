"""Tolerant readers of the history for the dashboard: the snapshot history
(``history_v6.sqlite``, docs/history.md, read-only with ``sqlite3``), the executor's
``nav_history.jsonl``, and the series the charts draw (cumulative R, underwater,
stacked score contributions). Never imports the engine; a missing, locked or damaged
file gives its reason, never an exception.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

HISTORY_FILE = "history_v6.sqlite"
NAV_HISTORY = "nav_history.jsonl"
COMPONENTS = ("expectancy", "hit_rate", "slippage", "router_quality", "liquidity", "volatility")
SYMBOL_COLUMNS = (
    "bucket",
    "window",
    "as_of",
    "trades",
    "hit_rate",
    "avg_r",
    "sum_r",
    "max_drawdown_r",
    "avg_slippage_bps",
    "pnl_usd",
    "score",
    "rank",
    *(f"c_{c}" for c in COMPONENTS),
)
FUND_COLUMNS = ("bucket", "window", "sum_r", "avg_r", "hit_rate", "trades", "pnl_usd")


@dataclass(slots=True)
class History:
    """What the history file holds: its symbols and windows, or why it cannot be read."""

    path: Path
    symbols: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)
    buckets: int = 0
    reason: str = ""


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)


def open_history(state_dir: str | Path) -> History:
    path = Path(state_dir) / HISTORY_FILE
    h = History(path)
    if not path.is_file():
        h.reason = f"{HISTORY_FILE} not found (replay or follow a log with the history on)"
        return h
    try:
        db = _connect(path)
        try:
            h.symbols = [s for (s,) in db.execute("SELECT DISTINCT symbol FROM symbols")]
            h.windows = [w for (w,) in db.execute("SELECT DISTINCT window FROM fund")]
            h.buckets = int(db.execute("SELECT count(*) FROM buckets").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error as exc:
        h.reason = f"{HISTORY_FILE} cannot be read: {exc}"
        return h
    h.symbols.sort()
    h.windows.sort(key=lambda w: (w != "all", w))
    return h


def _frame(path: Path, sql: str, args: list[str], columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        db = _connect(path)
        try:
            rows = db.execute(sql, args).fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        rows = []
    df = pd.DataFrame(rows, columns=list(columns))
    df["time"] = pd.to_datetime(df["bucket"], unit="s", utc=True)
    return df


def symbol_history(h: History, symbol: str) -> pd.DataFrame:
    """One symbol's records, oldest first, a ``time`` column (the bucket's start)."""
    sql = f"SELECT {', '.join(SYMBOL_COLUMNS)} FROM symbols WHERE symbol = ? ORDER BY bucket"
    return _frame(h.path, sql, [symbol], SYMBOL_COLUMNS)


def fund_history(h: History) -> pd.DataFrame:
    sql = f"SELECT {', '.join(FUND_COLUMNS)} FROM fund ORDER BY bucket"
    return _frame(h.path, sql, [], FUND_COLUMNS)


def underwater(values: pd.Series) -> pd.Series:
    """How far each point lies below the highest point so far (≤ 0; nulls carried).

    >>> list(underwater(pd.Series([0.0, 2.0, 1.0, 3.0, None, 0.5])))
    [0.0, 0.0, -1.0, 0.0, 0.0, -2.5]
    """
    filled = values.astype(float).ffill().fillna(0.0)
    return filled - filled.cummax()


def contributions(df: pd.DataFrame, weights: dict[str, float] | None) -> pd.DataFrame:
    """Per time, each component's share of the score (weight × component, weights
    normalised; equal weights when none are given), long form for a stacked chart."""
    w = {c: float((weights or {}).get(c, 1.0 if not weights else 0.0)) for c in COMPONENTS}
    total = sum(w.values()) or 1.0
    parts = [
        pd.DataFrame(
            {
                "time": df["time"],
                "component": c,
                "contribution": df[f"c_{c}"].astype(float).fillna(0.0) * w[c] / total,
            }
        )
        for c in COMPONENTS
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


@dataclass(slots=True)
class NavHistory:
    frame: pd.DataFrame
    skipped: int = 0
    reason: str = ""


def nav_history(state_dir: str | Path) -> NavHistory:
    """``nav_history.jsonl``: ts and nav_usd per line (a bad line is counted and
    skipped), oldest first, with the underwater drawdown in USD and in %."""
    path = Path(state_dir) / NAV_HISTORY
    cols = ["time", "nav_usd", "drawdown_usd", "drawdown_pct"]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return NavHistory(pd.DataFrame(columns=cols), 0, f"{NAV_HISTORY}: {exc.strerror}")
    rows: list[tuple[float, float]] = []
    skipped = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            doc: Any = json.loads(line)
            ts, nav = doc["ts"], doc["nav_usd"]
            ok = all(type(v) in (int, float) and math.isfinite(v) for v in (ts, nav))
        except (ValueError, TypeError, KeyError):
            ok = False
        if ok:
            rows.append((float(ts), float(nav)))
        else:
            skipped += 1
    rows.sort()
    df = pd.DataFrame(rows, columns=["ts", "nav_usd"])
    df["time"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    peak = df["nav_usd"].cummax()
    df["drawdown_usd"] = df["nav_usd"] - peak
    df["drawdown_pct"] = (df["drawdown_usd"] / peak.where(peak > 0)) * 100
    return NavHistory(df[cols], skipped)
