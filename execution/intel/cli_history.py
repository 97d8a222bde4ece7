"""``show --history SYMBOL [--window W] [--json]``: one symbol's snapshot history
(docs/history.md) as a sparkline per figure, or as JSON lines (one record per
line, oldest first; schema ``execution/schemas/history_v6.schema.json``).

``SYMBOL`` ``FUND`` (not a symbol of the history) shows the fund's totals.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from execution.intel.history_store import (
    HistoryError,
    check_cadence,
    known,
    read_fund,
    read_symbol,
)

FUND: Final = "FUND"
SPARKS: Final = "▁▂▃▄▅▆▇█"
WIDTH: Final = 48  # points of a sparkline, spread over the whole span

# figure -> (label, unit, format)
SYMBOL_FIGURES: Final = {
    "score": ("score", "", "+.3f"),
    "rank": ("rank", "", ".0f"),
    "sum_r": ("cumulative R", "R", "+.2f"),
    "avg_r": ("avg R", "R", "+.3f"),
    "hit_rate": ("hit rate", "%", ".1f"),
    "trades": ("trades", "", ".0f"),
    "max_drawdown_r": ("max drawdown", "R", ".2f"),
    "avg_slippage_bps": ("slippage", "bps", ".2f"),
    "pnl_usd": ("PnL", "USD", ",.0f"),
}
FUND_FIGURES: Final = {
    "sum_r": ("cumulative R", "R", "+.2f"),
    "avg_r": ("avg R", "R", "+.3f"),
    "hit_rate": ("hit rate", "%", ".1f"),
    "trades": ("trades", "", ".0f"),
    "pnl_usd": ("PnL", "USD", ",.0f"),
    "avg_slippage_bps": ("slippage", "bps", ".2f"),
    "symbols": ("symbols", "", ".0f"),
}


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value scaled between the least and the greatest; a gap
    (null) is a space.

    >>> sparkline([0, 1, 2, None, 7])
    '▁▂▃ █'
    >>> sparkline([3, 3])
    '▄▄'
    """
    got = [v for v in values if v is not None]
    if not got:
        return " " * len(values)
    lo, hi = min(got), max(got)
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span <= 0 or not math.isfinite(span):
            out.append(SPARKS[len(SPARKS) // 2 - 1])
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int((v - lo) / span * len(SPARKS)))])
    return "".join(out)


def spread(values: Sequence[Any], width: int = WIDTH) -> list[Any]:
    """At most ``width`` of ``values`` evenly spread, the first and the last kept.

    >>> spread(list(range(10)), 4)
    [0, 3, 6, 9]
    """
    n = len(values)
    if n <= width:
        return list(values)
    return [values[round(i * (n - 1) / (width - 1))] for i in range(width)]


def _fmt(v: float | None, spec: str, unit: str) -> str:
    if v is None:
        return "—"
    return format(v * 100 if unit == "%" else v, spec)


def _utc(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts))


def history_text(records: Sequence[Mapping[str, Any]], name: str, fund: bool) -> str:
    """Per window: its span and, per figure, a sparkline with the first, last, least
    and greatest values."""
    figures = FUND_FIGURES if fund else SYMBOL_FIGURES
    windows = sorted({r["window"] for r in records})
    out: list[str] = []
    for w in windows:
        recs = [r for r in records if r["window"] == w]
        first, last = recs[0]["bucket"], recs[-1]["bucket"]
        out.append(
            f"{name}, window {w}: {len(recs)} snapshots, buckets {_utc(first)} … "
            f"{_utc(last)} UTC ({min(WIDTH, len(recs))} points over the span)"
        )
        out.append(f"  {'figure':<18}{'':<{WIDTH}}  {'last':>10}{'min':>10}{'max':>10}")
        for key, (label, unit, spec) in figures.items():
            full = [r.get(key) for r in recs]
            series = spread(full)
            got = [v for v in full if v is not None]
            head = f"{label} ({unit})" if unit else label
            lo = _fmt(min(got), spec, unit) if got else "—"
            hi = _fmt(max(got), spec, unit) if got else "—"
            out.append(
                f"  {head:<18}{sparkline(series):<{WIDTH}}  "
                f"{_fmt(full[-1], spec, unit):>10}{lo:>10}{hi:>10}"
            )
    return "\n".join(out)


def show_history(
    path: Path, name: str, window: str | None, as_json: bool, cadence: int | None = None
) -> str:
    """The text ``show --history`` prints; HistoryError (one line) when there is no
    history, one of another ``cadence`` or version, no such symbol or window, or a
    damaged record."""
    if cadence is not None:
        check_cadence(path, cadence)
    symbols, windows = known(path)
    if window is not None and window not in windows:
        listed = ", ".join(map(repr, windows)) or "—"
        raise HistoryError(f"no window {window!r} in the history {path} (windows: {listed})")
    fund = name == FUND and name not in symbols
    if not fund and name not in symbols:
        few = ", ".join(map(repr, symbols[:10])) + (" …" if len(symbols) > 10 else "")
        raise HistoryError(f"no symbol {name!r} in the history {path} (symbols: {few or '—'})")
    records = read_fund(path, window) if fund else read_symbol(path, name, window)
    if not records:
        raise HistoryError(f"no records of {name} under the window {window} in {path}")
    if as_json:
        return "\n".join(json.dumps(r, separators=(",", ":"), allow_nan=False) for r in records)
    return history_text(records, name, fund)
