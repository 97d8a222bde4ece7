"""What the command line prints: the ranking table, the inputs line, replay progress.

Presentation only, over the published documents: :func:`format_table` is the
ranking as a fixed-width table, best first; :func:`_inputs_line` what a log gave
(events, rejects by reason, skipped lines, gaps); :func:`_report_replay` what a
replay read and wrote; :class:`Progress` a replay's progress on stderr (a line
rewritten on a terminal, a line every few seconds elsewhere). The commands that
print them are in :mod:`execution.intel.cli_commands`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE

COLUMNS = {  # score component -> table heading
    "expectancy": "exp",
    "hit_rate": "hit",
    "slippage": "slip",
    "router_quality": "rout",
    "reject_rate": "rej",
    "liquidity": "liq",
    "volatility": "vol",
}


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def format_table(scores: Mapping[str, Any], top: int | None = None) -> str:
    """The ranking as a fixed-width table, best first."""
    entries = list(scores.get("symbols", []))[: top if top else None]
    head = (
        f"{'rank':>4}  {'symbol':<12}{'score':>7}{'conf':>6}{'trades':>7}{'avg R':>8}"
        f"{'hit':>6}{'slip bp':>8}  " + "".join(f"{name:>6}" for name in COLUMNS.values())
    )
    rows = [
        f"window {scores.get('window')}, {len(scores.get('symbols', []))} symbols, "
        f"as of {_fmt_ts(scores.get('as_of'))}",
        head,
    ]
    for e in entries:
        c, i = e["components"], e["inputs"]
        rows.append(
            f"{e['rank']:>4}  {e['symbol']:<12}{e['score']:>+7.3f}{e['confidence']:>6.2f}"
            f"{e['trades']:>7}{_fmt(i.get('avg_r'), '+8.3f'):>8}"
            f"{_fmt(i.get('hit_rate'), '6.2f'):>6}"
            f"{_fmt(i.get('avg_slippage_bps'), '8.2f'):>8}  "
            + "".join(f"{c.get(k, 0.0):>+6.2f}" for k in COLUMNS)
            + (f"  missing: {', '.join(e['missing'])}" if e.get("missing") else "")
        )
    if not entries:
        rows.append("  (no symbols with events in this window)")
    return "\n".join(rows)


def _fmt_ts(ts: Any) -> str:
    """A timestamp as UTC text; one outside the calendar's range is shown as a number."""
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        return "—"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
    except (OverflowError, OSError, ValueError):
        return f"ts {ts:g} (outside the calendar)"


def _inputs_line(expectancy: Mapping[str, Any]) -> str:
    i = expectancy.get("inputs", {})
    reasons = ", ".join(f"{k} {v}" for k, v in i.get("reject_reasons", {}).items())
    return (
        f"{i.get('events', 0):,} events ({i.get('orders', 0):,} orders, "
        f"{i.get('trades', 0):,} trades); {i.get('rejected', 0):,} rejected"
        + (f" ({reasons})" if reasons else "")
        + f"; {i.get('skipped', 0):,} skipped; {i.get('gaps', 0)} gaps"
    )


class Progress:
    """Replay progress on stderr: on a terminal a line rewritten every ``every``
    seconds, elsewhere (a log, ``make``) a line every ``line_every`` seconds."""

    def __init__(
        self, stream: TextIO, every: float = 0.5, line_every: float = 10.0, total_bytes: int = 0
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every = every if self.tty else line_every
        self.total_bytes = total_bytes
        self.started = time.perf_counter()
        self.last = self.started

    def __call__(self, lines: int) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every:
            self.last = now
            elapsed = now - self.started
            rate = lines / max(elapsed, 1e-9)
            size = f" of a {self.total_bytes / 1e6:,.1f} MB log" if self.total_bytes else ""
            text = f"replay: {lines:,} lines{size} in {elapsed:,.0f} s ({rate:,.0f} lines/s)"
            self.stream.write(f"\r{text}" if self.tty else f"{text}\n")
            self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last != self.started:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _report_replay(
    what: str,
    *,
    lines: int,
    seconds: float,
    expectancy: dict[str, Any],
    scores: dict[str, Any],
    args: argparse.Namespace,
) -> None:
    """What a replay read, the top of its ranking and the documents it wrote."""
    rate = lines / max(seconds, 1e-9)
    print(
        f"replayed {what}, {lines:,} lines in {seconds:.2f}s ({rate:,.0f} lines/s): "
        f"{_inputs_line(expectancy)}"
    )
    report_documents(scores, args)


def report_documents(scores: dict[str, Any], args: argparse.Namespace) -> None:
    """The top of the ranking and the two documents written (replay and merge)."""
    print(format_table(scores, args.top))
    state = Path(args.state_dir)
    print(f"wrote {state / EXPECTANCY_FILE} and {state / SCORES_FILE}")
