"""The snapshot history in event time: what the engine said at every close of an
event-time bucket, so that "is this symbol getting worse, since when?" has an
answer (docs/history.md).

The rule. Time is cut into buckets of ``cadence_s`` seconds of event time,
``[k·c, (k+1)·c)``. The watermark is the largest ``ts`` applied so far. When an
event would move the watermark into a later bucket than the one it is in, bucket
``B = bucket(watermark)`` **closes**: its snapshot is the engine's state after
every event before that one in log order (late events included: they were
applied) and before it. A bucket the watermark jumps over never holds the
watermark and has no snapshot; the bucket holding the watermark at the end of the
input is open and has none either (it may still grow), so a snapshot never
changes once taken, and the history is a function of the log's bytes alone:
replay, follow (any poll sizes, any restarts) and the executor's tap cut the same
events at the same places.

IO lives in :mod:`execution.intel.history_store`; this module is pure: the cut
points, the records of a snapshot, and :class:`Snapshotter`, which feeds an engine
in slices and takes the snapshots between them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from execution.config import SCORE_COMPONENTS, ScoreConfig
from execution.intel.engine import ExpectancyEngine
from execution.intel.events import Event
from execution.intel.figures import figures
from execution.intel.symbol_score_v6 import score_symbols
from streaming.framing import Frame

SCHEMA: Final = "history_v6"
VERSION: Final = 1

# The figures of a symbol record, after bucket, window and symbol (all nullable).
SYMBOL_FIELDS: Final = (
    "as_of",
    "trades",
    "r_trades",
    "wins",
    "hit_rate",
    "avg_r",
    "sum_r",
    "robust_mean_r",
    "r_std",
    "pnl_usd",
    "max_drawdown_r",
    "dd_expectancy",
    "fills",
    "maker_fill_rate",
    "fallback_rate",
    "reject_rate",
    "avg_slippage_bps",
    "slippage_cost_usd",
    "notional_usd",
    "score",
    "rank",
    "confidence",
    *(f"c_{c}" for c in SCORE_COMPONENTS),
)
# The figures of a fund record, after bucket and window.
FUND_FIELDS: Final = (
    "as_of",
    "symbols",
    "trades",
    "r_trades",
    "wins",
    "hit_rate",
    "sum_r",
    "avg_r",
    "pnl_usd",
    "notional_usd",
    "fills",
    "avg_slippage_bps",
    "slippage_cost_usd",
)
# Figures copied from the document as they are (the rest are derived below).
_COPIED: Final = (
    "trades",
    "r_trades",
    "wins",
    "hit_rate",
    "avg_r",
    "r_std",
    "pnl_usd",
    "max_drawdown_r",
    "dd_expectancy",
    "fills",
    "maker_fill_rate",
    "fallback_rate",
    "reject_rate",
    "avg_slippage_bps",
    "slippage_cost_usd",
    "notional_usd",
)
# Where a robust mean of R is published, by the names it may have.
_ROBUST: Final = ("avg_r_robust", "robust_mean_r")

Record = dict[str, Any]


def bucket_of(ts: float, cadence: int) -> int:
    """The start of the bucket holding ``ts`` (seconds of event time).

    >>> bucket_of(7199.9, 3600), bucket_of(7200.0, 3600), bucket_of(-0.5, 3600)
    (3600, 7200, -3600)
    """
    return int(ts // cadence) * cadence


def cuts(
    stamps: Iterable[float], top: int | None, cadence: int
) -> tuple[list[tuple[int, int]], int | None]:
    """Where a run of events closes buckets, given ``top``, the bucket of the
    watermark before the run (None before any event): ``(i, B)`` for each event
    ``i`` that moves the watermark out of bucket ``B`` into a later one (bucket
    ``B`` closes before event ``i``), and the bucket of the watermark after the run.

    >>> cuts([10, 3590, 5, 3600, 3700, 9000], None, 3600)
    ([(3, 0), (5, 3600)], 7200)
    >>> cuts([3599, 3600], 0, 3600)
    ([(1, 0)], 3600)
    """
    out: list[tuple[int, int]] = []
    for i, ts in enumerate(stamps):
        b = bucket_of(ts, cadence)
        if top is None:
            top = b
        elif b > top:
            out.append((i, top))
            top = b
    return out, top


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


# What a stored figure keeps (docs/history.md): 10 significant digits, and the
# score, its components and confidence (all in [-1, 1]) 9 decimals; enough for any
# chart, and the last-bit differences of another chunking (docs/numerics.md) do not
# show (a component near 0 comes from a cancellation: its error is absolute).
DIGITS: Final = 10
DECIMALS: Final = 9
_BOUNDED: Final = frozenset({"score", "confidence", *(f"c_{c}" for c in SCORE_COMPONENTS)})


def _round(name: str, v: Any) -> Any:
    if type(v) is not float or v.is_integer():
        return v  # whole numbers, counts among them, are kept exactly
    out = round(v, DECIMALS) if name in _BOUNDED else float(f"{v:.{DIGITS}g}")
    return out + 0.0  # -0.0 is 0.0


def rounded(rec: Record) -> Record:
    """``rec`` with its fractional figures rounded as stored.

    >>> rounded({"avg_r": 0.1 + 0.2, "trades": 12345678901.0, "c_volatility": -1e-12})
    {'avg_r': 0.3, 'trades': 12345678901.0, 'c_volatility': 0.0}
    """
    return {k: _round(k, v) for k, v in rec.items()}


def rerank(records: Sequence[Record]) -> None:
    """Rank ``records`` (one window's) by their stored, rounded score, best first,
    ties by symbol: the rank then follows from what is stored alone, not from the
    last bits of a score that another chunking of the same log rounds alike.

    >>> recs = [{"symbol": "B", "score": 0.5}, {"symbol": "A", "score": 0.5},
    ...         {"symbol": "C", "score": None}]
    >>> rerank(recs); [(r["symbol"], r["rank"]) for r in recs]
    [('B', 2), ('A', 1), ('C', None)]
    """
    scored = sorted(
        (r for r in records if r.get("score") is not None),
        key=lambda r: (-r["score"], r["symbol"]),
    )
    for r in records:
        r["rank"] = None
    for i, r in enumerate(scored, 1):
        r["rank"] = i


def symbol_record(
    bucket: int, window: str, symbol: str, figures: Mapping[str, Any], score: Mapping[str, Any]
) -> Record:
    """One symbol's record under one window (see ``execution/schemas/history_v6``)."""
    rec: Record = {"bucket": bucket, "window": window, "symbol": symbol}
    for name in _COPIED:
        rec[name] = _num(figures.get(name))
    rec["robust_mean_r"] = next(
        (v for v in (_num(figures.get(n)) for n in _ROBUST) if v is not None), None
    )
    avg_r, r_trades = rec["avg_r"], rec["r_trades"]
    rec["sum_r"] = None if avg_r is None or r_trades is None else avg_r * r_trades
    rec["score"] = _num(score.get("score"))
    rec["rank"] = _num(score.get("rank"))
    rec["confidence"] = _num(score.get("confidence"))
    components = score.get("components")
    comp = components if isinstance(components, Mapping) else {}
    for c in SCORE_COMPONENTS:
        rec[f"c_{c}"] = _num(comp.get(c))
    return rec


def fund_record(bucket: int, window: str, symbols: Sequence[Record]) -> Record:
    """The fund's totals under one window from its symbols' records (sums with
    ``math.fsum`` in symbol order; a ratio of sums, null when its base is 0)."""

    def total(name: str) -> float:
        return math.fsum(r[name] for r in symbols if r[name] is not None)

    def ratio(top: float, base: float) -> float | None:
        return top / base if base > 0 else None

    trades, r_trades, fills = total("trades"), total("r_trades"), total("fills")
    sum_r, wins = total("sum_r"), total("wins")
    slip = math.fsum(
        r["avg_slippage_bps"] * r["fills"]
        for r in symbols
        if r["avg_slippage_bps"] is not None and r["fills"]
    )
    return {
        "bucket": bucket,
        "window": window,
        "symbols": float(len(symbols)),
        "trades": trades,
        "r_trades": r_trades,
        "wins": wins,
        "hit_rate": ratio(wins, trades),
        "sum_r": sum_r,
        "avg_r": ratio(sum_r, r_trades),
        "pnl_usd": total("pnl_usd"),
        "notional_usd": total("notional_usd"),
        "fills": fills,
        "avg_slippage_bps": ratio(slip, fills),
        "slippage_cost_usd": total("slippage_cost_usd"),
    }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The records of one closed bucket: per window, every symbol's and the fund's."""

    bucket: int
    as_of: float | None
    symbols: list[Record]
    fund: list[Record]


def snapshot(
    document: Mapping[str, Any], bucket: int, windows: Sequence[str], score: ScoreConfig
) -> Snapshot:
    """The snapshot of an ``expectancy_v6`` document (at least its ``as_of`` and the
    ``symbols`` of ``windows``) at the close of ``bucket``. The score of each window
    is computed on that window without ``router_health.json`` (a wall-time
    document), so that the history depends on the log only."""
    as_of = _num(document.get("as_of"))
    symbols: list[Record] = []
    fund: list[Record] = []
    for w in windows:
        groups = document["windows"][w]["symbols"]
        scores = score_symbols(document, None, window=w, config=score, generated_at=0.0)
        by_symbol = {e["symbol"]: e for e in scores["symbols"]}
        recs = [
            symbol_record(bucket, w, sym, groups[sym], by_symbol.get(sym, {}))
            for sym in sorted(groups)
        ]
        for r in recs:
            r["as_of"] = as_of
        f = fund_record(bucket, w, recs)
        f["as_of"] = as_of
        stored = [rounded(r) for r in recs]
        rerank(stored)
        symbols += stored
        fund.append(rounded(f))
    return Snapshot(bucket, as_of, symbols, fund)


def symbols_document(engine: ExpectancyEngine, windows: Sequence[str]) -> dict[str, Any]:
    """The part of the engine's document a snapshot reads: ``as_of`` and, per
    window of ``windows``, the figures of its symbols (the same figures as
    :meth:`ExpectancyEngine.document`)."""
    dd = engine.policy.dd_penalty
    return {
        "as_of": engine.inputs.watermark,
        "windows": {
            spec: {"symbols": dict(zip(names, figures(rec, dd_penalty=dd), strict=True))}
            for spec, (names, rec) in engine.window_records(windows).items()
        },
    }


class Snapshotter:
    """Feeds an engine and takes a :class:`Snapshot` at every bucket close (module
    docstring). Its one piece of state, ``top`` (the bucket of the watermark of
    every decoded event, also those the engine then rejects as too_many_groups),
    goes into the follow checkpoint beside the engine's (:meth:`to_state`)."""

    __slots__ = ("cadence", "engine", "score", "top", "windows")

    def __init__(
        self,
        engine: ExpectancyEngine,
        cadence: int,
        windows: Sequence[str],
        score: ScoreConfig,
    ) -> None:
        known = [w.spec for w in engine.windows]
        self.engine = engine
        self.cadence = cadence
        # the configured windows the engine has (``--window`` may have replaced
        # them); none of them, or none configured: every window of the engine
        self.windows = [w for w in known if w in windows] or known
        self.score = score
        wm = engine.inputs.watermark
        self.top = None if wm is None else bucket_of(wm, cadence)

    def to_state(self) -> dict[str, Any]:
        return {"cadence_s": self.cadence, "top": self.top}

    def restore(self, state: Any) -> None:
        """Continue from :meth:`to_state`; without one (an older checkpoint) the
        bucket of the restored engine's watermark."""
        wm = self.engine.inputs.watermark
        top = None if wm is None else bucket_of(wm, self.cadence)
        if isinstance(state, Mapping) and state.get("cadence_s") == self.cadence:
            saved = state.get("top")
            if saved is None or type(saved) is int:
                top = saved
        self.top = top

    def feed(self, frames: Iterable[Frame]) -> list[Snapshot]:
        """Feed lines; the snapshots of the buckets they closed, oldest first."""
        return self.apply(self.engine.decode_frames(frames))

    def apply(self, events: Sequence[Event]) -> list[Snapshot]:
        """Apply valid events (decoded by the engine's decoder); as :meth:`feed`."""
        engine = self.engine
        at, self.top = cuts((e.ts for e in events), self.top, self.cadence)
        out: list[Snapshot] = []
        start = 0
        for i, bucket in at:
            engine.apply_many(events[start:i])
            start = i
            out.append(self.take(bucket))
        engine.apply_many(events[start:])
        return out

    def take(self, bucket: int) -> Snapshot:
        doc = symbols_document(self.engine, self.windows)
        return snapshot(doc, bucket, self.windows, self.score)
