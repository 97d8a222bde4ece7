"""Event builders, document comparison and Hypothesis strategies for the intel tests."""

from __future__ import annotations

import json
import math
from itertools import count
from typing import Any

import jsonschema
from hypothesis import strategies as st

from tests.support import load_schema

_ids = count()
T0 = 1_763_856_000.0


def trade(
    pnl: float,
    risk: float | None = 100.0,
    *,
    symbol: str = "BTCUSDT",
    ts: float | None = None,
    strategy: str = "trend_follow",
    policy: str = "maker_first",
    regime: str = "maker_first",
    **extra: Any,
) -> dict[str, Any]:
    n = next(_ids)
    e: dict[str, Any] = {
        "event": "trade",
        "ts": T0 + n if ts is None else ts,
        "symbol": symbol,
        "strategy": strategy,
        "policy": policy,
        "regime": regime,
        "trade_id": f"t{n}",
        "pnl_usd": pnl,
    }
    if risk is not None:
        e["risk_usd"] = risk
    e.update(extra)
    return e


def trades_r(rs: list[float], risk: float = 100.0, **kw: Any) -> list[dict[str, Any]]:
    """Trades with the given R multiples (pnl = R × risk)."""
    return [trade(r * risk, risk, **kw) for r in rs]


def order(
    status: str = "FILLED",
    *,
    symbol: str = "BTCUSDT",
    maker: bool = False,
    fallback: bool = False,
    slippage: float | None = 1.0,
    notional: float = 10_000.0,
    latency: float | None = 20.0,
    ts: float | None = None,
    strategy: str = "trend_follow",
    policy: str = "maker_first",
    regime: str = "maker_first",
) -> dict[str, Any]:
    n = next(_ids)
    e: dict[str, Any] = {
        "event": "order",
        "ts": T0 + n if ts is None else ts,
        "symbol": symbol,
        "strategy": strategy,
        "policy": policy,
        "regime": regime,
        "order_id": f"o{n}",
        "side": "BUY",
        "status": status,
        "qty": 1.0,
        "price": notional,
        "notional_usd": notional if status in ("FILLED", "PARTIALLY_FILLED") else 0.0,
        "is_maker": maker,
        "fallback": fallback,
        "fee_usd": 1.0,
    }
    if slippage is not None:
        e["slippage_bps"] = slippage
    if latency is not None:
        e["latency_ms"] = latency
    return e


def line(e: dict[str, Any]) -> bytes:
    return json.dumps(e).encode()


def without_wall_time(doc: dict[str, Any]) -> dict[str, Any]:
    """The document without when and by what it was produced (``generated_at``, and
    ``source``: replay or follow), so that the two can be compared."""
    return {k: v for k, v in doc.items() if k not in ("generated_at", "source")}


def assert_close(a: Any, b: Any, path: str = "$", rel: float = 1e-9) -> None:
    """Equal documents, floats within ``rel`` relative (absolute below magnitude 1)."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a.keys() ^ b.keys())}"
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}", rel)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{path}: lengths {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]", rel)
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{path}: {a!r} {b!r}"
        assert abs(a - b) <= rel * max(1.0, abs(a), abs(b)), f"{path}: {a!r} != {b!r}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def walk_numbers(doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        return [x for v in doc.values() for x in walk_numbers(v)]
    if isinstance(doc, list):
        return [x for v in doc for x in walk_numbers(v)]
    return [doc] if isinstance(doc, int | float) else []


def assert_no_sentinels(doc: Any) -> None:
    assert all(math.isfinite(x) for x in walk_numbers(doc))


def validator(name: str) -> Any:
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


# --- Hypothesis -------------------------------------------------------------------------

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
cents = st.integers(-50_000, 50_000).map(lambda c: c / 100)
risks = st.sampled_from([None, 50.0, 100.0, 250.0])


@st.composite
def good_event(draw: st.DrawFn, n: int, ts: float, kind: str | None = None) -> dict[str, Any]:
    common = {
        "ts": ts,
        "symbol": draw(st.sampled_from(SYMBOLS)),
        "strategy": draw(st.sampled_from(["trend_follow", "mean_revert"])),
        "policy": draw(st.sampled_from(["maker_first", "taker_only"])),
    }
    if draw(st.booleans()):
        common["regime"] = draw(st.sampled_from(["maker_first", "taker_heavy"]))
    if draw(st.integers(0, 2)) == 0:  # else the source's label
        common["executor"] = draw(st.sampled_from(["desk-a", "desk-b"]))
    if kind == "trade" or (kind is None and draw(st.booleans())):
        e = {**common, "event": "trade", "trade_id": f"t{n}", "pnl_usd": draw(cents)}
        risk = draw(risks)
        if risk is not None:
            e["risk_usd"] = risk
        if draw(st.integers(0, 5)) == 0:
            e["r_multiple"] = draw(st.integers(-300, 300)) / 100
        return e
    status = draw(st.sampled_from(["FILLED", "FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED"]))
    filled = status in ("FILLED", "PARTIALLY_FILLED")
    e = {
        **common,
        "event": "order",
        "order_id": f"o{n}",
        "side": draw(st.sampled_from(["BUY", "SELL"])),
        "status": status,
        "qty": 1.0,
        "price": 100.0,
        "notional_usd": draw(st.integers(1, 10_000)) * 10.0 if filled else 0.0,
        "is_maker": filled and draw(st.booleans()),
        "fallback": filled and draw(st.booleans()),
        "fee_usd": 0.5,
    }
    if draw(st.booleans()):
        e["slippage_bps"] = draw(st.integers(-200, 800)) / 100
    if draw(st.booleans()):
        e["latency_ms"] = draw(st.integers(1, 500)) * 1.0
    return e


BAD_LINES = [
    b"not json",
    b"[1, 2, 3]",
    b'{"event": "trade", "ts": 1}',
    b'{"event": "trade", "ts": "x", "symbol": "A", "trade_id": "q", "pnl_usd": 1}',
    b'{"event": "trade", "ts": NaN, "symbol": "A", "trade_id": "q", "pnl_usd": 1}',
    b'{"event": "trade", "ts": 1e999, "symbol": "A", "trade_id": "q", "pnl_usd": 1}',
    b'{"event": "trade", "ts": 1, "symbol": "A", "trade_id": "q", "pnl_usd": 1, "risk_usd": 0}',
    b'{"event": "heartbeat", "ts": 1, "symbol": "A"}',
    b'{"event": "trade", "ts": 1, "symbol": "A", "trade_id": "q", "pnl_usd": 1, "executor": 7}',
    b'{"event": "order", "ts": 1, "symbol": "A", "order_id": "q", "status": "LOST"}',
    b"\xff\xfe{}",
    b"",
]


@st.composite
def event_log(draw: st.DrawFn, max_events: int = 60) -> list[bytes]:
    """Lines of a router-metrics log: good events (time mostly rising, sometimes
    back), bad lines of every kind, and duplicates of earlier events."""
    out: list[bytes] = []
    ts = T0
    n = draw(st.integers(0, max_events))
    for i in range(n):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            out.append(draw(st.sampled_from(BAD_LINES)))
        elif kind == 1 and out:
            out.append(draw(st.sampled_from(out)))  # a duplicate (or a repeated bad line)
        else:
            ts += draw(st.sampled_from([0.0, 60.0, 600.0, 3600.0, -1800.0]))
            out.append(line(draw(good_event(i, ts))))
    return out
