"""The desk's dashboard: Overview (NAV, positions, router health) and Intelligence
(symbol ranking, score components, expectancy by strategy and policy).

Reads the state documents only (through :mod:`dashboard.live_helpers`); a missing or
broken document shows its reason instead of its data. Run::

    streamlit run dashboard/app.py --server.address 127.0.0.1 -- --state-dir logs/state

``--state-dir`` (or the ``EI_STATE_DIR`` environment variable) picks the state
directory; ``?page=intelligence`` in the address opens the Intelligence page.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import live_helpers as h

PAGES = ("Overview", "Intelligence")


def state_dir() -> Path:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--state-dir")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.state_dir or os.environ.get("EI_STATE_DIR", "logs/state"))


def fmt_ts(ts: float | None) -> str:
    return "—" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def overview(directory: Path) -> None:
    st.header("Overview")
    nav = h.load_nav(directory)
    if nav.doc is None:
        st.info(f"NAV not available: {nav.reason}")
    else:
        d = nav.doc
        cols = st.columns(4)
        cols[0].metric("NAV (USD)", f"{d.get('nav_usd', 0):,.2f}")
        cols[1].metric("Realised PnL (USD)", f"{d.get('realized_pnl_usd', 0):+,.2f}")
        cols[2].metric("Gross exposure (USD)", f"{d.get('gross_exposure_usd', 0):,.0f}")
        cols[3].metric("Open positions", d.get("open_positions", 0))
        st.caption(f"as of {fmt_ts(d.get('ts'))}")
    st.subheader("Positions")
    pos = h.load_positions(directory)
    if pos.doc is None:
        st.info(f"Positions not available: {pos.reason}")
    elif not pos.doc["positions"]:
        st.write("No open positions.")
    else:
        st.dataframe(pd.DataFrame(pos.doc["positions"]), hide_index=True)
    st.subheader("Router health")
    health = h.load_router_health(directory)
    if health.doc is None:
        st.info(f"Router health not available: {health.reason}")
    else:
        rows = [
            {"symbol": s, **v}
            for s, v in sorted(health.doc["symbols"].items())
            if isinstance(v, dict)
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def intelligence(directory: Path) -> None:
    st.header("Intelligence")
    scores, expectancy = h.load_scores(directory), h.load_expectancy(directory)
    for loaded in (scores, expectancy):
        if loaded.doc is None:
            st.warning(f"Not available: {loaded.reason}")
    for label, loaded in (("Scores", scores), ("Expectancy", expectancy)):
        if loaded.doc is not None:
            age = h.data_age(loaded.doc)
            age_txt = "unknown" if age.age_s is None else f"{age.age_s:,.0f} s ago"
            st.caption(
                f"{label}: generated {fmt_ts(age.generated_at)} ({age_txt}); "
                f"data as of {fmt_ts(age.as_of)}"
            )
            if age.stale:
                st.warning(f"{label} document is stale (older than {h.STALE_AFTER_S:.0f} s).")
    rejects = h.reject_counts(expectancy.doc)
    if rejects:
        st.caption(
            "Rejected or skipped lines: " + ", ".join(f"{k} {v}" for k, v in rejects.items())
        )
    elif expectancy.doc is not None:
        st.caption("Rejected or skipped lines: none")

    table = h.symbol_table(scores.doc, expectancy.doc)
    if table:
        st.subheader(f"Symbol ranking (window {scores.doc.get('window') if scores.doc else '—'})")
        df = pd.DataFrame(table)
        shown = [
            "rank",
            "symbol",
            "score",
            "expectancy",
            "hit_rate",
            "slippage_bps",
            "router_quality",
            "trades",
            "confidence",
        ]
        st.table(df[shown].style.format(precision=3, na_rep="—").hide(axis="index"))
        n = st.slider("Top N for the component chart", 1, min(20, len(table)), min(5, len(table)))
        top = pd.DataFrame(table[:n]).set_index("symbol")
        comp = top[[f"c_{k}" for k in h.COMPONENTS]].rename(columns=lambda c: c[2:])
        st.subheader(f"Score components, top {n}")
        st.bar_chart(comp, stack=False, sort=False)  # symbols in rank order
    wins = h.windows(expectancy.doc)
    if wins:
        default = scores.doc.get("window") if scores.doc else None
        window = st.selectbox("Window", wins, index=wins.index(default) if default in wins else 0)
        for dim, title in (
            ("strategies", "Expectancy by strategy"),
            ("policies", "Expectancy by router policy"),
        ):
            st.subheader(title)
            rows = h.group_table(expectancy.doc, window, dim)
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True)
            else:
                st.write("No events in this window.")


def main() -> None:
    st.set_page_config(page_title="Execution Intelligence v6", layout="wide")
    directory = state_dir()
    wanted = str(st.query_params.get("page", "overview")).capitalize()
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(wanted) if wanted in PAGES else 0)
    st.sidebar.caption(f"State: {directory}")
    (intelligence if page == "Intelligence" else overview)(directory)


main()
