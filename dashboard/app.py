"""The desk's dashboard: Overview (NAV, positions, router health) and Intelligence
(symbol ranking, score components, expectancy by strategy and policy).

Reads the state documents only (through :mod:`dashboard.live_helpers`); a missing or
broken document shows its reason instead of its data, and a field that cannot be used
is shown as — with a notice naming it. A long ranking is paged. Run::

    streamlit run dashboard/app.py --server.address 127.0.0.1 -- --state-dir logs/state

``--state-dir`` (or the ``EI_STATE_DIR`` environment variable) picks the state
directory; ``?page=intelligence`` in the address opens the Intelligence page.
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

from dashboard import live_helpers as h

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


def state_dir() -> Path:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--state-dir")
    args, _ = parser.parse_known_args(sys.argv[1:])
    return Path(args.state_dir or os.environ.get("EI_STATE_DIR", "logs/state"))


def show_notices(notes: h.Notices) -> None:
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
    notes = h.Notices()

    def nav() -> None:
        loaded = h.load_nav(directory)
        if loaded.doc is None:
            st.info(f"NAV not available: {loaded.reason}")
            return
        f = h.nav_figures(loaded.doc, notes)
        cols = st.columns(4)
        cols[0].metric("NAV (USD)", h.fmt_num(f.nav_usd, ",.2f"))
        cols[1].metric("Realised PnL (USD)", h.fmt_num(f.realized_pnl_usd, "+,.2f"))
        cols[2].metric("Gross exposure (USD)", h.fmt_num(f.gross_exposure_usd, ",.0f"))
        cols[3].metric("Open positions", h.fmt_int(f.open_positions))
        st.caption(f"as of {h.fmt_ts(f.ts)}")

    def positions() -> None:
        st.subheader("Positions")
        loaded = h.load_positions(directory)
        if loaded.doc is None:
            st.info(f"Positions not available: {loaded.reason}")
            return
        rows = h.records(loaded.doc["positions"], h.POSITIONS, "positions", notes)
        if rows:
            st.dataframe(pd.DataFrame(rows), hide_index=True)
        else:
            st.write("No open positions.")

    def router_health() -> None:
        st.subheader("Router health")
        loaded = h.load_router_health(directory)
        if loaded.doc is None:
            st.info(f"Router health not available: {loaded.reason}")
            return
        rows = h.router_health_rows(loaded.doc, notes)
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
        cells = h.int_cells(cols[c])
        text = any(isinstance(v, str) for v in cells)
        cols[c] = pd.array(cells, dtype=object if text else "Int64")
    return pd.DataFrame(cols, columns=SHOWN)


def ranking(table: list[dict[str, Any]], window: str | None) -> None:
    st.subheader(f"Symbol ranking (window {window or '—'})")
    first, end, pages = h.page_bounds(len(table), 1)
    if pages > 1:
        page = st.number_input(
            "Ranking page", min_value=1, max_value=pages, value=1, step=1, key="ranking_page"
        )
        first, end, pages = h.page_bounds(len(table), int(page))
        st.caption(
            f"Ranks {first + 1:,}–{end:,} of {len(table):,} symbols "
            f"({h.PAGE_ROWS} a page, page {first // h.PAGE_ROWS + 1} of {pages:,})."
        )
    df = ranking_frame(table[first:end])
    floats = [c for c in SHOWN if c not in ("rank", "symbol", "trades")]
    st.table(
        df.style.format(h.fmt_num, subset=floats, na_rep="—")
        .format(na_rep="—", subset=["rank", "trades"])
        .hide(axis="index")
    )


def components(table: list[dict[str, Any]]) -> None:
    most = min(20, len(table))
    # a slider needs two ends: with one symbol there is nothing to choose
    n = st.slider("Top N for the component chart", 1, most, min(5, most)) if most > 1 else most
    top = pd.DataFrame(table[:n])
    comp = top[[f"c_{k}" for k in h.COMPONENTS]].rename(columns=lambda c: c[2:])
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
    notes = h.Notices()
    scores, expectancy = h.load_scores(directory), h.load_expectancy(directory)
    for loaded in (scores, expectancy):
        if loaded.doc is None:
            st.warning(f"Not available: {loaded.reason}")

    def ages() -> None:
        for label, name, loaded in (
            ("Scores", h.SCORES, scores),
            ("Expectancy", h.EXPECTANCY, expectancy),
        ):
            if loaded.doc is None:
                continue
            age = h.data_age(loaded.doc, notes=notes, where=name)
            age_txt = "unknown" if age.age_s is None else f"{h.fmt_num(age.age_s, ',.0f')} s ago"
            st.caption(
                f"{label}: generated {h.fmt_ts(age.generated_at)} ({age_txt}); "
                f"data as of {h.fmt_ts(age.as_of)}"
            )
            if age.generated_at is None:
                st.warning(f"{label} document is stale (it has no usable generation time).")
            elif age.stale:
                st.warning(f"{label} document is stale (older than {h.STALE_AFTER_S:.0f} s).")

    def rejects() -> None:
        counts = h.reject_counts(expectancy.doc, notes)
        if counts:
            st.caption(
                "Rejected or skipped lines: " + ", ".join(f"{k} {v}" for k, v in counts.items())
            )
        elif expectancy.doc is not None:
            st.caption("Rejected or skipped lines: none")

    def symbols() -> None:
        table = h.symbol_table(scores.doc, expectancy.doc, notes)
        if scores.doc is None:
            return
        if not table:
            st.info("The scores document lists no symbols.")
            return
        ranking(table, h.scores_window(scores.doc))
        components(table)

    def groups() -> None:
        wins = h.windows(expectancy.doc)
        if not wins:
            return
        default = h.scores_window(scores.doc)
        window = st.selectbox("Window", wins, index=wins.index(default) if default in wins else 0)
        for dim, title in (
            ("strategies", "Expectancy by strategy"),
            ("policies", "Expectancy by router policy"),
        ):
            st.subheader(title)
            rows = h.group_table(expectancy.doc, window, dim, notes)
            if rows:
                st.dataframe(pd.DataFrame(rows), hide_index=True)
            else:
                st.write("No events in this window.")

    guarded("Document times", ages)
    guarded("Rejected lines", rejects)
    guarded("Symbol ranking", symbols)
    guarded("Expectancy tables", groups)
    show_notices(notes)


def main() -> None:
    st.set_page_config(page_title="Execution Intelligence v6", layout="wide")
    directory = state_dir()
    wanted = str(st.query_params.get("page", "overview")).capitalize()
    page = st.sidebar.radio("Page", PAGES, index=PAGES.index(wanted) if wanted in PAGES else 0)
    st.sidebar.caption(f"State: {directory}")
    (intelligence if page == "Intelligence" else overview)(directory)


main()
