"""The desk's dashboard: Overview (NAV, positions, router health) and Intelligence
(fund view, symbol ranking, score components, expectancy by strategy, router policy
and regime, and a per-symbol drill-down over the snapshot history).

Reads the state documents only (through :mod:`dashboard.documents`,
:mod:`dashboard.tables` and :mod:`dashboard.live_helpers`); a missing or broken
document shows its reason instead of its data, and a field that cannot be used is
shown as — with a notice naming it. A long ranking is paged. Run::

    streamlit run dashboard/app.py --server.address 127.0.0.1 -- --state-dir logs/state

``--state-dir`` (or the ``EI_STATE_DIR`` environment variable) picks the state
directory, ``--stale-after S`` (or ``EI_STALE_AFTER_S``) the age at which a live
document is stale; ``?page=intelligence`` in the address opens the Intelligence page.
``python -m dashboard`` starts it bound to 127.0.0.1 from any folder.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dashboard import documents as hd
from dashboard import history_page
from dashboard import history_view as hv
from dashboard import live_helpers as h
from dashboard import tables as ht

PAGES = ("Overview", "Intelligence")
MAX_NOTICES = 100  # lines, one per field
SHOWN = [
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


# ranking column -> (heading with its unit, format, scale)
RANKING_COLUMNS = {
    "rank": ("Rank", "%d", 1),
    "symbol": ("Symbol", None, 1),
    "score": ("Score (−1 … 1)", "%+.3f", 1),
    "expectancy": ("Avg R (R)", "%+.3f", 1),
    "hit_rate": ("Hit rate (%)", "%.1f", 100),
    "slippage_bps": ("Slippage (bps)", "%.2f", 1),
    "router_quality": ("Router quality (−1 … 1)", "%+.2f", 1),
    "trades": ("Trades", "%d", 1),
    "confidence": ("Confidence (%)", "%.0f", 100),
}


# group table column -> (heading with its unit, format); rates are fractions
GROUP_LABELS = {
    "trades": ("Trades", "%d"),
    "hit_rate": ("Hit rate", "percent"),
    "avg_r": ("Avg R (R)", "%+.3f"),
    "expectancy_per_risk": ("Expectancy / risk (R)", "%+.3f"),
    "dd_expectancy": ("DD-aware expectancy (R)", "%+.3f"),
    "max_drawdown_r": ("Max drawdown (R)", "%.2f"),
    "pnl_usd": ("PnL (USD)", "%.2f"),
    "profit_factor": ("Profit factor", "%.2f"),
    "fills": ("Fills", "%d"),
    "maker_fill_rate": ("Maker fill rate", "percent"),
    "fallback_rate": ("Fallback rate", "percent"),
    "avg_slippage_bps": ("Slippage (bps)", "%.2f"),
}


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--state-dir")
    parser.add_argument("--stale-after", type=float)
    args, _ = parser.parse_known_args(sys.argv[1:])
    return args


def state_dir() -> Path:
    return Path(_options().state_dir or os.environ.get("EI_STATE_DIR", "logs/state"))


def stale_after() -> float:
    """Seconds after which a live document is stale (--stale-after, EI_STALE_AFTER_S)."""
    given = _options().stale_after
    if given is None:
        try:
            given = float(os.environ.get("EI_STALE_AFTER_S", h.STALE_AFTER_S))
        except ValueError:
            given = h.STALE_AFTER_S
    return given if given > 0 else h.STALE_AFTER_S


def show_notices(notes: hd.Notices) -> None:
    """List the fields that could not be used; they appear as — on the page."""
    if notes:
        lines = notes.lines()
        more = len(lines) - MAX_NOTICES
        body = "\n".join(f"- {line}" for line in lines[:MAX_NOTICES])
        if more > 0:
            body += f"\n- … and {more:,} more"
        st.info(f"Some fields could not be used and are shown as —:\n{body}")


def guarded(section: str, draw: Callable[[], None]) -> None:
    """Draw one part of a page; an unforeseen failure shows its reason in place of
    that part instead of taking the page down."""
    try:
        draw()
    except Exception as exc:
        st.error(f"{section} could not be shown: {type(exc).__name__}: {exc}"[:500])


def overview(directory: Path) -> None:
    st.header("Overview")
    notes = hd.Notices()

    def nav() -> None:
        loaded = hd.load_nav(directory)
        if loaded.doc is None:
            st.info(f"NAV not available: {loaded.reason}")
            return
        f = h.nav_figures(loaded.doc, notes)
        cols = st.columns(4)
        cols[0].metric("NAV (USD)", ht.fmt_num(f.nav_usd, ",.2f"))
        cols[1].metric("Realised PnL (USD)", ht.fmt_num(f.realized_pnl_usd, "+,.2f"))
        cols[2].metric("Gross exposure (USD)", ht.fmt_num(f.gross_exposure_usd, ",.0f"))
        cols[3].metric("Open positions", ht.fmt_int(f.open_positions))
        st.caption(f"as of {ht.fmt_ts(f.ts)}")

    def positions() -> None:
        st.subheader("Positions")
        loaded = hd.load_positions(directory)
        if loaded.doc is None:
            st.info(f"Positions not available: {loaded.reason}")
            return
        rows = ht.records(loaded.doc["positions"], hd.POSITIONS, "positions", notes)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True)
        else:
            st.write("No open positions.")

    def router_health() -> None:
        st.subheader("Router health")
        loaded = hd.load_router_health(directory)
        if loaded.doc is None:
            st.info(f"Router health not available: {loaded.reason}")
            return
        rows = ht.router_health_rows(loaded.doc, notes)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True)
        else:
            st.write("No symbols.")

    guarded("NAV", nav)
    guarded("Positions", positions)
    guarded("Router health", router_health)
    show_notices(notes)


def ranking_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The ranking rows as shown: integer columns stay integers (text beyond 64 bits)."""
    cols: dict[str, Any] = {c: [r[c] for r in rows] for c in SHOWN}
    for c in ("rank", "trades"):
        cells = ht.int_cells(cols[c])
        text = any(isinstance(v, str) for v in cells)
        cols[c] = pd.array(cells, dtype=object if text else "Int64")
    return pd.DataFrame(cols, columns=SHOWN)


def ranking(table: list[dict[str, Any]], window: str | None) -> None:
    st.subheader(f"Symbol ranking (window {window or '—'})")
    first, end, pages = ht.page_bounds(len(table), 1)
    if pages > 1:
        page = st.number_input(
            "Ranking page", min_value=1, max_value=pages, value=1, step=1, key="ranking_page"
        )
        first, end, pages = ht.page_bounds(len(table), int(page))
        st.caption(
            f"Ranks {first + 1:,}–{end:,} of {len(table):,} symbols "
            f"({ht.PAGE_ROWS} a page, page {first // ht.PAGE_ROWS + 1} of {pages:,})."
        )
    df = ranking_frame(table[first:end])
    for c, (_, _, scale) in RANKING_COLUMNS.items():
        if scale != 1:
            df[c] = df[c].astype(float) * scale
    config = {
        c: (st.column_config.TextColumn(label) if fmt is None
            else st.column_config.NumberColumn(label, format=fmt))
        for c, (label, fmt, _) in RANKING_COLUMNS.items()
    }  # fmt: skip
    st.dataframe(df, hide_index=True, width="stretch", column_config=config)
    st.caption("Click a heading to sort. Empty cells: figure not defined (see notices).")


def components(table: list[dict[str, Any]]) -> None:
    most = min(20, len(table))
    # a slider needs two ends: with one symbol there is nothing to choose
    n = st.slider("Top N for the component chart", 1, most, min(5, most)) if most > 1 else most
    top = pd.DataFrame(table[:n])
    comp = top[[f"c_{k}" for k in ht.COMPONENTS]].rename(columns=lambda c: c[2:])
    comp.index = pd.Index(
        [
            f"{r}. {s}" if r is not None else s
            for r, s in zip(top["rank"], top["symbol"], strict=True)
        ]
        if top["symbol"].duplicated().any()
        else top["symbol"],
        name="symbol",
    )
    st.subheader(f"Score components, top {n}")
    if comp.notna().any().any():
        st.bar_chart(comp.astype(float), stack=False, sort=False)  # symbols in rank order
    else:
        st.write("No usable score components.")


def intelligence(directory: Path) -> None:
    st.header("Intelligence")
    notes = hd.Notices()
    scores, expectancy = hd.load_scores(directory), hd.load_expectancy(directory)
    for loaded in (scores, expectancy):
        if loaded.doc is None:
            st.warning(f"Not available: {loaded.reason}")

    def ages() -> None:
        limit = stale_after()
        for label, name, loaded in (
            ("Scores", hd.SCORES, scores),
            ("Expectancy", hd.EXPECTANCY, expectancy),
        ):
            if loaded.doc is None:
                continue
            age = h.data_age(loaded.doc, stale_after=limit, notes=notes, where=name)
            age_txt = "unknown" if age.age_s is None else f"{ht.fmt_num(age.age_s, ',.0f')} s ago"
            source = loaded.doc.get("source")
            complete = isinstance(source, dict) and source.get("complete") is True
            how = (
                "a complete replay of the log (not live)"
                if complete
                else f"live ({source.get('mode')})"
                if isinstance(source, dict)
                else "live"
            )
            st.caption(
                f"{label}: {how}; generated {ht.fmt_ts(age.generated_at)} ({age_txt}); "
                f"data as of {ht.fmt_ts(age.as_of)}"
            )
            if age.generated_at is None:
                st.warning(f"{label} document is stale (it has no usable generation time).")
            elif age.stale and not complete:
                st.warning(f"{label} document is stale (older than {limit:.0f} s).")

    def rejects() -> None:
        counts = h.reject_counts(expectancy.doc, notes)
        if counts:
            st.caption(
                "Rejected or skipped lines: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            )
        elif expectancy.doc is not None:
            st.caption("Rejected or skipped lines: none")

    def symbols() -> None:
        table = ht.symbol_table(scores.doc, expectancy.doc, notes)
        if scores.doc is None:
            return
        if not table:
            st.info("The scores document lists no symbols.")
            return
        ranking(table, ht.scores_window(scores.doc))
        components(table)

    def groups() -> None:
        wins = ht.windows(expectancy.doc)
        if not wins:
            return
        default = ht.scores_window(scores.doc)
        window = st.selectbox(
            "Window",
            wins,
            index=wins.index(default) if default in wins else 0,
            key="group_window",
        )
        for dim, title in (
            ("strategies", "Expectancy by strategy"),
            ("policies", "Expectancy by router policy"),
            ("regimes", "Expectancy by regime"),
            ("executors", "Expectancy by executor"),
        ):
            st.subheader(title)
            rows = ht.group_table(expectancy.doc, window, dim, notes)
            if not rows:
                st.write("No events in this window.")
                continue
            df = pd.DataFrame(rows)
            key = df.columns[0]
            names = sorted(str(v) for v in df[key])
            if len(names) > 1:
                keep = st.multiselect(f"Filter: {key}", names, default=names, key=f"f_{dim}")
                df = df[df[key].astype(str).isin(keep)]
            config = {
                c: st.column_config.NumberColumn(label, format=fmt)
                for c, (label, fmt) in GROUP_LABELS.items()
                if c in df
            }
            st.dataframe(df, hide_index=True, width="stretch", column_config=config)

    history = hv.open_history(directory)

    def drill() -> None:
        ranked = [e["symbol"] for e in ht.symbol_table(scores.doc, expectancy.doc)]
        window = ht.scores_window(scores.doc)
        history_page.drill_down(history, scores.doc, ranked, window)

    guarded("Document times", ages)
    guarded("Rejected lines", rejects)
    guarded("Fund view", lambda: history_page.fund_view(directory, history))
    guarded("Symbol ranking", symbols)
    guarded("Symbol drill-down", drill)
    guarded("Expectancy tables", groups)
    show_notices(notes)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def main() -> None:
    st.set_page_config(page_title="Execution Intelligence v6", layout="wide")
    address = st.get_option("server.address")
    if address not in LOOPBACK and os.environ.get("EI_DASHBOARD_PUBLIC") != "1":
        st.error(
            f"This dashboard is served on {address or 'every interface'}, not only on "
            "127.0.0.1: start it with `python -m dashboard` (or `--server.address "
            "127.0.0.1`); EI_DASHBOARD_PUBLIC=1 allows another address on purpose."
        )
        st.stop()
    directory = state_dir()
    wanted = str(st.query_params.get("page", "overview")).capitalize()
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(wanted) if wanted in PAGES else 0)
    st.sidebar.caption(f"State: {directory}")
    (intelligence if page == "Intelligence" else overview)(directory)


main()
