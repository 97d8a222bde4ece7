"""Crash safety of the history (docs/history.md).

* A writer killed with SIGKILL anywhere in an append or a compaction — at every
  crash point inside the transaction and after it, and at random moments — leaves
  a store in which every bucket is whole (all its records or none), none is
  there twice, retention holds, and a restarted writer completes it; a reader
  running beside the writer never sees a torn bucket.
* ``follow`` killed again and again (at random moments and inside checkpoint and
  history writes) and restarted stores the history of a replay of the whole log:
  no snapshot lost, none twice, the same figures.

``EI_SOAK=1`` runs more trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec

from benchmarks.generate import events
from execution.config import load_config
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE
from tests.support import CONFIG_DIR, ROOT

SOAK = bool(os.environ.get("EI_SOAK"))
SYMBOLS, BUCKETS, KEEP = 300, 60, 25

WRITER = textwrap.dedent(
    f"""
    import sys
    from execution.intel.history import FUND_FIELDS, SYMBOL_FIELDS, Snapshot
    from execution.intel.history_store import HistoryStore

    def snap(b):
        recs = [{{"bucket": b, "window": "all", "symbol": f"S{{i:03d}}",
                  **{{k: float(b + i) for k in SYMBOL_FIELDS}}}} for i in range({SYMBOLS})]
        fund = [{{"bucket": b, "window": "all", **{{k: float(b) for k in FUND_FIELDS}}}}]
        return Snapshot(b, float(b), recs, fund)

    with HistoryStore(sys.argv[1], cadence_s=1, max_buckets={KEEP}) as store:
        for b in range({BUCKETS}):
            store.append([snap(b)])
            if b % 7 == 6:
                store.compact()
    """
)
STORE_POINTS = ["history.inserted", "history.retained", "history.committed", "history.vacuumed"]


def check_whole(path: Path) -> list[int]:
    """Every bucket whole and once, in one read transaction; the buckets."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        db.execute("BEGIN")
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
        buckets = dict(db.execute("SELECT bucket, symbols FROM buckets"))
        per = dict(db.execute("SELECT bucket, count(*) FROM symbols GROUP BY bucket"))
        fund = dict(db.execute("SELECT bucket, count(*) FROM fund GROUP BY bucket"))
        db.execute("COMMIT")
    finally:
        db.close()
    assert per == buckets and fund == dict.fromkeys(buckets, 1), (per, buckets)
    return sorted(buckets)


def run_writer(path: Path, crash_at: str | None, kill_after: float | None) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMING_CRASH_AT", None)
    if crash_at:
        env["STREAMING_CRASH_AT"] = crash_at
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], cwd=ROOT, env=env,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err, err
    return proc.returncode


def test_a_killed_writer_leaves_whole_buckets_and_a_restart_completes_them(tmp_path):
    """Each trial kills a writer on a fresh store — at a named point inside an append
    or a compaction, or at a random moment of its run — then checks that only whole
    buckets are there, within retention, and that a restart completes the store."""
    rng = random.Random(18)
    trials = 24 if SOAK else 8
    # the timed kills fall inside a writer's run on this machine, however fast
    began = time.monotonic()
    assert run_writer(tmp_path / "probe.sqlite", None, None) == 0
    whole = time.monotonic() - began
    killed = 0
    for trial in range(trials):
        path = tmp_path / f"history-{trial}.sqlite"
        if trial % 2 == 0:
            point = STORE_POINTS[trial // 2 % len(STORE_POINTS)]
            code = run_writer(path, f"{point}:{rng.randint(1, 20)}", None)
        else:
            code = run_writer(path, None, rng.uniform(0.5, 0.95) * whole)
        killed += code == -signal.SIGKILL
        if path.exists():
            kept = check_whole(path)
            assert len(kept) <= KEEP
        assert run_writer(path, None, None) == 0
        assert check_whole(path) == list(range(BUCKETS - KEEP, BUCKETS))
    assert killed >= trials // 2


def test_a_reader_beside_the_writer_never_sees_a_torn_bucket(tmp_path):
    path = tmp_path / "history.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMING_CRASH_AT", None)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, env=env)
    reads = 0
    try:
        while proc.poll() is None:
            if path.exists():
                try:
                    check_whole(path)
                    reads += 1
                except sqlite3.OperationalError:  # the file exists before its tables
                    pass
            time.sleep(0.01)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and reads > 3
    assert check_whole(path) == list(range(BUCKETS - KEEP, BUCKETS))


FOLLOW_POINTS = ["checkpoint.written", "checkpoint.replaced", "history.inserted",
                 "history.committed"]  # fmt: skip


def start_follow(log: Path, state: Path, cfg: Path, crash_at: str | None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMING_CRASH_AT", None)
    if crash_at:
        env["STREAMING_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "follow", str(log), "--state-dir", str(state),
         "--config", str(cfg), "--interval", "0.02"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def dump(path: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    try:
        return [
            *db.execute("SELECT * FROM buckets ORDER BY bucket"),
            *db.execute("SELECT * FROM symbols ORDER BY symbol, window, bucket"),
            *db.execute("SELECT * FROM fund ORDER BY window, bucket"),
        ]
    finally:
        db.close()


def test_follow_killed_and_restarted_stores_the_history_of_a_replay(tmp_path):
    rng = random.Random(2718)
    trials = 40 if SOAK else 20
    base = load_config(CONFIG_DIR).intel
    cfg = msgspec.structs.replace(
        base, history=msgspec.structs.replace(base.history, cadence_s=300, windows=["all", "50t"])
    )
    cfg_file = tmp_path / "intel.json"
    cfg_file.write_bytes(msgspec.json.encode(cfg))
    data = "".join(line + "\n" for line in events(5_000, seed=5, per_day=30_000)).encode()
    total_lines = data.count(b"\n")
    log, state = tmp_path / "router_metrics.jsonl", tmp_path / "state"
    log.write_bytes(b"")
    written = 0
    for trial in range(trials):
        crash_at = None
        if trial % 2:
            crash_at = f"{FOLLOW_POINTS[trial // 2 % len(FOLLOW_POINTS)]}:{rng.randint(1, 3)}"
        proc = start_follow(log, state, cfg_file, crash_at)
        try:
            step = rng.randint(0, len(data) // trials)
            with open(log, "ab") as fh:
                fh.write(data[written : written + step])  # cut anywhere, partial lines too
            written = min(len(data), written + step)
            time.sleep(rng.uniform(0.3, 1.0))
        finally:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        assert "Traceback" not in err, err
    with open(log, "ab") as fh:
        fh.write(data[written:])
    (state / EXPECTANCY_FILE).unlink(missing_ok=True)
    proc = start_follow(log, state, cfg_file, None)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                inputs = json.loads((state / EXPECTANCY_FILE).read_text())["inputs"]
                if inputs["events"] + inputs["rejected"] + inputs["skipped"] == total_lines:
                    break
            except (FileNotFoundError, json.JSONDecodeError, KeyError):
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err

    want = replay([log], cfg, state_dir=tmp_path / "replayed", history=True, publish=False)
    assert want.snapshots and want.snapshots > 30
    name = cfg.history.file
    assert dump(state / name) == dump(tmp_path / "replayed" / name)
