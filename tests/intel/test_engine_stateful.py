"""The engine under any order of feed, batch feed, checkpoint and restore, merge and
read equals a batch recomputation over every line so far, after every step."""

from __future__ import annotations

import json

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from execution.intel.expectancy_v6 import ExpectancyEngine
from tests.intel.builders import BAD_LINES, T0, assert_close, good_event, line
from tests.intel.oracle import expectancy_surfaces

WINDOWS = ("all", "3t", "1h")
HORIZON = 8
LIMIT = 4  # max_groups: small enough to be reached
SOURCE = "logs/exec-a/router_metrics.jsonl"  # the executor of events that name none


@st.composite
def next_lines(draw: st.DrawFn, start: int, ts: float, seen: list[bytes]) -> list[bytes]:
    out = []
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.integers(0, 7))
        if kind == 0:
            out.append(draw(st.sampled_from(BAD_LINES)))
        elif kind == 1 and seen:
            out.append(draw(st.sampled_from(seen)))  # a duplicate, maybe beyond the horizon
        else:
            ts += draw(st.sampled_from([0.0, 600.0, 3600.0, -1800.0]))
            e = draw(good_event(start + i, ts))
            if draw(st.integers(0, 4)) == 0:
                e["symbol"] = f"X{draw(st.integers(0, 5))}"  # more groups than the limit
            out.append(line(e))
    return out


def fresh() -> ExpectancyEngine:
    return ExpectancyEngine(WINDOWS, scratch_epsilon_r=0.05, dedup_horizon=HORIZON,
                            max_groups=LIMIT, source=SOURCE)  # fmt: skip


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = fresh()
        self.lines: list[bytes] = []
        self.ts = T0

    def _next(self, data: st.DataObject) -> list[bytes]:
        batch = data.draw(next_lines(len(self.lines) * 10, self.ts, self.lines))
        self.ts += 3600.0
        self.lines += batch
        return batch

    @rule(data=st.data())
    def feed_one_at_a_time(self, data: st.DataObject) -> None:
        for raw in self._next(data):
            self.engine.feed(raw)

    @rule(data=st.data())
    def feed_many(self, data: st.DataObject) -> None:
        self.engine.feed_many(self._next(data))

    @rule()
    def checkpoint_and_restore(self) -> None:
        state = json.loads(json.dumps(self.engine.to_state(), allow_nan=False))
        self.engine = fresh()
        self.engine.restore(state)

    @rule(data=st.data())
    def merge_an_engine_fed_the_next_lines(self, data: st.DataObject) -> None:
        """As a parallel replay does: merged when its first ids meet none of the
        recent ones and its groups fit, else its lines are fed in order."""
        batch = self._next(data)
        other = fresh()
        other.feed_many(batch)
        head = [k for k in other.recent_ids][:HORIZON]
        if self.engine.recent_ids.isdisjoint(head) and self.engine.mergeable(other):
            self.engine.merge(other)
        else:
            self.engine.feed_many(batch)

    @rule()
    def read(self) -> None:
        before = self.engine.to_state()
        self.engine.document(generated_at=0.0)
        repr(self.engine)
        assert self.engine.to_state() == before

    @invariant()
    def equals_batch(self) -> None:
        want = expectancy_surfaces(
            self.lines, windows=WINDOWS, scratch_epsilon_r=0.05, generated_at=0.0,
            dedup_horizon=HORIZON, max_groups=LIMIT, source=SOURCE,
        )  # fmt: skip
        assert_close(self.engine.document(generated_at=0.0), want)


EngineMachine.TestCase.settings = settings(
    max_examples=max(10, settings.default.max_examples // 3), stateful_step_count=12
)
TestEngine = EngineMachine.TestCase
