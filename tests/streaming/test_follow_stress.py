"""The follower against a real concurrent rotator: a writer thread appends lines
(some written in two halves), rotates by rename several times between polls, writes
a few late lines into the rotated file before it reopens, and compresses ``.2``
progressively before removing it; the follower polls meanwhile, restarting from its
position now and then. Nothing is deleted unread, so every line must be delivered
exactly once, in order, whatever the interleaving."""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
import time
from pathlib import Path

import pytest

from streaming.follow import Follower
from streaming.identity import Position


def run(tmp_path: Path, seed: int, restarts: bool, rotations: int = 60) -> tuple[list, list]:
    rnd = random.Random(seed)
    p = tmp_path / "app.log"
    p.write_bytes(b"")
    written: list[bytes] = []
    done = threading.Event()
    errors: list[str] = []

    def shift() -> None:
        names = sorted(
            ((int(n.split(".")[2]), n) for n in os.listdir(tmp_path) if n.startswith("app.log.")),
            reverse=True,
        )
        for k, n in names:
            os.rename(tmp_path / n, tmp_path / n.replace(f".log.{k}", f".log.{k + 1}"))

    def line(i: int) -> bytes:
        return b'{"id":%d,"pad":"%s"}\n' % (i, b"x" * rnd.randint(0, 80))

    def writer() -> None:
        try:
            i = 0
            fh = open(p, "ab", buffering=0)  # noqa: SIM115 - reopened on rotation
            for _ in range(rotations):
                for _ in range(rnd.randint(0, 25)):
                    b = line(i)
                    i += 1
                    written.append(b.rstrip(b"\n"))
                    if rnd.random() < 0.3:
                        k = rnd.randint(1, len(b) - 1)
                        fh.write(b[:k])
                        time.sleep(rnd.random() * 0.001)
                        fh.write(b[k:])
                    else:
                        fh.write(b)
                shift()
                os.rename(p, tmp_path / "app.log.1")
                p.write_bytes(b"")
                for _ in range(rnd.randint(0, 2)):  # late lines before the reopen
                    b = line(i)
                    i += 1
                    written.append(b.rstrip(b"\n"))
                    fh.write(b)
                fh.close()
                fh = open(p, "ab", buffering=0)  # noqa: SIM115
                two = tmp_path / "app.log.2"
                if two.exists() and rnd.random() < 0.6:
                    z = gzip.compress(two.read_bytes())
                    with open(tmp_path / "app.log.2.gz", "wb", buffering=0) as g:
                        for j in range(0, len(z), 200):
                            g.write(z[j : j + 200])
                            time.sleep(0.0002)
                    two.unlink()
                time.sleep(rnd.random() * 0.005)
            fh.close()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))
        finally:
            done.set()

    got: list[bytes] = []
    follower = Follower(p)

    def drain() -> None:
        while True:
            batch = follower.poll()
            assert not batch.gaps, batch.gaps
            got.extend(bytes(f) for f in batch.frames)
            if not batch.more:
                return

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        drain()
        if restarts and rnd.random() < 0.1:
            position = Position.from_state(json.loads(json.dumps(follower.position.to_state())))
            follower.close()
            follower = Follower(p, position)
        time.sleep(rnd.random() * 0.003)
    thread.join()
    drain()
    drain()
    follower.close()
    assert not errors, errors
    return written, got


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("restarts", [False, True])
def test_concurrent_rotation_delivers_every_line_once_in_order(tmp_path, seed, restarts):
    written, got = run(tmp_path, seed, restarts)
    assert got == written, (len(got), len(written))
