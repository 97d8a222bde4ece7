"""The router-metrics input contract (architecture §3), as the intel layer reads it.

Readers are tolerant where the contract allows (extra fields are ignored; a missing
``strategy``, ``policy`` or ``regime`` reads as ``"unknown"``, a missing ``executor``
as the label of the source the line came from, :func:`number_cells`) and strict where it
does not: required fields, types, ``risk_usd > 0`` and non-negative notional and
latency. Numbers are always finite: JSON has no NaN or infinity, msgspec refuses
such tokens and reports overflowing literals (``1e999``) as out of range, which the
decoder counts as ``non_finite``. :func:`make_decoder` returns the engine's decoder.

The numeric policy (``docs/numerics.md``): every number lies within a bound chosen
so that sums over 10⁹ events, squares and the published ratios stay finite, and
``ts`` is an instant :func:`datetime.datetime.fromtimestamp` can represent. A value
beyond its bound is rejected as ``out_of_range``; so is a trade whose R = pnl / risk
lies beyond ±:data:`MAX_R` (``non_finite`` when the quotient overflows), whether or
not an ``r_multiple`` is given, so Σ pnl / Σ risk is bounded too.

>>> d = make_decoder()
>>> d.decode(b'{"ts":1e308,"event":"trade","symbol":"X","trade_id":"t","pnl_usd":5}').reason
'out_of_range'
>>> d.decode(b'{"ts":1,"event":"trade","symbol":"X","trade_id":"t","pnl_usd":5,"risk_usd":1e-320}')
Reject(reason='non_finite', detail='R = pnl_usd / risk_usd = 5.0 / 1e-320 overflows')

>>> d = make_decoder()
>>> t = d.decode(b'{"ts":1,"event":"trade","symbol":"X","trade_id":"t1","pnl_usd":5,"risk_usd":10}')
>>> t.r, t.strategy
(0.5, 'unknown')
>>> d.decode(b'{"ts":1,"event":"trade","symbol":"X","trade_id":"t2","pnl_usd":5,"risk_usd":0}')
Reject(reason='invalid_value', detail='Expected `float` > 0.0 - at `$.risk_usd`')
>>> d.decode(b'{"ts":2,"event":"heartbeat","symbol":"X"}').reason
'unknown_tag'
"""

from __future__ import annotations

import itertools
import math
import operator
import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from itertools import compress, repeat
from operator import attrgetter
from pathlib import PurePath
from typing import Annotated, Any, Final, Literal

import msgspec
import numpy as np
from msgspec import Meta

from streaming.decode import LineDecoder, Reject, Skip, classify
from streaming.fold import Ints
from streaming.framing import OVERLONG
from streaming.inputs import live_name
from streaming.jsonsafe import check_finite
from streaming.recent_ids import DEFAULT_DEDUP_HORIZON

UNKNOWN = "unknown"
OrderStatus = Literal["FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "EXPIRED"]
FILLS = frozenset({"FILLED", "PARTIALLY_FILLED"})

# --- the numeric policy (docs/numerics.md) ------------------------------------------
MAX_USD: Final = 1e15  # |pnl|, risk, notional, fee per event; Σ over 10⁹ events ≤ 1e24
MAX_R: Final = 1e12  # |R|, given or pnl / risk; Σ R² over 10⁹ events ≤ 1e33
MAX_BPS: Final = 1e6  # |slippage_bps| (100x the price)
MAX_LATENCY_MS: Final = 1e10  # about 116 days
MAX_QTY: Final = 1e15  # qty and |price|
TS_MIN: Final = 1.0  # 1970-01-01T00:00:01Z
TS_MAX: Final = 253402300800.0  # 10000-01-01T00:00:00Z, excluded

Ts = Annotated[float, Meta(ge=TS_MIN, lt=TS_MAX)]
Usd = Annotated[float, Meta(ge=-MAX_USD, le=MAX_USD)]
NonNegUsd = Annotated[float, Meta(ge=0, le=MAX_USD)]
Qty = Annotated[float, Meta(ge=0, le=MAX_QTY)]
Price = Annotated[float, Meta(ge=-MAX_QTY, le=MAX_QTY)]
Bps = Annotated[float, Meta(ge=-MAX_BPS, le=MAX_BPS)]
LatencyMs = Annotated[float, Meta(ge=0, le=MAX_LATENCY_MS)]
RMultiple = Annotated[float, Meta(ge=-MAX_R, le=MAX_R)]
RiskUsd = Annotated[float, Meta(gt=0, le=MAX_USD)]


class Order(msgspec.Struct, frozen=True, gc=False, tag_field="event", tag="order"):
    ts: Ts
    symbol: str
    order_id: str
    strategy: str = UNKNOWN
    policy: str = UNKNOWN
    regime: str = UNKNOWN
    executor: str | None = None  # None: the source's label (number_cells)
    side: Literal["BUY", "SELL"] | None = None
    status: OrderStatus | None = None
    qty: Qty = 0.0
    price: Price = 0.0
    notional_usd: NonNegUsd = 0.0
    is_maker: bool = False
    fallback: bool = False
    slippage_bps: Bps | None = None
    latency_ms: LatencyMs | None = None
    fee_usd: Usd = 0.0

    @property
    def filled(self) -> bool:
        return self.status in FILLS


class Trade(msgspec.Struct, frozen=True, gc=False, tag_field="event", tag="trade"):
    ts: Ts
    symbol: str
    trade_id: str
    pnl_usd: Usd
    strategy: str = UNKNOWN
    policy: str = UNKNOWN
    regime: str = UNKNOWN
    executor: str | None = None  # None: the source's label (number_cells)
    risk_usd: RiskUsd | None = None
    r_multiple: RMultiple | None = None
    notional_usd: Usd | None = None

    @property
    def r(self) -> float | None:
        """R multiple: given, or pnl / risk when risk is known, else None."""
        if self.r_multiple is not None:
            return self.r_multiple
        if self.risk_usd is not None:
            return self.pnl_usd / self.risk_usd
        return None


Event = Order | Trade


Cell = tuple[str, str, str, str, str]  # symbol, strategy, policy, regime, executor
_CELL: Final = attrgetter("symbol", "strategy", "policy", "regime", "executor")


def source_label(path: str | os.PathLike[str]) -> str:
    """The executor of a source's events that name none: its path as given, with
    ``.`` parts and doubled separators dropped (not ``..``: through a symlinked
    directory, ``a/../b`` is another file than ``b``) and a rotation suffix
    (``.N``, ``.N.gz``) removed, so a rotated file read alone is its log's; a URL
    as given. Bytes of the name that are not UTF-8 read as U+FFFD.

    >>> source_label("./logs//exec-a/router_metrics.jsonl"), source_label("s3://b/x.jsonl")
    ('logs/exec-a/router_metrics.jsonl', 's3://b/x.jsonl')
    >>> source_label("logs/m.jsonl.2.gz"), source_label("lnk/../m.jsonl")
    ('logs/m.jsonl', 'lnk/../m.jsonl')
    """
    given = os.fspath(path)
    if "://" not in given:
        given = live_name(str(PurePath(given)))
    return given.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def cell_of(e: Event, source: str) -> Cell:
    """The groups of ``e`` (one per grouping, ``document.DIMENSIONS``); an event
    that names no executor belongs to its source's."""
    cell: Cell = _CELL(e)
    return cell if cell[4] is not None else (*cell[:4], source)


def number_cells(events: Sequence[Event], source: str) -> tuple[list[Cell], Ints]:
    """The distinct cells of ``events`` in order of first sight (:func:`cell_of`;
    two may be equal when one event names its source's label and another names
    none), and each event's number among them.

    >>> two = [Trade(1, "X", "1", 1.0), Trade(1, "X", "2", 1.0, executor="b")]
    >>> cells, codes = number_cells(two, "a")
    >>> [c[4] for c in cells], codes.tolist()
    (['a', 'b'], [0, 1])
    """
    number: defaultdict[tuple[str | None, ...], int] = defaultdict(itertools.count().__next__)
    codes = np.fromiter(map(number.__getitem__, map(_CELL, events)), np.int64, len(events))
    cells = [c if c[4] is not None else (*c[:4], source) for c in number]
    return cells, codes  # type: ignore[return-value]


def event_id(e: Event) -> str:
    return "o:" + e.order_id if type(e) is Order else "t:" + e.trade_id  # type: ignore[union-attr]


_PREFIX: Final[dict[type, str]] = {Order: "o:", Trade: "t:"}
_ID_FIELD: Final[dict[type, str]] = {Order: "order_id", Trade: "trade_id"}


def event_ids(events: list[Event]) -> list[str | None]:
    """:func:`event_id` of each event, through C-level maps only.

    >>> event_ids([Trade(ts=1, symbol="X", trade_id="7", pnl_usd=1), Order(1, "X", "7")])
    ['t:7', 'o:7']
    """
    kinds = list(map(type, events))
    ids = map(getattr, events, map(_ID_FIELD.__getitem__, kinds))
    return list(map(operator.add, map(_PREFIX.__getitem__, kinds), ids))


def _r_reject(t: Trade) -> Reject:
    r = t.pnl_usd / t.risk_usd  # type: ignore[operator]
    what = f"R = pnl_usd / risk_usd = {t.pnl_usd!r} / {t.risk_usd!r}"
    if math.isfinite(r):
        return Reject("out_of_range", f"{what} = {r!r} is beyond ±{MAX_R:g}")
    return Reject("non_finite", f"{what} overflows")


def range_rejects(events: list[Any]) -> list[tuple[int, Reject]]:
    """The trades among ``events`` whose pnl / risk lies beyond ±:data:`MAX_R` (the
    decoder's record check: bounds msgspec cannot state, as they join two fields).
    The test runs on columns (C-level maps and numpy); only the rejects are built
    one by one."""
    is_trade = np.fromiter(map(isinstance, events, repeat(Trade)), np.bool_, len(events))
    at = np.flatnonzero(is_trade)
    if not len(at):
        return []
    trades = list(compress(events, is_trade.tolist()))
    pnl = np.fromiter(map(attrgetter("pnl_usd"), trades), np.float64, len(trades))
    risk = np.array(list(map(attrgetter("risk_usd"), trades)), dtype=np.float64)  # None: NaN
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~(np.abs(pnl) <= MAX_R * risk) & ~np.isnan(risk)
    return [(int(at[i]), _r_reject(trades[i])) for i in np.flatnonzero(bad).tolist()]


def make_decoder(dedup_horizon: int | None = DEFAULT_DEDUP_HORIZON) -> LineDecoder[Event]:
    """The engine's decoder: the numeric policy, and de-duplication by event id over
    the last ``dedup_horizon`` ids (None: no de-duplication)."""
    if dedup_horizon is None:
        return LineDecoder(Event, tag_field="event", check=range_rejects)
    return LineDecoder(
        Event,
        tag_field="event",
        id_of=event_id,
        ids_of=event_ids,
        dedup_horizon=dedup_horizon,
        check=range_rejects,
    )


def to_event(
    raw: Any, decoder: Callable[[bytes], Event | Reject | Skip] | None = None
) -> Event | Reject | Skip:
    """An event dict, a typed record or one raw line → an event, reject or skip."""
    if isinstance(raw, Order | Trade):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview):
        if decoder is None:
            raise TypeError("raw lines need a decoder")
        return decoder(bytes(raw))
    if raw is OVERLONG:
        return Reject("over_long", "line longer than the limit")
    if not isinstance(raw, Mapping):
        return Reject("not_object", f"expected an object, got {type(raw).__name__}")
    try:
        check_finite(raw)
    except ValueError as exc:
        return Reject("non_finite", str(exc))
    except RecursionError:
        return Reject("too_deep", "nesting too deep")
    try:
        event: Event = msgspec.convert(raw, Event)
    except msgspec.ValidationError as exc:
        return classify(exc, b"", "event")
    bad = range_rejects([event])
    return bad[0][1] if bad else event
