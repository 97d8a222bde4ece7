"""Order-metric aggregation and the JSONL writer/reader of router-metrics events."""

from __future__ import annotations

import gzip

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from execution.utils.metrics import (
    JsonlAppendWriter,
    OrderEvent,
    OrderMetrics,
    TradeEvent,
    encode_event,
    main,
    read_events,
)


def order(
    *,
    symbol="X",
    status="FILLED",
    order_type="MARKET",
    is_maker=False,
    fallback=False,
    slippage=1.0,
    latency=10.0,
    qty=1.0,
):
    filled = status in ("FILLED", "PARTIALLY_FILLED")
    return OrderEvent(
        ts=1.0,
        symbol=symbol,
        strategy="s",
        policy="maker_first",
        regime="maker_first",
        order_id="o",
        side="BUY",
        status=status,
        qty=qty if filled else 0.0,
        price=10.0,
        notional_usd=10.0 * qty if filled else 0.0,
        is_maker=is_maker,
        fallback=fallback,
        slippage_bps=slippage,
        latency_ms=latency,
        fee_usd=0.01,
        order_type=order_type,
    )


def trade(symbol="X", pnl=10.0, risk=5.0):
    return TradeEvent(
        ts=2.0,
        symbol=symbol,
        strategy="s",
        policy="p",
        regime="r",
        trade_id="t",
        direction="LONG",
        pnl_usd=pnl,
        risk_usd=risk,
        r_multiple=pnl / risk,
        notional_usd=100.0,
        entry_ts=1.0,
        exit_ts=2.0,
        exit_reason="target",
    )


def test_health_figures_by_hand():
    m = OrderMetrics()
    m.record(order(status="FILLED", order_type="LIMIT_POST_ONLY", is_maker=True, slippage=-1.0))
    m.record(order(status="EXPIRED", order_type="LIMIT_POST_ONLY", slippage=0.0, latency=30.0))
    m.record(order(status="FILLED", fallback=True, slippage=3.0, latency=20.0))
    m.record(order(status="REJECTED", latency=40.0))
    h = m.health("X")
    assert (h.orders, h.fills, h.maker_attempts, h.maker_fills, h.fallbacks, h.rejects) == (
        4,
        2,
        2,
        1,
        1,
        1,
    )
    assert h.maker_fill_rate == 0.5
    assert h.fallback_rate == 0.5
    assert h.reject_rate == 0.25
    assert h.avg_slippage_bps == pytest.approx(1.0)  # over fills only
    assert h.latency_ms_p50 == 30.0 and h.latency_ms_p95 == 40.0


def test_unknown_symbol_has_undefined_rates_not_zero():
    h = OrderMetrics().health("NOPE")
    assert h.orders == 0
    assert h.maker_fill_rate is None and h.fallback_rate is None and h.avg_slippage_bps is None


def test_window_keeps_only_the_last_n_orders_per_symbol():
    m = OrderMetrics(window=2)
    m.record(order(status="REJECTED"))
    m.record(order())
    m.record(order())
    m.record(order(symbol="Y", status="REJECTED"))
    assert m.health("X").rejects == 0 and m.health("X").orders == 2
    assert m.health("Y").rejects == 1
    assert m.symbols() == ["X", "Y"]
    assert set(m.snapshot()) == {"X", "Y"}


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        OrderMetrics(window=0)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["FILLED", "EXPIRED", "REJECTED", "PARTIALLY_FILLED"]),
            st.booleans(),
            st.floats(-50, 50),
        ),
        max_size=60,
    ),
    st.integers(1, 30),
)
def test_health_equals_recomputation_over_the_window(rows, window):
    """Rolling health equals a direct computation over the last ``window`` orders."""
    m = OrderMetrics(window=window)
    events = [
        order(
            status=s,
            order_type="LIMIT_POST_ONLY" if mk else "MARKET",
            is_maker=mk and s in ("FILLED", "PARTIALLY_FILLED"),
            slippage=sl,
        )
        for s, mk, sl in rows
    ]
    for e in events:
        m.record(e)
    last = events[-window:]
    fills = [e for e in last if e.status in ("FILLED", "PARTIALLY_FILLED")]
    h = m.health("X")
    assert h.orders == len(last)
    assert h.fills == len(fills)
    attempts = sum(e.order_type == "LIMIT_POST_ONLY" for e in last)
    assert h.maker_fill_rate == (sum(e.is_maker for e in fills) / attempts if attempts else None)
    if fills:
        assert h.avg_slippage_bps == pytest.approx(sum(e.slippage_bps for e in fills) / len(fills))


def test_encoding_is_one_line_led_by_the_event_tag():
    line = encode_event(order())
    assert b"\n" not in line
    assert line.startswith(b'{"event":"order","ts":1.0,')
    assert encode_event(trade()).startswith(b'{"event":"trade","ts":2.0,')


def test_writer_appends_whole_lines_and_reader_round_trips(tmp_path):
    p = tmp_path / "deep" / "router_metrics.jsonl"
    events = [order(), trade(), order(symbol="Y")]
    with JsonlAppendWriter(p) as w:
        for e in events:
            w.write(e)
        assert w.lines == 3
    with JsonlAppendWriter(p) as w:  # a second writer appends, never truncates
        w.write(trade(symbol="Z"))
    assert p.read_bytes().count(b"\n") == 4 and p.read_bytes().endswith(b"\n")
    assert list(read_events(p)) == [*events, trade(symbol="Z")]


def test_closed_writer_refuses_to_write(tmp_path):
    w = JsonlAppendWriter(tmp_path / "x.jsonl")
    w.close()
    with pytest.raises(ValueError, match="closed"):
        w.write(order())


def test_reader_skips_bad_lines_and_reads_gzip(tmp_path):
    good = encode_event(order())
    raw = b"\n".join([good, b"not json", b'{"event":"order"}', b"[1,2]", good]) + b"\n"
    plain, packed = tmp_path / "m.jsonl", tmp_path / "m.jsonl.gz"
    plain.write_bytes(raw)
    packed.write_bytes(gzip.compress(raw))
    assert len(list(read_events(plain))) == 2
    assert list(read_events(packed)) == list(read_events(plain))


def test_decoded_event_fields_match_the_struct():
    decoded = msgspec.json.decode(encode_event(order(status="EXPIRED")))
    assert decoded["status"] == "EXPIRED" and decoded["qty"] == 0.0


def test_summarize_command(tmp_path, capsys):
    p = tmp_path / "m.jsonl"
    with JsonlAppendWriter(p) as w:
        w.write(order(symbol="AAA"))
        w.write(trade(symbol="AAA", pnl=10.0, risk=5.0))
    assert main(["summarize", str(p)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["AAA", "1", "1", "-", "0.0", "1.00", "1", "+2.000"]
    assert main(["summarize", str(tmp_path / "missing.jsonl")]) == 2
