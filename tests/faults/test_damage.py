"""Damage from outside: torn and corrupted checkpoints, hostile input, readers racing
the publisher."""

from __future__ import annotations

import json
import random
import threading

import pytest

from benchmarks.generate import events
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.state_publish import EXPECTANCY_FILE, publish_intel
from streaming.checkpoint import CheckpointError, CheckpointStore
from streaming.framing import split_lines
from tests.intel.builders import assert_close
from tests.intel.oracle import expectancy_surfaces


def two_generations(tmp_path):
    store = CheckpointStore(tmp_path / "c.ckpt")
    store.save({"n": 1, "pad": "x" * 50})
    store.save({"n": 2, "pad": "y" * 50})
    return store


def test_a_torn_checkpoint_at_every_byte_falls_back_or_refuses(tmp_path):
    """Cut at every offset: the previous generation is used; with the previous also
    cut, loading refuses. Never a silent start from nothing."""
    store = two_generations(tmp_path)
    whole, prev = store.path.read_bytes(), store.prev.read_bytes()
    for cut in range(len(whole)):
        store.path.write_bytes(whole[:cut])
        store.prev.write_bytes(prev)
        loaded = CheckpointStore(store.path).load()
        assert loaded is not None and loaded.payload["n"] == 1, cut
        assert loaded.generation == "previous" and loaded.problem
        store.prev.write_bytes(prev[: cut % len(prev)])
        with pytest.raises(CheckpointError):
            CheckpointStore(store.path).load()


def test_flipped_bytes_are_caught(tmp_path):
    rng = random.Random(7)
    store = two_generations(tmp_path)
    whole, prev = store.path.read_bytes(), store.prev.read_bytes()
    for _ in range(500):
        damaged = bytearray(whole)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(damaged))
            damaged[i] ^= 1 << rng.randrange(8)
        if bytes(damaged) == whole:
            continue
        store.path.write_bytes(bytes(damaged))
        store.prev.write_bytes(prev)
        loaded = CheckpointStore(store.path).load()
        assert loaded is not None and loaded.payload["n"] == 1


def hostile(rng: random.Random, good: list[bytes]) -> bytes:
    g = rng.choice(good)
    kind = rng.randrange(11)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 80))).replace(b"\n", b"")
    if kind == 1:
        return g[:10] + b"\xff\xfe" + g[12:]  # invalid UTF-8
    if kind == 2:
        return g[: rng.randrange(1, len(g) - 1)]  # truncated
    if kind == 3:
        return g.replace(b'"ts":', b'"ts":"x","t":', 1)  # wrong type
    if kind == 4:
        return g.replace(b'"ts":', b'"ts":NaN,"t":', 1)
    if kind == 5:
        return g.replace(b'"ts":', b'"ts":Infinity,"t":', 1)
    if kind == 6:
        return g.replace(b'"ts":', b'"ts":1e999,"t":', 1)  # overflows to infinity
    if kind == 7:
        return b'{"event":"order","ts":1,"x":' + b"[" * 5000 + b"]" * 5000 + b"}"  # deep
    if kind == 8:
        return g  # a duplicate id
    if kind == 9:
        return b'{"event":"trade","ts":1,"symbol":"X","trade_id":"h","pnl_usd":1,"risk_usd":-5}'
    return b"12345"  # not an object


def test_a_hundred_thousand_hostile_lines_are_counted_and_good_lines_are_exact():
    rng = random.Random(3)
    good = [ln.encode() for ln in events(20_000, seed=5, bad=0)]
    mixed: list[bytes] = []
    for i, g in enumerate(good):
        mixed.append(g)  # hostile copies only of lines already written
        mixed.extend(hostile(rng, good[max(0, i - 50) : i + 1]) for _ in range(5))
    huge = b'{"event":"order","pad":"' + b"x" * (10 << 20) + b'"}'  # a 10 MB line
    mixed.insert(len(mixed) // 2, huge)
    assert len(mixed) - len(good) >= 100_000
    data = b"".join(ln + b"\n" for ln in mixed)
    frames, _, _ = split_lines(data, skipping=False, max_line_bytes=1 << 20)
    engine = ExpectancyEngine(("all", "50t", "7d"))
    for i in range(0, len(frames), 50_000):
        engine.feed_many(frames[i : i + 50_000])
    got = engine.document(generated_at=0.0)
    want = expectancy_surfaces(good, windows=("all", "50t", "7d"), generated_at=0.0)
    assert_close(got["windows"], want["windows"])
    inputs = got["inputs"]
    assert inputs["events"] == len(good)
    assert inputs["rejected"] + inputs["skipped"] == len(mixed) - len(good)
    reasons = {"over_long", "invalid_utf8", "not_json", "wrong_type", "non_finite", "too_deep",
               "duplicate_id", "invalid_value", "not_object"}  # fmt: skip
    assert reasons <= set(inputs["reject_reasons"])


def test_ten_thousand_reads_during_publishing_are_never_partial(tmp_path):
    engine = ExpectancyEngine(("all", "50t"))
    engine.feed_many([ln.encode() for ln in events(3_000, seed=2)])
    doc = engine.document()
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            publish_intel(tmp_path, {**doc, "generated_at": float(i)}, {"schema": "x", "n": i})

    writer = threading.Thread(target=publish)
    publish_intel(tmp_path, doc, {"schema": "x", "n": 0})
    writer.start()
    bad = 0
    try:
        for _ in range(10_000):
            try:
                json.loads((tmp_path / EXPECTANCY_FILE).read_bytes())
            except json.JSONDecodeError:
                bad += 1
    finally:
        stop.set()
        writer.join()
    assert bad == 0
