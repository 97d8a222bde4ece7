"""The tables and cells the dashboard shows, built from the state documents.

The ranked symbol table (the score's window joined with the expectancy figures of
the same window), one table per grouping of an expectancy window, the router
health and other free-form rows with every cell a scalar, and the formatting of
times, figures and counts for display, with the paging of a long ranking. A
field that cannot be used is ``None`` (shown as —) and counted in the
:class:`~dashboard.documents.Notices` passed in, never fatal. The documents are
read by :mod:`dashboard.documents`.

>>> symbol_table(None, None)
[]
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from dashboard.documents import (
    EXPECTANCY,
    ROUTER_HEALTH,
    SCORES,
    TS_MAX,
    TS_MIN,
    Notices,
    Reader,
    _dict,
    _num,
    describe,
)

COMPONENTS = ("expectancy", "hit_rate", "slippage", "router_quality", "liquidity", "volatility")
DIMENSIONS = ("symbols", "strategies", "policies", "regimes", "executors")
WINDOW_NAME = re.compile(r"all|[1-9][0-9]*t|[1-9][0-9]*(\.[0-9]+)?[smhd]")
PAGE_ROWS = 200  # ranking rows per page (a styled table has a cell limit)
INT64_MAX = 2**63 - 1


def fmt_ts(ts: float | None) -> str:
    """Unix seconds as a UTC time; "—" when missing or outside the calendar.

    >>> fmt_ts(0.0), fmt_ts(None), fmt_ts(1e300)
    ('1970-01-01 00:00:00 UTC', '—', '—')
    """
    if ts is None or not TS_MIN <= ts <= TS_MAX:
        return "—"
    try:
        t = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=ts)
    except OverflowError:
        return "—"
    return f"{t.year:04d}-{t:%m-%d %H:%M:%S} UTC"


def fmt_num(x: float | None, spec: str = ",.3f") -> str:
    """A figure for display: fixed point, or scientific when very large.

    >>> fmt_num(1234.5), fmt_num(1e308), fmt_num(None)
    ('1,234.500', '1.000e+308', '—')
    """
    if x is None or not math.isfinite(x):
        return "—"
    return format(x, spec) if abs(x) < 1e15 else f"{x:.3e}"


def fmt_int(x: int | None) -> str:
    """A count for display; "—" when missing, scientific beyond 20 digits (without
    going through a float, which such an integer may overflow).

    >>> fmt_int(1234), fmt_int(None), fmt_int(-(10**400))
    ('1,234', '—', '-1.000e+400')
    """
    if x is None:
        return "—"
    digits = str(abs(x))
    if len(digits) <= 20:
        return f"{x:,}"
    return f"{'-' if x < 0 else ''}{digits[0]}.{digits[1:4]}e+{len(digits) - 1}"


def int_cells(values: list[int | None]) -> list[int | str | None]:
    """Integers for a table column; a value beyond 64 bits is shown as its digits,
    so the column becomes text instead of failing to convert."""
    if all(v is None or -INT64_MAX <= v <= INT64_MAX for v in values):
        return list(values)
    return [None if v is None else fmt_int(v) for v in values]


def symbol_table(
    scores: dict[str, Any] | None,
    expectancy: dict[str, Any] | None,
    notes: Notices | None = None,
) -> list[dict[str, Any]]:
    """The ranked per-symbol table: symbol, score, expectancy (avg R), hit rate,
    slippage, router quality, trades, confidence, then the six components.
    Expectancy figures come from the score's own window; an entry without a symbol
    is skipped and a field that cannot be used is ``None``, never fatal."""
    if not scores:
        return []
    sc = Reader(SCORES, notes)
    ex = Reader(EXPECTANCY, sc.notes)
    window = scores_window(scores, sc.notes)
    by_window = _dict(_dict(_dict(expectancy).get("windows")).get(window)) if window else {}
    groups = _dict(by_window.get("symbols"))
    rows = []
    entries = scores.get("symbols")
    for e in entries if isinstance(entries, list) else []:
        if not isinstance(e, dict):
            sc.note("symbols[]", f"not an object: {describe(e)}; skipped")
            continue
        sym = e.get("symbol")
        if not isinstance(sym, str) or not sym:
            sc.note("symbols[].symbol", f"{'missing' if sym is None else describe(sym)}; skipped")
            continue
        raw_c = e.get("components")
        if "components" in e and not isinstance(raw_c, dict):
            sc.note("symbols[].components", f"not an object: {describe(raw_c)}")
            raw_c = {}
        c = {k: sc.number(raw_c, k, f"symbols[].components.{k}") for k in COMPONENTS}
        i = _dict(e.get("inputs"))
        g = groups.get(sym)

        def figure(name: str, g: Any = g, i: dict[str, Any] = i) -> float | None:
            if isinstance(g, dict):  # the window's own figure; the entry's inputs otherwise
                return ex.number(g, name, f"windows.*.symbols.*.{name}", nullable=True)
            return _num(i.get(name))

        rows.append(
            {
                "rank": sc.integer(e, "rank", "symbols[].rank"),
                "symbol": sym,
                "score": sc.number(e, "score", "symbols[].score"),
                "expectancy": figure("avg_r"),
                "hit_rate": figure("hit_rate"),
                "slippage_bps": figure("avg_slippage_bps"),
                "router_quality": c["router_quality"],
                "trades": sc.integer(e, "trades", "symbols[].trades"),
                "confidence": sc.number(e, "confidence", "symbols[].confidence"),
                **{f"c_{k}": v for k, v in c.items()},
            }
        )
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["symbol"]))
    return rows


def scores_window(scores: dict[str, Any] | None, notes: Notices | None = None) -> str | None:
    """The window the scores were computed on, or ``None`` when unusable."""
    if scores is None:
        return None
    w = scores.get("window")
    if not isinstance(w, str) or WINDOW_NAME.fullmatch(w) is None:
        problem = "missing" if "window" not in scores else f"not a window name: {describe(w)}"
        Reader(SCORES, notes).note("window", problem)
        return None
    return w


def top_n(scores: dict[str, Any] | None, n: int) -> list[str]:
    """The best ``n`` symbols by rank."""
    rows = symbol_table(scores, None)
    return [r["symbol"] for r in rows[: max(n, 0)]]


def windows(expectancy: dict[str, Any] | None) -> list[str]:
    return [w for w in _dict(_dict(expectancy).get("windows")) if isinstance(w, str)]


def page_bounds(rows: int, page: int, size: int = PAGE_ROWS) -> tuple[int, int, int]:
    """(first row, end row, number of pages) of a 1-based page, clamped.

    >>> page_bounds(450, 3), page_bounds(0, 1), page_bounds(10, 99)
    ((400, 450, 3), (0, 0, 1), (0, 10, 1))
    """
    pages = max(1, -(-rows // size))
    page = min(max(page, 1), pages)
    return (page - 1) * size, min(page * size, rows), pages


GROUP_KEY = {
    "symbols": "symbol",
    "strategies": "strategy",
    "policies": "policy",
    "regimes": "regime",
    "executors": "executor",
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
GROUP_INTS = ("trades", "fills")


def group_table(
    expectancy: dict[str, Any] | None, window: str, dim: str, notes: Notices | None = None
) -> list[dict[str, Any]]:
    """One row per group (e.g. per strategy) of one window."""
    ex = Reader(EXPECTANCY, notes)
    win = _dict(_dict(expectancy).get("windows")).get(window)
    if expectancy is not None and window in _dict(expectancy.get("windows")):
        if not isinstance(win, dict):
            ex.note("windows.*", f"not an object: {describe(win)}")
        elif dim in win and not isinstance(win[dim], dict):
            ex.note(f"windows.*.{dim}", f"not an object: {describe(win[dim])}")
    rows = []
    for key, g in sorted(_dict(_dict(win).get(dim)).items()):
        path = f"windows.*.{dim}.*"
        if not isinstance(g, dict):
            ex.note(path, f"not an object: {describe(g)}")
        row: dict[str, Any] = {GROUP_KEY.get(dim, dim): key}
        for c in GROUP_COLUMNS:
            if c in GROUP_INTS:
                row[c] = ex.integer(g, c, f"{path}.{c}")
            else:
                row[c] = ex.number(g, c, f"{path}.{c}", nullable=True)
        rows.append(row)
    for c in GROUP_INTS:
        for r, v in zip(rows, int_cells([r[c] for r in rows]), strict=True):
            r[c] = v
    return rows


Cell = str | int | float | bool | None


def records(
    rows: Any, where: str, path: str, notes: Notices | None = None
) -> list[dict[str, Cell]]:
    """Rows of a free-form table (positions, router health) with every cell a
    scalar; containers and non-finite numbers become ``None`` with a notice, and a
    column whose values are of several kinds is shown as text."""
    r = Reader(where, notes)
    if not isinstance(rows, list):
        r.note(path, f"not a list: {describe(rows)}")
        return []
    out: list[dict[str, Cell]] = []
    for row in rows:
        if not isinstance(row, dict):
            r.note(f"{path}[]", f"not an object: {describe(row)}; skipped")
            continue
        clean: dict[str, Cell] = {}
        for k, v in row.items():
            if v is None or isinstance(v, str | bool):
                clean[k] = v
            elif isinstance(v, int):
                clean[k] = v if -INT64_MAX <= v <= INT64_MAX else fmt_int(v)
            elif isinstance(v, float) and math.isfinite(v):
                clean[k] = v
            else:
                r.note(f"{path}[].{k}" if path != "symbols" else f"symbols.*.{k}", describe(v))
                clean[k] = None
        out.append(clean)
    columns = {k for row in out for k in row}
    for k in columns:
        kinds = {
            "bool" if isinstance(v, bool) else "num" if isinstance(v, int | float) else "str"
            for row in out
            if (v := row.get(k)) is not None
        }
        if len(kinds) > 1:
            for row in out:
                if row.get(k) is not None:
                    row[k] = str(row[k])
    return out


def router_health_rows(
    doc: dict[str, Any] | None, notes: Notices | None = None
) -> list[dict[str, Cell]]:
    """One row per symbol of the router health document."""
    if doc is None:
        return []
    symbols = doc.get("symbols")
    if not isinstance(symbols, dict):
        Reader(ROUTER_HEALTH, notes).note("symbols", f"not an object: {describe(symbols)}")
        return []
    rows: list[Any] = [
        {"symbol": s} | v if isinstance(v, dict) else v for s, v in sorted(symbols.items())
    ]
    return records(rows, ROUTER_HEALTH, "symbols", notes)
