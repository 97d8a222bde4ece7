"""The decoder turns every line into a record, a reject with its reason, or a skip."""

from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.decode import REJECT_REASONS, LineDecoder, RecentIds, Reject, Skip


class Item(msgspec.Struct, tag_field="kind", tag="item"):
    id: str
    value: float
    note: str = ""

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ValueError("non-finite number")


class Other(msgspec.Struct, tag_field="kind", tag="other"):
    id: str


def decoder(horizon=100):
    return LineDecoder(
        Item | Other,
        tag_field="kind",
        id_of=lambda r: f"{type(r).__name__}:{r.id}",
        dedup_horizon=horizon,
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json", "not_json"),
        (b'{"kind":"item","id":"a","value":1', "not_json"),
        (b"", "not_json"),
        (b'{"kind":"item","id":"a","value":1} tail', "not_json"),
        (b"[1, 2]", "not_object"),
        (b'"text"', "not_object"),
        (b"42", "not_object"),
        (b'{"id":"a","value":1}', "missing_field"),
        (b'{"kind":"item","value":1}', "missing_field"),
        (b'{"kind":"item","id":"a","value":"1"}', "wrong_type"),
        (b'{"kind":"item","id":7,"value":1}', "wrong_type"),
        (b'{"kind":"item","id":"a","value":true}', "wrong_type"),
        (b'{"kind":3,"id":"a"}', "wrong_type"),
        (b'{"kind":"item","id":"a","value":NaN}', "non_finite"),
        (b'{"kind":"item","id":"a","value":-Infinity}', "non_finite"),
        (b'{"kind":"item","id":"a","value":1e999}', "non_finite"),
        (b'{"kind":"item","id":"\xff","value":1}', "invalid_utf8"),
        (b'{"kind":"item","id":"a","value":1,"x":' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deep"),
    ],
)
def test_each_bad_line_gets_its_reason(line, reason):
    out = decoder().decode(line)
    assert isinstance(out, Reject), out
    assert out.reason == reason
    assert out.reason in REJECT_REASONS


def test_unknown_tag_is_skipped_not_rejected():
    out = decoder().decode(b'{"kind":"heartbeat","id":"a"}')
    assert isinstance(out, Skip) and out.reason == "unknown_tag"


def test_string_nan_is_not_a_non_finite_number():
    out = decoder().decode(b'{"kind":"item","id":"NaN","value":"NaN"}')
    assert isinstance(out, Reject) and out.reason == "wrong_type"


def test_extra_fields_are_ignored():
    assert decoder().decode(b'{"kind":"item","id":"a","value":2,"zzz":[1]}') == Item("a", 2.0)


def test_duplicates_within_the_horizon_are_rejected_per_kind():
    d = decoder(horizon=2)
    assert d.decode(b'{"kind":"item","id":"a","value":1}') == Item("a", 1.0)
    assert d.decode(b'{"kind":"other","id":"a"}') == Other("a")  # another kind, another id space
    assert d.decode(b'{"kind":"item","id":"a","value":1}').reason == "duplicate_id"
    d.decode(b'{"kind":"item","id":"b","value":1}')
    d.decode(b'{"kind":"item","id":"c","value":1}')
    assert d.decode(b'{"kind":"item","id":"a","value":1}') == Item("a", 1.0)  # aged out


def test_rejected_lines_do_not_enter_the_id_horizon():
    d = decoder()
    d.decode(b'{"kind":"item","id":"a","value":"bad"}')
    assert d.decode(b'{"kind":"item","id":"a","value":1}') == Item("a", 1.0)


@given(st.lists(st.text(max_size=3), max_size=50), st.integers(1, 10))
def test_recent_ids_hold_exactly_the_last_horizon(ids, horizon):
    """A first-in first-out set of at most ``horizon`` distinct ids."""
    r = RecentIds(horizon)
    model: list[str] = []
    for key in ids:
        r.add(key)
        if key not in model:
            model.append(key)
            model = model[-horizon:]
    assert {k for k in set(ids) if k in r} == set(model)
    assert RecentIds.from_state(r.to_state()).to_state() == r.to_state()


@given(st.binary(max_size=200))
def test_random_bytes_never_raise(data):
    out = decoder().decode(data)
    assert isinstance(out, Item | Other | Reject | Skip)
