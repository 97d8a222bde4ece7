"""The router-metrics input contract (architecture §3), as the intel layer reads it.

Readers are tolerant where the contract allows (extra fields are ignored; a missing
``strategy``, ``policy`` or ``regime`` reads as ``"unknown"``) and strict where it
does not: required fields, types, ``risk_usd > 0`` and non-negative notional and
latency. Numbers are always finite: JSON has no NaN or infinity, msgspec refuses
such tokens and reports overflowing literals (``1e999``) as out of range, which the
decoder counts as ``non_finite``. :func:`make_decoder` returns the engine's decoder.

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

import operator
from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from streaming.decode import LineDecoder

UNKNOWN = "unknown"
OrderStatus = Literal["FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "EXPIRED"]
FILLS = frozenset({"FILLED", "PARTIALLY_FILLED"})
NonNeg = Annotated[float, Meta(ge=0)]


class Order(msgspec.Struct, frozen=True, gc=False, tag_field="event", tag="order"):
    ts: float
    symbol: str
    order_id: str
    strategy: str = UNKNOWN
    policy: str = UNKNOWN
    regime: str = UNKNOWN
    side: Literal["BUY", "SELL"] | None = None
    status: OrderStatus | None = None
    qty: NonNeg = 0.0
    price: float = 0.0
    notional_usd: NonNeg = 0.0
    is_maker: bool = False
    fallback: bool = False
    slippage_bps: float | None = None
    latency_ms: NonNeg | None = None
    fee_usd: float = 0.0

    @property
    def filled(self) -> bool:
        return self.status in FILLS


class Trade(msgspec.Struct, frozen=True, gc=False, tag_field="event", tag="trade"):
    ts: float
    symbol: str
    trade_id: str
    pnl_usd: float
    strategy: str = UNKNOWN
    policy: str = UNKNOWN
    regime: str = UNKNOWN
    risk_usd: Annotated[float, Meta(gt=0)] | None = None
    r_multiple: float | None = None
    notional_usd: float | None = None

    @property
    def r(self) -> float | None:
        """R multiple: given, or pnl / risk when risk is known, else None."""
        if self.r_multiple is not None:
            return self.r_multiple
        if self.risk_usd is not None:
            return self.pnl_usd / self.risk_usd
        return None


Event = Order | Trade


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


def make_decoder(dedup_horizon: int = 100_000) -> LineDecoder[Event]:
    return LineDecoder(
        Event, tag_field="event", id_of=event_id, ids_of=event_ids, dedup_horizon=dedup_horizon
    )
