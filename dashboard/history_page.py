"""The Intelligence page's history parts: the fund view (NAV, cumulative R,
drawdowns) and the per-symbol drill-down (docs/history.md), drawn with Altair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import charts
from dashboard import history_view as hv


def _weights(scores: dict[str, Any] | None) -> dict[str, float] | None:
    w = (scores or {}).get("weights")
    if not isinstance(w, dict):
        return None
    return {str(k): float(v) for k, v in w.items() if isinstance(v, int | float)}


def drift_marks(scores: dict[str, Any] | None, symbol: str) -> pd.DataFrame:
    """The drift flags of the scores document for ``symbol`` (``drift.detected_at_ts``
    where the document has one), as times to mark."""
    rows = []
    for e in (scores or {}).get("symbols") or []:
        if isinstance(e, dict) and e.get("symbol") == symbol:
            d = e.get("drift")
            ts = d.get("detected_at_ts") if isinstance(d, dict) else None
            if isinstance(ts, int | float) and not isinstance(ts, bool):
                rows.append({"ts": float(ts), "flag": f"drift {d.get('direction', '')}".strip()})
    df = pd.DataFrame(rows, columns=["ts", "flag"])
    df["time"] = pd.to_datetime(df["ts"], unit="s", utc=True)
    return df


def fund_view(directory: Path, history: hv.History) -> None:
    st.subheader("Fund")
    nav = hv.nav_history(directory)
    left, right = st.columns(2)
    if nav.reason:
        left.info(f"NAV history not available: {nav.reason}")
    elif nav.frame.empty:
        left.info("NAV history has no usable lines.")
    else:
        left.altair_chart(
            charts.line(nav.frame, "nav_usd", "NAV", "USD", ",.2f"), width="stretch"
        )
        right.altair_chart(
            charts.underwater(nav.frame, "drawdown_pct", "NAV drawdown (underwater)", "%"),
            width="stretch",
        )
        if nav.skipped:
            st.caption(f"{hv.NAV_HISTORY}: {nav.skipped} unusable line(s) skipped")
    if history.reason:
        st.info(f"History not available: {history.reason}")
        return
    fund = hv.fund_history(history)
    fund = fund[fund["window"] == "all"].reset_index(drop=True)
    if fund.empty:
        st.info("The history has no fund records under the window all yet.")
        return
    fund["drawdown_r"] = hv.underwater(fund["sum_r"])
    left, right = st.columns(2)
    left.altair_chart(
        charts.line(fund, "sum_r", "Cumulative R (all symbols)", "R", "+,.2f"),
        width="stretch",
    )
    right.altair_chart(
        charts.underwater(fund, "drawdown_r", "Drawdown of cumulative R (underwater)", "R"),
        width="stretch",
    )
    st.caption(f"{len(fund)} hourly snapshots (event time) from {history.path.name}")


def drill_down(
    history: hv.History, scores: dict[str, Any] | None, ranked: list[str], window: str | None
) -> None:
    st.subheader("Symbol drill-down")
    if history.reason:
        st.info(f"History not available: {history.reason}")
        return
    if not history.symbols:
        st.info("The history holds no symbols yet (no event-time bucket has closed).")
        return
    order = [s for s in ranked if s in history.symbols]
    order += [s for s in history.symbols if s not in order]
    symbol = st.selectbox("Symbol", order, index=0, key="drill_symbol")
    df = hv.symbol_history(history, symbol)
    rolling = [w for w in history.windows if w != "all"]
    chosen = window if window in rolling else (rolling[0] if rolling else "all")
    if len(rolling) > 1:
        chosen = st.selectbox(
            "Rolling window", rolling, index=rolling.index(chosen), key="drill_window"
        )
    whole = df[df["window"] == "all"].reset_index(drop=True)
    roll = df[df["window"] == chosen].reset_index(drop=True)
    marks = drift_marks(scores, symbol)
    st.caption(
        f"{symbol}: {len(whole)} snapshots under all, {len(roll)} under {chosen}"
        + (f"; {len(marks)} drift flag(s) marked" if len(marks) else "; no drift flags")
    )

    def show(chart: Any) -> None:
        st.altair_chart(charts.flags(chart, marks) if len(marks) else chart,
                        width="stretch")  # fmt: skip

    if not whole.empty:
        whole["drawdown_r"] = hv.underwater(whole["sum_r"])
        left, right = st.columns(2)
        with left:
            show(charts.line(whole, "sum_r", f"{symbol}: cumulative R", "R", "+,.2f"))
        with right:
            show(charts.underwater(whole, "drawdown_r", f"{symbol}: drawdown", "R"))
    if roll.empty:
        return
    roll["hit_rate_pct"] = roll["hit_rate"] * 100
    cols = st.columns(3)
    for col, (y, title, unit, fmt) in zip(
        cols,
        (
            ("avg_r", f"avg R ({chosen})", "R", "+.3f"),
            ("hit_rate_pct", f"hit rate ({chosen})", "%", ".1f"),
            ("avg_slippage_bps", f"slippage ({chosen})", "bps", ".2f"),
        ),
        strict=True,
    ):
        with col:
            show(charts.line(roll, y, title, unit, fmt))
    left, right = st.columns(2)
    with left:
        show(charts.line(roll, "score", f"score ({chosen})", "score (−1 … 1)", "+.3f"))
    with right:
        show(charts.rank(roll, f"rank ({chosen})"))
    parts = hv.contributions(roll, _weights(scores))
    show(charts.stacked(parts, roll, f"{symbol}: score components stacked ({chosen})"))
