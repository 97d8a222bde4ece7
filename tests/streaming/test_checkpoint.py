"""Checkpoints survive torn and corrupt writes: the previous generation is used, or the
store refuses to start; never a silent start from zero."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streaming.checkpoint import (
    CheckpointError,
    CheckpointStore,
    decode_checkpoint,
    encode_checkpoint,
)

payloads = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(payloads, st.integers(0, 2**40))
def test_encoding_round_trips(payload, seq):
    assert decode_checkpoint(encode_checkpoint(payload, seq)) == (payload, seq)


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_non_finite_state_is_refused_not_written_as_null(bad):
    with pytest.raises(ValueError, match="non-finite"):
        encode_checkpoint({"x": [1.0, bad]}, 1)


def test_generations_and_sequence(tmp_path):
    store = CheckpointStore(tmp_path / "c.ckpt")
    for i in range(3):
        store.save({"i": i})
    loaded = CheckpointStore(tmp_path / "c.ckpt").load()
    assert (loaded.payload, loaded.seq, loaded.generation) == ({"i": 2}, 3, "current")
    assert decode_checkpoint(store.prev.read_bytes()) == ({"i": 1}, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ckpt", "c.ckpt.prev"]


def test_torn_at_every_byte_falls_back_to_the_previous_generation(tmp_path):
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"n": 1, "pos": [1, 2, 3]})
    store.save({"n": 2, "pos": [4, 5, 6], "pad": "x" * 50})
    full = store.path.read_bytes()
    for cut in range(len(full)):
        store.path.write_bytes(full[:cut])
        loaded = CheckpointStore(store.path).load()
        assert loaded.generation == "previous", cut
        assert loaded.payload == {"n": 1, "pos": [1, 2, 3]}
        assert loaded.problem


def test_flipped_bytes_fall_back_or_refuse(tmp_path):
    rng = random.Random(7)
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"n": 1})
    store.save({"n": 2, "data": list(range(20))})
    full = store.path.read_bytes()
    prev = store.prev.read_bytes()
    for _ in range(300):
        bad = bytearray(full)
        for _ in range(rng.randint(1, 3)):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        store.path.write_bytes(bytes(bad))
        loaded = CheckpointStore(store.path).load()
        assert loaded.payload in ({"n": 1}, {"n": 2, "data": list(range(20))})
        if loaded.payload == {"n": 1}:
            assert loaded.generation == "previous"
    # both generations corrupt: refuse, with a clear message
    store.path.write_bytes(full[:10])
    store.prev.write_bytes(prev[:-1])
    with pytest.raises(CheckpointError, match="refusing to start from zero"):
        CheckpointStore(store.path).load()


def test_only_previous_generation_left(tmp_path):
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"n": 1})
    store.save({"n": 2})
    store.path.unlink()  # a crash between link and replace leaves both; this is worse
    assert CheckpointStore(store.path).load().payload == {"n": 1}


def test_unknown_version_is_refused(tmp_path):
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"n": 1})
    store.path.write_bytes(store.path.read_bytes().replace(b'"version":1', b'"version":9'))
    store.prev.unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="unsupported checkpoint version 9"):
        store.load()


def test_sequence_continues_after_reopen(tmp_path):
    CheckpointStore(tmp_path / "c.ckpt").save({"a": 1})
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"a": 2})
    assert store.load().seq == 2
