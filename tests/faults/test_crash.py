"""Crash equivalence: ``follow`` as a real process on a growing log, killed with
SIGKILL again and again — at random moments and at every step of a checkpoint
write — and restarted each time, ends with the documents of ``replay`` over the
whole log: no event lost, none counted twice.

``EI_SOAK=1`` runs 100 trials instead of 20.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.generate import events
from execution.config import load_config
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE
from tests.intel.builders import assert_close, without_wall_time
from tests.support import CONFIG_DIR, ROOT

TRIALS = 100 if os.environ.get("EI_SOAK") else 20
CRASH_POINTS = [
    "checkpoint.written",
    "checkpoint.synced",
    "checkpoint.previous_kept",
    "checkpoint.replaced",
    "publish.between_documents",
]


def start(log: Path, state: Path, crash_at: str | None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STREAMING_CRASH_AT", None)
    if crash_at:
        env["STREAMING_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "follow", str(log), "--state-dir", str(state),
         "--interval", "0.02"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def published_lines(state: Path) -> int:
    try:
        inputs = json.loads((state / EXPECTANCY_FILE).read_text())["inputs"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return -1
    return int(inputs["events"] + inputs["rejected"] + inputs["skipped"])


def test_kill_minus_nine_anywhere_then_restart_equals_replay(tmp_path):
    rng = random.Random(2026)
    data = "".join(line + "\n" for line in events(6_000, seed=11, per_day=40_000)).encode()
    total_lines = data.count(b"\n")
    log, state = tmp_path / "router_metrics.jsonl", tmp_path / "state"
    log.write_bytes(b"")
    written = 0
    outcomes = {"killed": 0, "crash_point": 0}
    for trial in range(TRIALS):
        crash_at = None
        if trial % 2:
            crash_at = f"{CRASH_POINTS[trial // 2 % len(CRASH_POINTS)]}:{rng.randint(1, 3)}"
        proc = start(log, state, crash_at)
        try:
            for _ in range(rng.randint(1, 3)):
                # the writer appends a chunk cut anywhere, partial lines included
                step = rng.randint(0, len(data) // (TRIALS * 2))
                with open(log, "ab") as fh:
                    fh.write(data[written : written + step])
                written = min(len(data), written + step)
                time.sleep(rng.uniform(0.05, 0.6))
        finally:
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, err
        assert "Traceback" not in err, err
        outcomes["crash_point" if crash_at else "killed"] += 1

    with open(log, "ab") as fh:
        fh.write(data[written:])
    (state / EXPECTANCY_FILE).unlink(missing_ok=True)  # wait for this process's own publish
    proc = start(log, state, None)
    try:
        deadline = time.monotonic() + 120
        while published_lines(state) != total_lines and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err

    cfg = load_config(CONFIG_DIR).intel
    want = replay([log], cfg, state_dir=tmp_path / "replayed", publish=False)
    got = json.loads((state / EXPECTANCY_FILE).read_text())
    assert got["inputs"] == want.expectancy["inputs"]  # nothing lost, nothing twice
    assert_close(without_wall_time(got), without_wall_time(want.expectancy))
    scores = json.loads((state / SCORES_FILE).read_text())
    assert_close(without_wall_time(scores), without_wall_time(want.scores))
    assert sum(outcomes.values()) == TRIALS
