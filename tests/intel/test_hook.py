"""The in-executor tap: observation only (differential test), bounded work on the
throttle, quiet when the log is missing, final documents equal to a replay."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time

import msgspec
import pytest

from execution.executor_live import DryRunExecutor, main
from execution.intel.hook import IntelHook, IntelProcessHook
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE
from tests.intel.builders import assert_close, line, order, trade, validator, without_wall_time

BARS = 144  # 12 simulated hours
COMPARED = [
    "execution/router_metrics.jsonl",
    "state/nav.json",
    "state/positions.json",
    "state/router_health.json",
    "state/universe.json",
    "state/nav_history.jsonl",
]


def with_intel(cfg, on: bool, **over):
    intel = msgspec.structs.replace(cfg.intel, intel_enabled=on, **over)
    return dataclasses.replace(cfg, intel=intel)


class Boom:
    calls = 0

    def on_bar(self, ts: float) -> None:
        Boom.calls += 1
        raise RuntimeError("hook failure")

    def close(self) -> None:
        raise RuntimeError("hook failure at close")


def run(cfg, out, hooks=()):
    summary = DryRunExecutor(cfg, seed=5, out_dir=out, hooks=hooks).run(BARS)
    return summary


@pytest.mark.parametrize("kind", ["process", "inline"])
def test_intel_on_off_and_raising_write_identical_orders_and_state(cfg, tmp_path, kind):
    """Intel off, on, and on beside a hook that raises on every call: the orders,
    router metrics and every executor state file are byte-identical."""
    off = tmp_path / "off"
    run(with_intel(cfg, False), off)
    on = tmp_path / "on"
    run(with_intel(cfg, True, publish_interval_s=1e-9, hook=kind), on)
    boom = tmp_path / "boom"
    summary = run(with_intel(cfg, True, publish_interval_s=1e-9, hook=kind), boom, hooks=[Boom()])
    assert summary.hook_failures == BARS + 1
    for rel in COMPARED:
        assert (on / rel).read_bytes() == (off / rel).read_bytes(), rel
        assert (boom / rel).read_bytes() == (off / rel).read_bytes(), rel
    assert not (off / "state" / EXPECTANCY_FILE).exists()
    assert (on / "state" / EXPECTANCY_FILE).exists() and (boom / "state" / SCORES_FILE).exists()


@pytest.mark.parametrize("kind", ["process", "inline"])
def test_final_documents_equal_a_replay_of_the_log(cfg, tmp_path, kind):
    out = tmp_path / "run"
    run(with_intel(cfg, True, hook=kind), out)
    state = out / "state"
    published = json.loads((state / EXPECTANCY_FILE).read_text())
    scores = json.loads((state / SCORES_FILE).read_text())
    validator("expectancy_v6.schema.json").validate(published)
    validator("symbol_scores_v6.schema.json").validate(scores)
    again = replay(
        [out / "execution" / "router_metrics.jsonl"], cfg.intel, state_dir=state, publish=False
    )
    assert_close(without_wall_time(published), without_wall_time(again.expectancy))
    assert_close(without_wall_time(scores), without_wall_time(again.scores))
    assert published["inputs"]["events"] == len(
        (out / "execution" / "router_metrics.jsonl").read_bytes().splitlines()
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hook_works_on_the_throttle_with_bounded_reads(cfg, tmp_path):
    """At most one poll of at most ``max_bytes_per_call`` per interval; close drains."""
    log = tmp_path / "router_metrics.jsonl"
    lines = [line(trade(float(i % 7 - 3))) for i in range(120)] + [line(order())]
    log.write_bytes(b"".join(ln + b"\n" for ln in lines))
    clock = FakeClock()
    intel = msgspec.structs.replace(cfg.intel, publish_interval_s=10.0)
    hook = IntelHook(log, tmp_path / "state", intel, clock=clock, max_bytes_per_call=1000)
    seen = []
    for step in range(30):
        clock.now = step * 5.0
        hook.on_bar(clock.now)
        seen.append(hook.engine.inputs.orders + hook.engine.inputs.trades)
    assert hook.publishes == 15  # every other bar: the interval is 10 s, bars are 5 s
    per_call = max(b - a for a, b in itertools.pairwise(seen))
    assert 0 < per_call <= 1000 // min(len(ln) for ln in lines) + 1
    assert seen[-1] < len(lines)  # bounded: not everything read yet
    hook.close()
    assert hook.engine.inputs.trades == 120 and hook.engine.inputs.orders == 1
    doc = json.loads((tmp_path / "state" / EXPECTANCY_FILE).read_text())
    assert doc["inputs"]["events"] == 121


def test_hook_skips_quietly_when_the_log_is_missing(cfg, tmp_path):
    hook = IntelHook(tmp_path / "absent.jsonl", tmp_path / "state", cfg.intel)
    hook.on_bar(0.0)
    hook.close()
    assert hook.publishes == 0
    assert not (tmp_path / "state").exists()


def test_executor_cli_switches_intel_on(tmp_path):
    assert main(["--dry-run", "--sim-hours", "2", "--out", str(tmp_path), "--intel", "on"]) == 0
    assert (tmp_path / "state" / EXPECTANCY_FILE).exists()


@pytest.mark.parametrize("interval", [1e-9, 3600.0])
def test_publish_interval_does_not_change_the_final_documents(cfg, tmp_path, interval):
    out = tmp_path / f"i{interval}"
    run(with_intel(cfg, True, publish_interval_s=interval), out)
    doc = json.loads((out / "state" / EXPECTANCY_FILE).read_text())
    again = replay(
        [out / "execution" / "router_metrics.jsonl"], cfg.intel, state_dir=out, publish=False
    )
    assert_close(without_wall_time(doc), without_wall_time(again.expectancy))


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


class TestProcessHook:
    def test_publishes_while_the_log_grows_and_drains_at_close(self, cfg, tmp_path):
        """The tap's process follows the log on its own (nothing happens in
        ``on_bar``), publishes what it has read, and at close reads the rest."""
        log = tmp_path / "router_metrics.jsonl"
        first = [line(trade(float(i % 5 - 2))) for i in range(40)]
        log.write_bytes(b"".join(ln + b"\n" for ln in first))
        state = tmp_path / "state"
        intel = msgspec.structs.replace(cfg.intel, publish_interval_s=0.01)
        hook = IntelProcessHook(log, state, intel)
        try:
            doc_path = state / EXPECTANCY_FILE
            wait_for(
                lambda: (
                    doc_path.exists()
                    and json.loads(doc_path.read_bytes())["inputs"]["trades"] == 40
                )
            )
            hook.on_bar(0.0)
            with log.open("ab") as fh:
                fh.write(b"".join(line(order()) + b"\n" for _ in range(7)))
        finally:
            hook.close()
        assert not hook.alive
        doc = json.loads((state / EXPECTANCY_FILE).read_bytes())
        assert doc["inputs"]["trades"] == 40 and doc["inputs"]["orders"] == 7

    def test_a_failing_tap_is_reported_at_close(self, cfg, tmp_path):
        """A tap whose state directory cannot be written exits with an error, and
        close raises it to the guard (which counts it) instead of hiding it."""
        log = tmp_path / "router_metrics.jsonl"
        log.write_bytes(line(trade(1.0)) + b"\n")
        blocked = tmp_path / "state"
        blocked.write_text("a file where the state directory should be")
        hook = IntelProcessHook(log, blocked, cfg.intel)
        with pytest.raises(RuntimeError, match="exited with status"):
            hook.close()
