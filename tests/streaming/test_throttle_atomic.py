"""The throttle follows its injected clock; atomic writes are never seen half done."""

from __future__ import annotations

import json
import threading

from streaming.atomic import atomic_write_bytes
from streaming.throttle import Throttle


def test_throttle_fires_once_per_interval():
    now = [0.0]
    t = Throttle(2.0, clock=lambda: now[0])
    fired = []
    for step in range(21):
        now[0] = step * 0.5
        if t.due():
            fired.append(now[0])
    assert fired == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert t.remaining() == 2.0


def test_zero_interval_always_fires():
    t = Throttle(0.0, clock=lambda: 1.0)
    assert t.due() and t.due()


def test_concurrent_reader_never_sees_a_partial_file(tmp_path):
    """A reader polling during 500 replacements of a 200 kB document never reads a torn one."""
    path = tmp_path / "state.json"
    atomic_write_bytes(path, json.dumps({"v": -1, "pad": ""}).encode())
    stop = threading.Event()
    reads, bad = [0], []

    def reader():
        while not stop.is_set():
            raw = path.read_bytes()
            try:
                doc = json.loads(raw)
                if len(doc["pad"]) != (0 if doc["v"] < 0 else 200_000):
                    bad.append(doc["v"])
            except ValueError:
                bad.append(raw[:40])
            reads[0] += 1

    t = threading.Thread(target=reader)
    t.start()
    try:
        for v in range(500):
            atomic_write_bytes(
                path, json.dumps({"v": v, "pad": "x" * 200_000}).encode(), fsync=False
            )
    finally:
        stop.set()
        t.join()
    assert bad == []
    assert reads[0] > 100
    assert not [p for p in tmp_path.iterdir() if p.name != "state.json"]  # no temp files left
