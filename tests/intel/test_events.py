"""The input contract's readers: batch ids agree with one-at-a-time ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from execution.intel.events import Event, Order, Trade, event_id, event_ids

ids = st.text(min_size=1, max_size=4)
events = st.lists(
    st.one_of(
        st.builds(lambda i: Order(ts=1.0, symbol="X", order_id=i), ids),
        st.builds(lambda i: Trade(ts=1.0, symbol="X", trade_id=i, pnl_usd=0.0), ids),
    ),
    max_size=30,
)


@given(events)
def test_event_ids_in_bulk_equal_event_id_of_each(evs: list[Event]) -> None:
    """Orders and trades keep apart ids that are the same string."""
    assert event_ids(evs) == [event_id(e) for e in evs]
