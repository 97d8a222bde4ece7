"""The decoder turns every line into a record, a reject with its reason, or a skip."""

from __future__ import annotations

import math
import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.decode import REJECT_REASONS, LineDecoder, Reject, Skip
from streaming.recent_ids import RecentIds


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


lines_of_every_kind = st.lists(
    st.one_of(
        st.builds(
            lambda k, i, v: f'{{"kind":"{k}","id":"{i}","value":{v}}}'.encode(),
            st.sampled_from(["item", "other", "pong"]),
            st.sampled_from("abcdef"),
            st.sampled_from(["1", "2.5", "NaN", "1e999", '"x"']),
        ),
        st.sampled_from([b"not json", b"[1]", b'{"kind":"item"}', b"\xff", b""]),
    ),
    max_size=60,
)


@given(lines_of_every_kind, st.integers(1, 8), st.lists(st.integers(1, 20), max_size=5))
def test_decode_many_equals_decode_line_by_line(lines, horizon, sizes):
    """In any batching, the same records in order, the same outcomes (as a multiset),
    and the same id horizon afterwards."""
    one, many = decoder(horizon), decoder(horizon)
    want_records, want_outcomes = [], []
    for ln in lines:
        out = one.decode(ln)
        (want_outcomes if isinstance(out, Reject | Skip) else want_records).append(out)
    got_records, got_outcomes = [], []
    i = 0
    for n in sizes or [len(lines) or 1]:
        records, outcomes = many.decode_many(lines[i : i + n])
        got_records += records
        got_outcomes += outcomes
        i += n
    records, outcomes = many.decode_many(lines[i:])
    got_records += records
    got_outcomes += outcomes
    assert got_records == want_records
    assert sorted(got_outcomes) == sorted(want_outcomes)
    assert many.recent.to_state() == one.recent.to_state()


@given(
    st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=12), max_size=6),
    st.integers(1, 8),
)
def test_add_many_equals_add_one_at_a_time(batches, horizon):
    """The positions of the duplicates and the state afterwards are those of ``add``
    on each key, whether a batch takes the set path or the loop."""
    one, many = RecentIds(horizon), RecentIds(horizon)
    for keys in batches:
        assert_add_many_is_add(one, many, keys)


def assert_add_many_is_add(one: RecentIds, many: RecentIds, keys: list[str]) -> None:
    """``many.add_many(keys)`` reports the positions where ``one.add`` would find a
    key held, and leaves the state ``one`` reaches."""
    want = []
    for i, key in enumerate(keys):
        if key in one:
            want.append(i)
        else:
            one.add(key)
    assert many.add_many(keys) == want
    assert many.to_state() == one.to_state()


def test_add_many_of_new_distinct_keys_keeps_the_horizon():
    r = RecentIds(3, ["a", "b"])
    assert r.add_many(["c", "d", "e"]) == []
    assert list(r) == ["c", "d", "e"] and "a" not in r and "b" not in r


@given(
    st.lists(st.sampled_from("abcdefghij"), max_size=15),
    st.lists(st.sampled_from("abcdefghij"), max_size=15),
    st.integers(1, 8),
)
def test_recent_ids_merge_is_adding_the_others_in_order(first, second, horizon):
    """Merging the horizon of a later stream equals one stream of both, when the
    later one re-adds an id at its later place (a model list)."""
    a, b = RecentIds(horizon, first), RecentIds(horizon, second)
    model = list(a)
    for key in b:
        if key in model:
            model.remove(key)
        model.append(key)
    a.merge(b)
    assert list(a) == model[-horizon:]
    assert all(k in a for k in model[-horizon:]) and len(a) == len(model[-horizon:])


@pytest.mark.parametrize("seed", range(4))
def test_add_many_equals_add_with_repeats_and_ids_that_age_out_and_return(seed):
    """Long batches over few keys and small horizons, so keys repeat within a batch,
    age out and come back within it: the same duplicates and state as ``add``."""
    rng = random.Random(seed)
    for _ in range(500):
        horizon = rng.randint(1, 10)
        start = [rng.choice("abcdefghijklmno") for _ in range(rng.randint(0, 15))]
        one, many = RecentIds(horizon, start), RecentIds(horizon, start)
        for _ in range(rng.randint(1, 4)):
            keys = [rng.choice("abcdefghijklmno") for _ in range(rng.randint(0, 30))]
            assert_add_many_is_add(one, many, keys)
            assert all(k in many for k in one) and len(many) == len(one)
