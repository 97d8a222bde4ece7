"""Liveness: follow's heartbeat line (events, rejects, lag in bytes and seconds) at
its interval, and replay's progress lines when stderr is not a terminal."""

from __future__ import annotations

import io
import logging

from execution.config import load_config
from execution.intel.cli_format import Progress
from execution.intel.follow_runner import FollowRunner
from tests.support import CONFIG_DIR

CFG = load_config(CONFIG_DIR).intel
LINE = b'{"event":"trade","ts":%d,"symbol":"X","trade_id":"t%d","pnl_usd":5,"risk_usd":10}\n'


def test_heartbeat_counts_events_rejects_and_lag(tmp_path, caplog):
    log = tmp_path / "m.jsonl"
    body = b"".join(LINE % (1000 + i, i) for i in range(30)) + b"not json\n"
    log.write_bytes(body)
    clock = [0.0]
    runner = FollowRunner(log, CFG, state_dir=tmp_path / "s", clock=lambda: clock[0],
                          wall=lambda: 1100.0,
                          heartbeat=10.0, history=False)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="intel"):
        runner.step()  # the file read, before the first interval: no line
        assert not [r for r in caplog.records if "heartbeat" in r.message]
        clock[0] = 10.0
        runner.step()
    beats = [r.message for r in caplog.records if r.message.startswith("heartbeat")]
    assert beats == [
        "heartbeat: 30 events, 1 rejected, 31 lines read this run; lag 0 bytes, event time "
        "71 s behind the clock; 1 publishes, 0 failed"
    ]
    runner.close()


def test_heartbeat_lag_is_what_is_not_read_yet(tmp_path):
    log = tmp_path / "m.jsonl"
    body = b"".join(LINE % (1000 + i, i) for i in range(40))
    log.write_bytes(body)
    runner = FollowRunner(log, CFG, state_dir=tmp_path / "s", max_poll_bytes=len(body) // 4,
                          wall=lambda: 1100.0, heartbeat=0, history=False)  # fmt: skip
    runner.poll()
    read = sum(f.offset for f in runner.follower.position.files)
    assert 0 < runner.lag_bytes() == len(body) - read
    while runner.poll():
        pass
    assert runner.lag_bytes() == 0
    assert "event time 61 s behind the clock" in runner.heartbeat_line()
    assert "40 events, 0 rejected" in runner.heartbeat_line()
    runner.close()


def test_progress_writes_lines_when_not_a_terminal():
    out = io.StringIO()
    progress = Progress(out, line_every=0.0, total_bytes=2_000_000)
    progress(1234)
    progress(5678)
    progress.done()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "5,678 lines of a 2.0 MB log" in lines[1]
    assert "\r" not in out.getvalue()
