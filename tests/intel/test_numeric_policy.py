"""The numeric policy at the decoder: a value that is finite in JSON but would make a
derived figure non-finite, or that lies outside its documented range, is rejected with
a counted reason before it reaches any accumulator; the engine's own state is always
finite, so its checkpoint never refuses it (docs/numerics.md)."""

from __future__ import annotations

import datetime
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.intel import events as ev
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.runner import replay
from streaming.checkpoint import CheckpointStore
from streaming.decode import REJECT_REASONS
from streaming.jsonsafe import check_finite
from tests.intel.builders import (
    T0,
    assert_close,
    assert_no_sentinels,
    line,
    order,
    trade,
    validator,
)
from tests.intel.oracle import expectancy_surfaces

WINDOWS = ("all", "3t", "1h")

# finite in JSON, hostile in arithmetic
EXTREMES = (
    0.0, -0.0, 1.0, -1.0, 0.1, 1e12, -1e12, 1e15, -1e15, 1.0000000000000002e15, 1e16, -1e16,
    1e300, -1e300, 1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, 1e-320, 1e-300,
)  # fmt: skip
extreme = st.sampled_from(EXTREMES) | st.floats(allow_nan=False, allow_infinity=False)
# the ts field: in range, at both ends, outside it, extreme
stamps = st.sampled_from(
    [T0, T0 + 60.0, 1.0, 0.5, 0.0, -1.0, 253402300799.0, 253402300800.0, 1e12, 1e308, 5e-324]
) | st.floats(allow_nan=False, allow_infinity=False)


def reason(raw: bytes) -> str | None:
    out = ev.make_decoder().decode(raw)
    return getattr(out, "reason", None)


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (trade(5.0, 1e-320), "non_finite"),  # R = 5e320: overflows
        (trade(5.0, 1e-300), "out_of_range"),  # R = 5e300: beyond the R bound
        (trade(1e4, 1e-9), "out_of_range"),  # R = 1e13
        (trade(1e3, 1e-9), None),  # R = 1e12: at the bound
        (trade(1e16, 100.0), "out_of_range"),
        (trade(-1e16, None), "out_of_range"),
        (trade(5.0, 1e16), "out_of_range"),
        (trade(5.0, 100.0, r_multiple=1e13), "out_of_range"),
        (trade(5e-324, 1e-320), None),  # R = 0.5, finite and in range
        (trade(1e15, 1e3), None),  # at the USD bound
        (trade(1.0, ts=1e308), "out_of_range"),
        (trade(1.0, ts=253402300800.0), "out_of_range"),
        (trade(1.0, ts=0.0), "out_of_range"),
        (trade(1.0, ts=-5.0), "out_of_range"),
        (trade(1.0, ts=253402300799.0), None),
        (trade(1.0, 0.0), "invalid_value"),  # a sign rule stays invalid_value
        ({**order(), "notional_usd": 1e308}, "out_of_range"),
        ({**order(), "notional_usd": -1.0}, "invalid_value"),
        ({**order(), "fee_usd": -1e16}, "out_of_range"),
        ({**order(), "qty": 1e16}, "out_of_range"),
        ({**order(), "price": 1e300}, "out_of_range"),
        ({**order(), "slippage_bps": 1e7}, "out_of_range"),
        ({**order(), "slippage_bps": -1e7}, "out_of_range"),
        ({**order(), "latency_ms": 1e11}, "out_of_range"),
        ({**order(), "ts": 1e308}, "out_of_range"),
        ({**order(), "notional_usd": 1e15}, None),
    ],
)
def test_values_outside_the_policy_are_rejected_with_their_reason(event, why):
    assert reason(line(event)) == why
    if why is not None:
        assert why in REJECT_REASONS


def test_every_accepted_ts_is_a_datetime():
    for ts in (ev.TS_MIN, ev.TS_MAX - 1.0, math.nextafter(ev.TS_MAX, 0.0)):
        assert reason(line(trade(1.0, ts=ts))) is None
        datetime.datetime.fromtimestamp(ts, datetime.UTC)


def test_the_oracle_applies_the_same_policy_to_dicts_and_lines():
    events = [trade(5.0, 1e-320), {**order(), "notional_usd": 1e308}, trade(1.0, ts=1e308)]
    for given_as in (events, [line(e) for e in events]):
        doc = expectancy_surfaces(given_as, windows=("all",), generated_at=0.0)
        assert doc["inputs"]["reject_reasons"] == {"non_finite": 1, "out_of_range": 2}


def test_two_huge_notionals_do_not_overflow_the_sum():
    """The reproduction: two orders of 1e308 notional would sum to infinity."""
    engine = ExpectancyEngine(WINDOWS)
    engine.feed_many([line({**order(), "notional_usd": 1e308}) for _ in range(2)])
    engine.feed_many([line({**order(), "notional_usd": 1e15}) for _ in range(300)])
    check_finite(engine.to_state())
    doc = engine.document(generated_at=0.0)
    assert doc["inputs"]["reject_reasons"] == {"out_of_range": 2}
    assert doc["windows"]["all"]["symbols"]["BTCUSDT"]["notional_usd"] == 3e17


def test_replay_of_an_overflowing_line_publishes_and_checkpoints(cfg, tmp_path):
    """One hostile line no longer takes replay (or a follower's checkpoint) down."""
    log = tmp_path / "rm.jsonl"
    lines = [line(trade(10.0)), line(trade(5.0, 1e-320)), line(trade(1.0, ts=1e308))]
    log.write_bytes(b"".join(x + b"\n" for x in lines))
    result = replay([log], cfg.intel, state_dir=tmp_path / "state", jobs=1)
    assert result.expectancy["inputs"]["reject_reasons"] == {"non_finite": 1, "out_of_range": 1}
    engine = ExpectancyEngine.from_config(cfg.intel)
    engine.feed_many(lines)
    CheckpointStore(tmp_path / "ck").save({"engine": engine.to_state()})


@st.composite
def hostile_event(draw: st.DrawFn, n: int) -> dict:
    """A trade or an order whose every number may be extreme."""
    ts = draw(stamps)
    symbol = draw(st.sampled_from(["A", "B"]))
    if draw(st.booleans()):
        e = {"event": "trade", "ts": ts, "symbol": symbol, "trade_id": f"t{n}",
             "pnl_usd": draw(extreme)}  # fmt: skip
        if draw(st.booleans()):
            e["risk_usd"] = draw(extreme)
        if draw(st.integers(0, 3)) == 0:
            e["r_multiple"] = draw(extreme)
        if draw(st.booleans()):
            e["notional_usd"] = draw(extreme)
        return e
    e = {"event": "order", "ts": ts, "symbol": symbol, "order_id": f"o{n}",
         "status": draw(st.sampled_from(["FILLED", "REJECTED", "CANCELED"])),
         "qty": draw(extreme), "price": draw(extreme), "notional_usd": draw(extreme),
         "fee_usd": draw(extreme)}  # fmt: skip
    for name in ("slippage_bps", "latency_ms"):
        if draw(st.booleans()):
            e[name] = draw(extreme)
    return e


@given(st.lists(st.integers(0, 10**6).flatmap(hostile_event), max_size=40), st.booleans())
@settings(max_examples=max(10, settings.default.max_examples // 2))
def test_hostile_numbers_never_reach_an_accumulator(events, batched):
    """Every line is applied or rejected with a reason; the state is finite (the
    checkpoint takes it), the document has no non-finite number and validates, and
    the engine equals the batch oracle."""
    lines = [json.dumps(e).encode() for e in events]
    engine = ExpectancyEngine(WINDOWS)
    if batched:
        engine.feed_many(lines * 8)  # long enough for the columnar path
    else:
        for raw in lines * 8:
            engine.feed(raw)
    state = engine.to_state()
    check_finite(state)
    json.dumps(state, allow_nan=False)
    doc = engine.document(generated_at=0.0)
    inputs = doc["inputs"]
    assert inputs["events"] + inputs["rejected"] + inputs["skipped"] == len(lines) * 8
    assert_no_sentinels(doc)
    validator("expectancy_v6.schema.json").validate(doc)
    want = expectancy_surfaces(lines * 8, windows=WINDOWS, generated_at=0.0)
    assert_close(doc, want)


def test_a_ratio_that_overflows_is_null_with_its_reason():
    """In-range inputs whose published ratio is not representable: the figure is null
    and says why (never inf, never a sentinel)."""
    events = [trade(1e15, None), trade(-5e-324, None), trade(0.0, 5e-324),
              order(slippage=1e6, notional=1e15)]  # fmt: skip
    for doc in (
        expectancy_surfaces(events, windows=("all",), generated_at=0.0),
        _engine_doc(events),
    ):
        g = doc["windows"]["all"]["symbols"]["BTCUSDT"]
        assert g["profit_factor"] is None
        assert g["null_reasons"]["profit_factor"] == "out of range"
        assert g["slippage_cost_r"] is None
        assert g["null_reasons"]["slippage_cost_r"] == "out of range"
        assert_no_sentinels(doc)


def _engine_doc(events):
    engine = ExpectancyEngine(("all",))
    engine.feed_many([line(e) for e in events])
    return engine.document(generated_at=0.0)
