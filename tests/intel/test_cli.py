"""The command line and the runner: replay, show, follow (as a real process and in
process), resume from checkpoints, rotation, failures to publish, and errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from execution.config import IntelConfig
from execution.executor_live import DryRunExecutor
from execution.intel.cli import main
from execution.intel.follow_runner import FollowRunner
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE
from streaming.checkpoint import CheckpointError, CheckpointStore
from tests.intel.builders import assert_close, line, order, trade, validator, without_wall_time
from tests.support import ROOT

SAMPLE = ROOT / "logs" / "samples" / "router_metrics.jsonl.gz"
CFG = IntelConfig(windows=["all", "5t", "1h"], publish_interval_s=0.05)


def cli(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execution.intel", *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def docs(state: Path) -> tuple[dict, dict]:
    return (
        json.loads((state / EXPECTANCY_FILE).read_text()),
        json.loads((state / SCORES_FILE).read_text()),
    )


def write_lines(path: Path, events: list[dict], mode: str = "ab") -> None:
    with path.open(mode) as fh:
        fh.write(b"".join(line(e) + b"\n" for e in events))


def some_events(n: int, start: int = 0) -> list[dict]:
    out = []
    for i in range(start, start + n):
        sym = ("BTCUSDT", "ETHUSDT", "SOLUSDT")[i % 3]
        out.append(trade(float((i * 37) % 200 - 90), symbol=sym, ts=1e9 + 60 * i))
        out.append(order(symbol=sym, maker=i % 2 == 0, ts=1e9 + 60 * i + 1))
    return out


class TestReplayAndShow:
    def test_replay_of_the_sample_prints_the_ranking_and_writes_valid_documents(self, tmp_path):
        r = cli("replay", str(SAMPLE), "--state-dir", str(tmp_path))
        assert r.returncode == 0, r.stderr
        assert "rank  symbol" in r.stdout and "7,873 events" in r.stdout
        exp, scores = docs(tmp_path)
        validator("expectancy_v6.schema.json").validate(exp)
        validator("symbol_scores_v6.schema.json").validate(scores)
        top = scores["symbols"][0]["symbol"]
        assert f"   1  {top}" in r.stdout
        shown = cli("show", "--state-dir", str(tmp_path), "--top", "3")
        assert shown.returncode == 0 and f"   1  {top}" in shown.stdout
        assert len([ln for ln in shown.stdout.splitlines() if ln[:4].strip().isdigit()]) == 3

    def test_window_option_and_rotated_set(self, tmp_path):
        log = tmp_path / "router_metrics.jsonl"
        events = some_events(20)
        write_lines(tmp_path / "router_metrics.jsonl.1", events[:15])
        write_lines(log, events[15:])
        assert main(["replay", str(log), "--state-dir", str(tmp_path), "--window", "3t"]) == 0
        exp, _ = docs(tmp_path)
        assert exp["inputs"]["events"] == 40
        # the score's window and its drift test's window are always kept
        assert list(exp["windows"]) == ["3t", "50t", "all"]
        assert main(["replay", str(log), "--state-dir", str(tmp_path), "--no-rotated"]) == 0
        assert docs(tmp_path)[0]["inputs"]["events"] == 25

    def test_bad_lines_are_counted_not_fatal(self, tmp_path):
        log = tmp_path / "m.jsonl"
        write_lines(log, some_events(3))
        with log.open("ab") as fh:
            fh.write(b'garbage\n{"event": "trade"}\n\xff\n')
        assert main(["replay", str(log), "--state-dir", str(tmp_path)]) == 0
        assert docs(tmp_path)[0]["inputs"]["rejected"] == 3

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["replay", "missing.jsonl"], "missing.jsonl: no such file"),
            (["replay", str(SAMPLE), "--window", "7w"], "bad window '7w'"),
            (["replay", str(SAMPLE), "--config", "nope.json"], "nope.json: file not found"),
            (["show"], "missing or not a symbol_scores_v6 document"),
            (["follow", "no/such/dir/m.jsonl"], "no such directory no/such/dir"),
            (["replay", str(SAMPLE), "--jobs", "0"], "--jobs must be at least 1"),
        ],
    )
    def test_errors_are_one_line_with_a_nonzero_exit(self, tmp_path, args, message):
        r = cli(*args, "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
        assert r.returncode == 2
        assert r.stderr.startswith("error: ") and message in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1

    def test_bad_config_is_a_one_line_error(self, tmp_path):
        bad = tmp_path / "intel.json"
        bad.write_text('{"windows": ["all"], "dd_penalty": -1}')
        r = cli("replay", str(SAMPLE), "--config", str(bad), "--state-dir", str(tmp_path))
        assert r.returncode == 2 and "dd_penalty" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


class FullDisk(CheckpointStore):
    """A checkpoint store whose first ``failures`` saves fail as on a full disk."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def save(self, payload: object) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise OSError(28, "No space left on device", str(self.path))
        super().save(payload)


class TestFollowRunner:
    def run_until_idle(self, runner: FollowRunner) -> None:
        """Stop at once: ``run`` then reads everything there is and commits."""
        runner.run(lambda: True)

    def test_follow_equals_replay_across_restarts_and_rotation(self, tmp_path):
        """Stop, append, rotate, restart from the checkpoint: the documents equal a
        replay of the whole rotated set, and the restart resumed (not re-read)."""
        log, state = tmp_path / "m.jsonl", tmp_path / "state"
        events = some_events(60)
        write_lines(log, events[:40])
        first = FollowRunner(log, CFG, state_dir=state)
        self.run_until_idle(first)
        write_lines(log, events[40:70])
        log.rename(tmp_path / "m.jsonl.1")  # rotated while stopped
        write_lines(log, events[70:], mode="wb")
        second = FollowRunner(log, CFG, state_dir=state)
        assert second.stats.resumed_from == "current"
        self.run_until_idle(second)
        assert second.stats.lines == len(events) - 40
        got = docs(state)[0]
        want = replay([log], CFG, state_dir=state, publish=False).expectancy
        assert_close(without_wall_time(got), without_wall_time(want))

    def test_commit_failures_are_retried_and_consumption_goes_on(self, tmp_path):
        """A full disk: each failure counted and reported, consumption goes on, the
        next commit succeeds with everything read meanwhile."""
        log, state = tmp_path / "m.jsonl", tmp_path / "state"
        write_lines(log, some_events(10))
        clock = [0.0]
        runner = FollowRunner(log, CFG, state_dir=state, clock=lambda: clock[0], interval=1.0)
        runner.store = FullDisk(runner.store.path, failures=2)
        for i in range(4):
            clock[0] = float(i)
            write_lines(log, some_events(2, start=100 + 2 * i))
            runner.step()
        assert runner.stats.commit_failures == 2 and runner.stats.commits == 2
        assert "No space left" in runner.stats.last_error
        assert docs(state)[0]["inputs"]["events"] == 20 + 16

    def test_a_corrupt_checkpoint_refuses_to_start(self, tmp_path):
        log, state = tmp_path / "m.jsonl", tmp_path / "state"
        write_lines(log, some_events(3))
        runner = FollowRunner(log, CFG, state_dir=state)
        self.run_until_idle(runner)
        runner.commit()
        ckpt = state / "expectancy_v6.ckpt"
        for p in (ckpt, ckpt.with_name(ckpt.name + ".prev")):
            if p.exists():
                p.write_bytes(p.read_bytes()[:-5])
        with pytest.raises(CheckpointError, match="refusing to start"):
            FollowRunner(log, CFG, state_dir=state)
        r = cli("follow", str(log), "--state-dir", str(state))
        assert r.returncode == 3 and "refusing to start" in r.stderr

    def test_a_checkpoint_of_another_file_is_refused(self, tmp_path):
        state = tmp_path / "state"
        write_lines(tmp_path / "a.jsonl", some_events(2))
        self.run_until_idle(FollowRunner(tmp_path / "a.jsonl", CFG, state_dir=state))
        r = cli("follow", str(tmp_path / "b.jsonl"), "--state-dir", str(state), "--wait")
        assert r.returncode == 3 and "cannot resume" in r.stderr


def test_dry_run_then_follow_process_equals_replay(cfg, tmp_path):
    """End to end: the dry-run executor writes a log; ``follow`` runs as a process,
    is stopped by SIGTERM (final publish), and its documents equal ``replay``."""
    DryRunExecutor(cfg, seed=3, out_dir=tmp_path / "run").run(bars=12 * 12)
    log = tmp_path / "run" / "execution" / "router_metrics.jsonl"
    state = tmp_path / "state"
    n_lines = len(log.read_bytes().splitlines())
    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "follow", str(log), "--state-dir", str(state),
         "--interval", "0.1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if docs(state)[0]["inputs"]["events"] == n_lines:
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped:" in out
    followed, followed_scores = docs(state)
    again = replay([log], cfg.intel, state_dir=state, publish=False)
    assert_close(without_wall_time(followed), without_wall_time(again.expectancy))
    assert_close(without_wall_time(followed_scores), without_wall_time(again.scores))


def test_follow_of_a_file_not_there_yet_waits_with_wait(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "follow", str(tmp_path / "later.jsonl"),
         "--state-dir", str(tmp_path / "state"), "--wait"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the process is up and waiting (however loaded)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "later.jsonl does not exist yet; waiting for it" in first + err
