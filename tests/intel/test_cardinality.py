"""Bounded cardinality: at most ``max_groups`` groups per grouping; an event that
would open one more is rejected as too_many_groups and the document warns. The same
rule in the batch oracle, event by event, in batches and across parallel parts."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.runner import replay
from tests.intel.builders import assert_close, line, order, trade
from tests.intel.oracle import expectancy_surfaces

WINDOWS = ("all", "3t", "1h")


def test_the_group_after_the_limit_is_rejected_and_warned_about():
    events = [line(trade(1.0, symbol=f"S{i}")) for i in range(5)]
    events += [line(trade(2.0, symbol="S0")), line(order(symbol="S9"))]
    engine = ExpectancyEngine(WINDOWS, max_groups=3)
    engine.feed_many(events)
    doc = engine.document(generated_at=0.0)
    assert sorted(doc["windows"]["all"]["symbols"]) == ["S0", "S1", "S2"]
    assert doc["inputs"]["reject_reasons"] == {"too_many_groups": 3}
    assert doc["warnings"] and "max_groups = 3" in doc["warnings"][0]
    assert doc["windows"]["all"]["symbols"]["S0"]["trades"] == 2


def test_the_default_limit_covers_a_real_exchange():
    assert ExpectancyEngine().max_groups == 20_000


@st.composite
def many_groups(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(0, 400))
    out = []
    for _ in range(n):
        sym = f"S{draw(st.integers(0, 12))}"
        strat = f"k{draw(st.integers(0, 4))}"
        e = trade(draw(st.integers(-5, 5)) * 1.0, symbol=sym, strategy=strat)
        out.append(line(e if draw(st.booleans()) else {**order(symbol=sym), "strategy": strat}))
    return out


@given(many_groups(), st.integers(1, 8), st.lists(st.integers(1, 300), min_size=1, max_size=4))
@settings(max_examples=max(10, settings.default.max_examples // 2))
def test_engine_equals_the_oracle_under_a_group_limit(lines, limit, sizes):
    want = expectancy_surfaces(lines, windows=WINDOWS, generated_at=0.0, max_groups=limit)
    one = ExpectancyEngine(WINDOWS, max_groups=limit)
    for raw in lines:
        one.feed(raw)
    batched = ExpectancyEngine(WINDOWS, max_groups=limit)
    i = 0
    for n in sizes * (len(lines) // sum(sizes) + 1):
        batched.feed_many(lines[i : i + n])
        i += n
    for engine in (one, batched):
        assert_close(engine.document(generated_at=0.0), want)
    for windows in want["windows"].values():
        assert all(len(windows[d]) <= limit for d in ("symbols", "strategies"))


def test_parallel_parts_keep_the_group_limit(cfg, tmp_path):
    lines = [line(trade(1.0, symbol=f"S{i % 50}")) for i in range(3000)]
    log = tmp_path / "rm.jsonl"
    log.write_bytes(b"".join(x + b"\n" for x in lines))
    intel = msgspec.structs.replace(cfg.intel, max_groups=30)
    one = replay([log], intel, state_dir=tmp_path, jobs=1, publish=False)
    two = replay([log], intel, state_dir=tmp_path, jobs=2, publish=False, parallel_min_bytes=0)
    assert one.expectancy["inputs"]["reject_reasons"]["too_many_groups"] > 0
    assert two.expectancy["inputs"] == one.expectancy["inputs"]
    assert_close(two.expectancy["windows"], one.expectancy["windows"])
