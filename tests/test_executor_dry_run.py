"""The dry-run executor: deterministic, §3-valid output, coherent trades, guarded hooks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from execution.executor_live import DryRunExecutor, GuardedHooks
from tests.support import ROOT, event_validator

BARS_6H = 72


def run(cfg, tmp_path, name, seed=11, hooks=()):
    out = tmp_path / name
    ex = DryRunExecutor(cfg, seed=seed, out_dir=out, hooks=hooks)
    summary = ex.run(BARS_6H)
    return out, summary


def test_same_seed_gives_byte_identical_logs_and_state(cfg, tmp_path):
    a, _ = run(cfg, tmp_path, "a")
    b, _ = run(cfg, tmp_path, "b")
    for rel in [
        "execution/router_metrics.jsonl",
        "state/nav.json",
        "state/positions.json",
        "state/router_health.json",
        "state/universe.json",
        "state/nav_history.jsonl",
    ]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c, _ = run(cfg, tmp_path, "c", seed=12)
    assert (a / "execution/router_metrics.jsonl").read_bytes() != (
        c / "execution/router_metrics.jsonl"
    ).read_bytes()


def test_rerun_into_the_same_directory_starts_a_fresh_log(cfg, tmp_path):
    a, _ = run(cfg, tmp_path, "a")
    first = (a / "execution/router_metrics.jsonl").read_bytes()
    run(cfg, tmp_path, "a")
    assert (a / "execution/router_metrics.jsonl").read_bytes() == first


def test_every_event_validates_against_the_contract(dry_run_events):
    validator = event_validator()
    for e in dry_run_events:
        validator.validate(e)
    kinds = {e["event"] for e in dry_run_events}
    assert kinds == {"order", "trade"}


def test_ids_are_unique_and_time_never_goes_back(dry_run_events):
    ids = [e.get("order_id") or e["trade_id"] for e in dry_run_events]
    assert len(ids) == len(set(ids))
    ts = [e["ts"] for e in dry_run_events]
    assert ts == sorted(ts)


def test_trades_are_coherent(dry_run_events):
    """R = pnl / risk, risk positive, exits after entries, and a day has real activity."""
    trades = [e for e in dry_run_events if e["event"] == "trade"]
    assert len(trades) > 50
    for t in trades:
        assert t["risk_usd"] > 0
        assert t["r_multiple"] == pytest.approx(t["pnl_usd"] / t["risk_usd"])
        assert t["entry_ts"] <= t["exit_ts"] == t["ts"]
        assert t["exit_reason"] in ("stop", "target", "time")
    stops = [t["r_multiple"] for t in trades if t["exit_reason"] == "stop"]
    targets = [t["r_multiple"] for t in trades if t["exit_reason"] == "target"]
    assert max(stops) < 0 < min(targets)


def test_state_snapshots_are_written(dry_run_dir, dry_run_events):
    state = dry_run_dir / "state"
    nav = json.loads((state / "nav.json").read_text())
    realized = sum(e["pnl_usd"] for e in dry_run_events if e["event"] == "trade")
    assert nav["realized_pnl_usd"] == pytest.approx(realized, abs=1e-3)
    positions = json.loads((state / "positions.json").read_text())["positions"]
    assert nav["open_positions"] == len(positions)
    universe = json.loads((state / "universe.json").read_text())
    assert len(universe["eligible"]) == 20
    history = (state / "nav_history.jsonl").read_text().splitlines()
    assert len(history) == 24 * 12 // 15 + 1  # every 15 bars, plus the final publish


class Boom:
    calls = 0

    def on_bar(self, ts):
        self.calls += 1
        raise RuntimeError("hook failure")

    def close(self):
        raise RuntimeError("close failure")


class Recorder:
    def __init__(self):
        self.ts = []

    def on_bar(self, ts):
        self.ts.append(ts)

    def close(self):
        pass


def test_a_raising_hook_changes_nothing(cfg, tmp_path):
    """Orders and router metrics are byte-identical with no hook and with a hook that raises."""
    a, _ = run(cfg, tmp_path, "plain")
    boom, rec = Boom(), Recorder()
    b, summary = run(cfg, tmp_path, "boom", hooks=[boom, rec])
    assert (a / "execution/router_metrics.jsonl").read_bytes() == (
        b / "execution/router_metrics.jsonl"
    ).read_bytes()
    assert boom.calls == BARS_6H
    assert summary.hook_failures == BARS_6H + 1
    assert len(rec.ts) == BARS_6H and rec.ts == sorted(rec.ts)


def test_hook_failures_are_logged_once_per_interval(caplog):
    now = [0.0]
    hooks = GuardedHooks([Boom()], clock=lambda: now[0])
    for t in range(100):
        now[0] = float(t)
        hooks.on_bar(0.0)
    assert hooks.failures == 100
    warnings = [r for r in caplog.records if "hook Boom failed" in r.message]
    assert len(warnings) == 2  # at t=0 and t=60


def test_command_line_dry_run(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "execution.executor_live",
            "--dry-run",
            "--seed",
            "3",
            "--sim-hours",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert "dry run: 24 bars" in proc.stdout
    assert (tmp_path / "execution/router_metrics.jsonl").stat().st_size > 0


def test_command_line_requires_dry_run(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "execution.executor_live", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2 and "--dry-run" in proc.stderr
