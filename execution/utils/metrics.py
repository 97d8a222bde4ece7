"""Router-metrics events (architecture §3), the JSONL append writer, order-metric aggregation.

Every order outcome and every closed trade becomes one JSON line in the canonical
router-metrics log. Events are ``msgspec.Struct`` values, so encoding is fast and
the field order (and therefore the bytes) is deterministic:

>>> e = OrderEvent(ts=1.5, symbol="BTCUSDT", strategy="s", policy="maker_first",
...                regime="maker_first", order_id="o-1", side="BUY", status="FILLED",
...                qty=0.5, price=100.0, notional_usd=50.0, is_maker=True, fallback=False,
...                slippage_bps=-0.5, latency_ms=12.0, fee_usd=0.005, role="entry")
>>> encode_event(e)[:60]
b'{"event":"order","ts":1.5,"symbol":"BTCUSDT","strategy":"s",'

``OrderMetrics`` folds order events into per-symbol router health (maker fill rate,
fallback rate, slippage, latency) over the last N orders of each symbol.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec

Side = Literal["BUY", "SELL"]
OrderType = Literal["LIMIT_POST_ONLY", "MARKET"]
OrderStatus = Literal["FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "EXPIRED"]
FILL_STATUSES = frozenset({"FILLED", "PARTIALLY_FILLED"})
ORDER_STATUSES = ("FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "EXPIRED")
DEFAULT_LOG_PATH = Path("logs/execution/router_metrics.jsonl")


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="order"):
    """One order outcome. ``qty``/``price`` are the filled quantity and average fill
    price; an order with no fill carries qty 0 and its limit or reference price."""

    ts: float
    symbol: str
    strategy: str
    policy: str
    regime: str
    order_id: str
    side: Side
    status: OrderStatus
    qty: float
    price: float
    notional_usd: float
    is_maker: bool
    fallback: bool
    slippage_bps: float
    latency_ms: float
    fee_usd: float
    order_type: OrderType = "MARKET"
    role: str = "entry"
    reason: str = ""


class TradeEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event", tag="trade"):
    """One closed round trip; ``pnl_usd`` is realised and net of fees."""

    ts: float
    symbol: str
    strategy: str
    policy: str
    regime: str
    trade_id: str
    direction: Literal["LONG", "SHORT"]
    pnl_usd: float
    risk_usd: float
    r_multiple: float
    notional_usd: float
    entry_ts: float
    exit_ts: float
    exit_reason: str


Event = OrderEvent | TradeEvent
_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


class JsonlAppendWriter:
    """Appends one whole line per event to a JSONL file.

    The file is opened with ``O_APPEND`` and each line goes out in a single
    ``write`` call (looping only if the kernel accepts part of it), so a reader
    tailing the file sees whole lines or, at worst after a crash, one partial last
    line that never gets a newline glued to the next event's bytes.
    """

    __slots__ = ("_fd", "lines", "path")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.lines = 0

    def write(self, event: Event) -> None:
        self.write_bytes(encode_event(event) + b"\n")

    def write_bytes(self, line: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: writer is closed")
        view = memoryview(line)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        self.lines += 1

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlAppendWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# --- order-metric aggregation ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SymbolHealth:
    """Router health of one symbol over its last N orders."""

    orders: int
    fills: int
    maker_attempts: int
    maker_fills: int
    fallbacks: int
    rejects: int
    maker_fill_rate: float | None
    fallback_rate: float | None
    reject_rate: float | None
    avg_slippage_bps: float | None
    latency_ms_p50: float | None
    latency_ms_p95: float | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _quantile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[idx]


class OrderMetrics:
    """Per-symbol router health over the last ``window`` order events of each symbol.

    >>> m = OrderMetrics(window=3)
    >>> for status, maker in [("EXPIRED", True), ("FILLED", True), ("FILLED", False)]:
    ...     m.record(OrderEvent(ts=0.0, symbol="X", strategy="s", policy="p", regime="r",
    ...              order_id="o", side="BUY", status=status, qty=1.0, price=1.0,
    ...              notional_usd=1.0, is_maker=maker and status == "FILLED",
    ...              fallback=not maker, slippage_bps=1.0, latency_ms=10.0, fee_usd=0.0,
    ...              order_type="LIMIT_POST_ONLY" if maker else "MARKET"))
    >>> h = m.health("X")
    >>> (h.orders, h.fills, h.maker_attempts, h.maker_fills, h.fallbacks)
    (3, 2, 2, 1, 1)
    """

    __slots__ = ("_recent", "window")

    def __init__(self, window: int = 100) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._recent: dict[str, deque[OrderEvent]] = defaultdict(lambda: deque(maxlen=window))

    def record(self, event: OrderEvent) -> None:
        self._recent[event.symbol].append(event)

    def symbols(self) -> list[str]:
        return sorted(self._recent)

    def health(self, symbol: str) -> SymbolHealth:
        events = self._recent.get(symbol, ())
        fills = [e for e in events if e.status in FILL_STATUSES]
        maker_attempts = sum(1 for e in events if is_maker_attempt(e))
        maker_fills = sum(1 for e in fills if e.is_maker)
        fallbacks = sum(1 for e in fills if e.fallback)
        rejects = sum(1 for e in events if e.status == "REJECTED")
        latencies = sorted(e.latency_ms for e in events)
        return SymbolHealth(
            orders=len(events),
            fills=len(fills),
            maker_attempts=maker_attempts,
            maker_fills=maker_fills,
            fallbacks=fallbacks,
            rejects=rejects,
            maker_fill_rate=_ratio(maker_fills, maker_attempts),
            fallback_rate=_ratio(fallbacks, len(fills)),
            reject_rate=_ratio(rejects, len(events)),
            avg_slippage_bps=(sum(e.slippage_bps for e in fills) / len(fills)) if fills else None,
            latency_ms_p50=_quantile(latencies, 0.5),
            latency_ms_p95=_quantile(latencies, 0.95),
        )

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {sym: self.health(sym).to_dict() for sym in self.symbols()}


def is_maker_attempt(event: OrderEvent) -> bool:
    """A post-only order, whatever its outcome."""
    return event.order_type == "LIMIT_POST_ONLY"


# --- reading a log and summarising it -------------------------------------------------

_decoder = msgspec.json.Decoder(type=Event)


def read_events(path: str | Path) -> Iterator[Event]:
    """Yield the valid events of a router-metrics log (plain or ``.gz``), skipping bad lines."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line in fh:
            try:
                yield _decoder.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue


def summarize(events: Iterable[Event]) -> tuple[OrderMetrics, dict[str, list[float]]]:
    metrics = OrderMetrics(window=1_000_000_000)
    trades: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if isinstance(e, OrderEvent):
            metrics.record(e)
        else:
            trades[e.symbol].append(e.r_multiple)
    return metrics, trades


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m execution.utils.metrics")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("summarize", help="per-symbol router health and trade outcomes")
    p.add_argument("file")
    args = parser.parse_args(argv)
    if not Path(args.file).is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    metrics, trades = summarize(read_events(args.file))
    head = f"{'symbol':<10} {'orders':>6} {'fills':>6} {'maker%':>7} {'fallbk%':>7} "
    print(head + f"{'slip_bps':>8} {'trades':>6} {'avg_R':>7}")
    for sym in sorted(set(metrics.symbols()) | set(trades)):
        h = metrics.health(sym)
        rs = trades.get(sym, [])
        avg_r = sum(rs) / len(rs) if rs else None
        mfr = None if h.maker_fill_rate is None else 100 * h.maker_fill_rate
        fbr = None if h.fallback_rate is None else 100 * h.fallback_rate
        print(
            f"{sym:<10} {h.orders:>6} {h.fills:>6} {_fmt(mfr, '.1f'):>7} "
            f"{_fmt(fbr, '.1f'):>7} {_fmt(h.avg_slippage_bps, '.2f'):>8} {len(rs):>6} "
            f"{_fmt(avg_r, '+.3f'):>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
