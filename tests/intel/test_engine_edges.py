"""Edges an outside attack found, each held: group limits across a merge with pending
events, variance and drawdown whatever the chunking at large magnitudes, states of
another policy or damaged ones refused, and a time window's memory bounded by what
can still come into view."""

from __future__ import annotations

import json

import pytest

from execution.intel.document import DIMENSIONS
from execution.intel.expectancy_v6 import EngineStateError, ExpectancyEngine
from streaming.time_window import CHUNK
from tests.intel.builders import T0, assert_close, line, trade
from tests.intel.oracle import expectancy_surfaces as oracle


def trades_of(rs, symbol="A", start=0):
    return [
        line(trade(1.0, None, ts=T0 + i, trade_id=f"t{start + i}", symbol=symbol, r_multiple=r))
        for i, r in enumerate(rs)
    ]


def test_mergeable_counts_the_groups_of_pending_events():
    """Events still waiting to be folded open groups too: A, B pending and C do not
    fit under max_groups = 2."""
    first, second = ExpectancyEngine(["all"], max_groups=2), ExpectancyEngine(["all"], max_groups=2)
    first.feed_many([*trades_of([1.0], "A"), *trades_of([1.0], "B", 1)])
    second.feed_many(trades_of([1.0], "C", 2))
    assert not first.mergeable(second)


def _chunkings(lines):
    """The same lines as one block, as two merged engines, and one event per read."""
    one = ExpectancyEngine(["all"])
    one.feed_many(lines)
    a, b = ExpectancyEngine(["all"]), ExpectancyEngine(["all"])
    a.feed_many(lines[: len(lines) // 2])
    b.feed_many(lines[len(lines) // 2 :])
    a.merge(b)
    each = ExpectancyEngine(["all"])
    for ln in lines:
        each.feed(ln)
        each.document(generated_at=0.0)
    return [e.document(generated_at=0.0) for e in (one, a, each)]


def test_variance_of_large_r_does_not_depend_on_the_chunking():
    """R near 1e12 with a spread of about 1: r_std and sqn equal the oracle's in one
    block, in merged parts and one event at a time."""
    lines = trades_of([9.99e11 + 0.37 * (i % 7) + (2.0 if i >= 10 else 0.0) for i in range(20)])
    want = oracle(lines, windows=["all"], generated_at=0.0)
    for doc in _chunkings(lines):
        assert_close(doc, want)


def test_a_path_that_never_falls_has_no_drawdown_in_any_chunking():
    """Only rising steps: max_drawdown_r is exactly 0 and dd_expectancy is avg_r."""
    lines = trades_of([5e11 + 0.74, 9.99e11 + 1.11, 9.99e11 + 0.37, 5e11, 3.0, 1e12])
    for doc in _chunkings(lines):
        g = doc["windows"]["all"]["symbols"]["A"]
        assert g["max_drawdown_r"] == 0.0
        assert g["dd_expectancy"] == g["avg_r"]


@pytest.mark.parametrize(
    ("saved", "mine"),
    [
        ({"dedup_horizon": 4}, {}),
        ({"max_groups": 3}, {"max_groups": 2}),
        ({}, {"scratch_epsilon_r": 0.1}),
    ],
)
def test_a_state_of_another_policy_is_refused(saved, mine):
    """dedup_horizon, max_groups and scratch_epsilon_r shape the state: a state saved
    under other values is refused, not continued under the wrong rule."""
    e = ExpectancyEngine(["all"], **saved)
    e.feed_many(trades_of([1.0, 2.0]))
    with pytest.raises(EngineStateError, match="policy"):
        ExpectancyEngine(["all"], **mine).restore(json.loads(json.dumps(e.to_state())))


def _damaged(state, how):
    s = json.loads(json.dumps(state))
    if how == "codes beyond the groups":
        s["surfaces"][1]["trades"]["codes"] = [99] * len(s["surfaces"][1]["trades"]["codes"])
    elif how == "a column cut short":
        s["surfaces"][2]["trades"]["columns"]["pnl"]["values"].pop()
    elif how == "a count negative":
        s["inputs"]["trades"] = -5
    elif how == "a string for a number":
        s["surfaces"][0]["trades"]["table"]["columns"]["pnl.hi"][0] = "1e3"
    elif how == "a group id twice":
        s["groups"]["ids"][0] = [0] * len(s["groups"]["ids"][0])
    elif how == "events beyond the watermark":
        s["inputs"]["watermark"] = T0 - 1e6
    elif how == "surfaces missing":
        del s["surfaces"]
    return s


@pytest.mark.parametrize(
    "how",
    ["codes beyond the groups", "a column cut short", "a count negative", "a string for a number",
     "a group id twice", "events beyond the watermark", "surfaces missing"],
)  # fmt: skip
def test_a_damaged_state_is_refused_and_the_engine_kept(how):
    """A state that does not hold together is an EngineStateError, never a wrong
    document later; the engine it was restored into is unchanged."""
    windows = ["all", "3t", "1h"]
    source = ExpectancyEngine(windows)
    source.feed_many(trades_of([1.0, -2.0, 0.5, 3.0]) + trades_of([1.0], "B", 10))
    target = ExpectancyEngine(windows)
    target.feed_many(trades_of([7.0], "Z", 50))
    before = target.document(generated_at=0.0)
    with pytest.raises(EngineStateError, match="damaged"):
        target.restore(_damaged(source.to_state(), how))
    assert target.document(generated_at=0.0) == before


def test_an_in_view_event_first_does_not_pin_the_aged_events_behind_it():
    """One recent event, then many that can never be in view: the time window holds
    about what can still come into view, not the whole log."""
    late = [
        line(trade(1.0, ts=T0 - 30 * 86400.0 + i * 1e-3, trade_id=f"l{i}", symbol=f"S{i % 20}"))
        for i in range(60_000)
    ]
    e = ExpectancyEngine(["7d"])
    for k in range(0, 60_001, 8192):
        e.feed_many([line(trade(1.0, ts=T0, trade_id="recent", symbol="A")), *late][k : k + 8192])
    assert e.document(generated_at=0.0)["windows"]["7d"]["symbols"]["A"]["trades"] == 1
    # the chunks of the recent event's block (each event once per grouping)
    assert e._sides[0][0].held() <= -(-len(DIMENSIONS) * 8192 // CHUNK) * CHUNK
