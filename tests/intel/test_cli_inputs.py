"""The command line refuses what it cannot read, in one line with exit status 2:
odd file types, broken ``.gz``, a state directory that is a file or in use, bad
option values; and ``follow`` stops within a poll interval on SIGTERM."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from execution.state_publish import SCORES_FILE
from streaming.checkpoint import CheckpointStore
from tests.intel.builders import line, trade
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execution.intel", *args],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=ENV,
    )  # fmt: skip


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "execution.intel", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip


def assert_one_line_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def small_log(path: Path, n: int = 20) -> Path:
    path.write_bytes(b"".join(line(trade(1.0, ts=1e9 + i)) + b"\n" for i in range(n)))
    return path


@contextlib.contextmanager
def following(log: Path, state: Path) -> Iterator[subprocess.Popen[str]]:
    """``follow`` running on ``log`` once it has published; killed -9 afterwards."""
    proc = start("follow", str(log), "--state-dir", str(state), "--interval", "0.1")
    try:
        deadline = time.monotonic() + 30
        while not (state / SCORES_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield proc
    finally:
        proc.kill()  # kill -9: its lock file stays behind
        proc.wait(timeout=10)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "fifo.jsonl"
    os.mkfifo(p)
    return p


class TestOddFiles:
    @pytest.mark.parametrize("command", ["replay", "follow"])
    def test_a_fifo_is_refused_within_two_seconds(self, command, fifo, tmp_path):
        began = time.monotonic()
        r = cli(command, str(fifo), "--state-dir", str(tmp_path / "s"), timeout=10)
        assert time.monotonic() - began < 2 + 3  # interpreter start-up included
        assert_one_line_error(r, "not a regular file (a FIFO)")

    @pytest.mark.parametrize("command", ["replay", "follow"])
    def test_a_device_is_refused(self, command, tmp_path):
        r = cli(command, "/dev/zero", "--state-dir", str(tmp_path / "s"), timeout=10)
        assert_one_line_error(r, "/dev/zero: not a regular file (a character device)")

    @pytest.mark.parametrize("command", ["replay", "follow"])
    def test_a_directory_is_refused(self, command, tmp_path):
        (tmp_path / "d").mkdir()
        r = cli(command, str(tmp_path / "d"), "--state-dir", str(tmp_path / "s"), timeout=10)
        assert_one_line_error(r, "not a regular file (a directory)")

    def test_a_fifo_in_the_rotated_set_is_refused_by_replay(self, tmp_path):
        log = small_log(tmp_path / "m.jsonl")
        os.mkfifo(tmp_path / "m.jsonl.1")
        r = cli("replay", str(log), "--state-dir", str(tmp_path / "s"), timeout=10)
        assert_one_line_error(r, "m.jsonl.1: not a regular file (a FIFO)")

    def test_follow_of_a_missing_file_is_an_error(self, tmp_path):
        r = cli("follow", str(tmp_path / "none.jsonl"), "--state-dir", str(tmp_path / "s"))
        assert_one_line_error(r, "none.jsonl: no such file (--wait to wait for it)")


class TestBrokenGzip:
    def test_a_truncated_gz_is_a_one_line_error(self, tmp_path):
        data = gzip.compress(small_log(tmp_path / "plain").read_bytes())
        bad = tmp_path / "cut.jsonl.gz"
        bad.write_bytes(data[: len(data) // 2])
        r = cli("replay", str(bad), "--state-dir", str(tmp_path / "s"))
        assert_one_line_error(r, "cut.jsonl.gz: compressed stream is incomplete")

    def test_a_gz_that_is_not_gzip_is_a_one_line_error(self, tmp_path):
        bad = small_log(tmp_path / "fake.jsonl.gz")
        r = cli("replay", str(bad), "--state-dir", str(tmp_path / "s"))
        assert_one_line_error(r, "fake.jsonl.gz: not a valid .gz")


class TestStateDirectory:
    def test_a_state_dir_that_is_a_file_is_refused(self, tmp_path):
        (tmp_path / "state").write_text("x")
        r = cli("replay", str(SAMPLE), "--state-dir", str(tmp_path / "state"))
        assert_one_line_error(r, "state directory is not a directory")

    def test_a_second_follower_is_refused_and_a_stale_lock_taken_over(self, tmp_path):
        log = small_log(tmp_path / "m.jsonl")
        state = tmp_path / "state"
        with following(log, state) as first:
            second = cli("follow", str(log), "--state-dir", str(state))
            assert_one_line_error(second, f"state directory is in use by pid {first.pid}")
            replayed = cli("replay", str(log), "--state-dir", str(state))
            assert_one_line_error(replayed, f"in use by pid {first.pid}")
        assert (state / ".lock").exists()
        r = cli("replay", str(log), "--state-dir", str(state))
        assert r.returncode == 0, r.stderr


class TestOptions:
    @pytest.mark.parametrize("top", ["0", "-3"])
    def test_top_must_be_positive(self, top, tmp_path):
        assert_one_line_error(cli("show", "--top", top, "--state-dir", str(tmp_path)), "--top")
        r = cli("replay", str(SAMPLE), "--top", top, "--state-dir", str(tmp_path))
        assert_one_line_error(r, "--top must be at least 1")

    def test_a_timestamp_beyond_the_calendar_prints(self, tmp_path):
        state = tmp_path / "state"
        state.mkdir()
        doc = {"schema": "symbol_scores_v6", "window": "50t", "as_of": 1e308, "symbols": []}
        (state / SCORES_FILE).write_text(json.dumps(doc))
        r = cli("show", "--state-dir", str(state))
        assert r.returncode == 0, r.stderr
        assert "outside the calendar" in r.stdout


def test_sigterm_stops_follow_within_a_poll_interval_with_a_checkpoint(tmp_path):
    """A backlog far larger than one poll does not delay the stop: what was read is
    checkpointed, the rest waits for the restart."""
    log = tmp_path / "m.jsonl"
    with log.open("wb") as fh:
        for chunk in range(60):
            fh.write(b"".join(line(trade(1.0, ts=1e9 + chunk * 5000 + i)) + b"\n"
                              for i in range(5000)))  # fmt: skip
    state = tmp_path / "state"
    proc = start("follow", str(log), "--state-dir", str(state), "--interval", "0.1")
    try:
        ckpt = state / "expectancy_v6.ckpt"
        deadline = time.monotonic() + 30
        while not ckpt.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        took = time.monotonic() - began
    finally:
        proc.kill()
    assert proc.returncode == 0
    # one poll interval (0.2 s) and the final commit, with room for a loaded machine
    assert took < 10.0, took
    loaded = CheckpointStore(ckpt).load()
    assert loaded is not None
    # what was read is checkpointed; the backlog (eight polls) was not drained first
    assert 0 < loaded.payload["position"]["files"][0]["offset"] < log.stat().st_size


class TestWindowBounds:
    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("9223372036854775808t", "at most 1000000t"),
            ("1000001t", "at most 1000000t"),
            ("9" * 400 + "d", "longer is all"),
            ("3000000000d", "longer is all"),
        ],
    )
    def test_a_window_beyond_its_bound_is_a_one_line_error(self, spec, message, tmp_path):
        r = cli("replay", str(SAMPLE), "--window", spec, "--state-dir", str(tmp_path / "s"))
        assert_one_line_error(r, message)
        config = tmp_path / "intel.json"
        config.write_text(json.dumps({"windows": ["all", spec]}))
        r = cli("replay", str(SAMPLE), "--config", str(config), "--state-dir", str(tmp_path))
        assert_one_line_error(r, message)

    def test_the_largest_windows_work(self, tmp_path):
        r = cli("replay", str(SAMPLE), "--window", "1000000t", "--window", "2932000d",
                "--state-dir", str(tmp_path / "s"))  # fmt: skip
        assert r.returncode == 0, r.stderr


class TestAuxiliaryFiles:
    @pytest.mark.parametrize("command", ["replay", "follow"])
    def test_a_config_that_is_a_fifo_or_device_is_refused(self, command, fifo, tmp_path):
        log = small_log(tmp_path / "m.jsonl")
        for bad, kind in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device")):
            r = cli(command, str(log), "--config", str(bad), "--state-dir", str(tmp_path / "s"))
            assert_one_line_error(r, f"config {bad}: not a regular file ({kind})")

    def test_a_checkpoint_that_is_not_a_file_is_refused(self, fifo, tmp_path):
        log = small_log(tmp_path / "m.jsonl")
        (tmp_path / "ckdir").mkdir()
        for bad in (fifo, Path("/dev/zero"), tmp_path / "ckdir"):
            r = cli("follow", str(log), "--checkpoint", str(bad), "--state-dir", str(tmp_path))
            assert_one_line_error(r, f"checkpoint {bad}: not a regular file")

    def test_removing_the_lock_file_lets_no_second_writer_in(self, tmp_path):
        log = small_log(tmp_path / "m.jsonl")
        state = tmp_path / "state"
        with following(log, state):
            (state / ".lock").unlink()
            assert_one_line_error(cli("replay", str(log), "--state-dir", str(state)), "in use")
