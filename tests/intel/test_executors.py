"""The executors grouping: an event's ``executor``, else the label of the source it
came from (its path as given, normalised), in every way a log is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from execution.config import IntelConfig
from execution.intel.cluster import replay_sources
from execution.intel.events import source_label
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.follow_runner import FollowRunner
from execution.intel.hook import IntelHook
from execution.intel.runner import replay
from execution.state_publish import EXPECTANCY_FILE
from tests.intel.builders import T0, assert_close, event_log, line, trade, without_wall_time
from tests.intel.oracle import expectancy_surfaces
from tests.support import ROOT

CFG = IntelConfig(windows=["all", "2t"], publish_interval_s=0.05)


def write(path: Path, lines: list[bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    return path


def mixed_log(path: Path) -> Path:
    """Two trades that name no executor and one of ``desk-b``."""
    return write(path, [
        line(trade(1.0, ts=T0, trade_id="a")),
        line(trade(-1.0, ts=T0 + 1, trade_id="b")),
        line({**trade(2.0, ts=T0 + 2, trade_id="c"), "executor": "desk-b"}),
    ])  # fmt: skip


def executors(doc: dict, window: str = "all") -> dict[str, int]:
    return {k: v["trades"] for k, v in doc["windows"][window]["executors"].items()}


def test_source_label_is_the_path_as_given_normalised():
    assert source_label("./a//b/../c.jsonl") == "a/b/../c.jsonl"  # ".." kept: see below
    assert source_label(Path("/x/y.jsonl")) == "/x/y.jsonl"
    assert source_label("memory://fund/a.jsonl") == "memory://fund/a.jsonl"


@settings(max_examples=min(settings.default.max_examples, 100))
@given(event_log(max_events=40), st.integers(1, 7), st.sampled_from(["exec-a", "x/y.jsonl"]))
def test_the_engine_labels_as_the_oracle_in_any_batching(lines, size, source):
    """Any log (events naming an executor or not, bad lines, duplicates) fed in any
    batches: every surface, the executors' included, equals the batch oracle's for
    the same source label."""
    engine = ExpectancyEngine(["all", "3t", "1h"], source=source)
    for i in range(0, len(lines), size):
        engine.feed_many(lines[i : i + size])
    want = expectancy_surfaces(lines, windows=["all", "3t", "1h"], generated_at=0.0,
                               source=source)  # fmt: skip
    assert_close(engine.document(generated_at=0.0), want)


def test_executors_count_against_the_group_limit():
    lines = [line({**trade(1.0, ts=T0 + i, trade_id=f"t{i}"), "executor": f"e{i}"})
             for i in range(4)]  # fmt: skip
    engine = ExpectancyEngine(["all"], max_groups=2, source="s")
    engine.feed_many(lines)
    doc = engine.document(generated_at=0.0)
    assert executors(doc) == {"e0": 1, "e1": 1}
    assert doc["inputs"]["reject_reasons"] == {"too_many_groups": 2}
    assert_close(doc, expectancy_surfaces(lines, windows=["all"], generated_at=0.0,
                                          max_groups=2, source="s"))  # fmt: skip


def test_a_wrong_executor_is_a_counted_reject():
    engine = ExpectancyEngine(["all"])
    engine.feed_many([b'{"event":"trade","ts":5,"symbol":"A","trade_id":"q","pnl_usd":1,'
                      b'"executor":["x"]}'])  # fmt: skip
    assert engine.document(generated_at=0.0)["inputs"]["reject_reasons"] == {"wrong_type": 1}


def test_replay_follow_and_the_tap_label_a_log_alike(tmp_path):
    """The one-log replay (one process and in parts), follow and the executor's tap
    give the same executors surface, labelled by the path as given."""
    log = mixed_log(tmp_path / "exec-a" / "router_metrics.jsonl")
    os.chdir(tmp_path)
    try:
        given = "./exec-a//router_metrics.jsonl"
        one = replay([given], CFG, state_dir="r1", jobs=1).expectancy
        parts = replay([given], CFG, state_dir="r2", jobs=2, parallel_min_bytes=1).expectancy
        follower = FollowRunner(given, CFG, state_dir="f")
        follower.run(lambda: True)
        followed = json.loads(Path("f", EXPECTANCY_FILE).read_text())
        tap = IntelHook(given, "t", CFG)
        tap.close()  # reads the whole log and publishes
        tapped = json.loads(Path("t", EXPECTANCY_FILE).read_text())
    finally:
        os.chdir(ROOT)
    assert executors(one) == {"exec-a/router_metrics.jsonl": 2, "desk-b": 1}
    assert executors(one, "2t") == {"exec-a/router_metrics.jsonl": 2, "desk-b": 1}
    for other in (parts, followed, tapped):
        assert_close(without_wall_time(other)["windows"], without_wall_time(one)["windows"])
    assert log.exists()


def test_the_fund_replay_labels_each_source_by_its_path(tmp_path):
    a = mixed_log(tmp_path / "a" / "m.jsonl")
    b = write(tmp_path / "b" / "m.jsonl", [line(trade(3.0, ts=T0 + 5, trade_id="z"))])
    r = subprocess.run(
        [sys.executable, "-m", "execution.intel", "replay", "a/m.jsonl", "./b/m.jsonl",
         "--state-dir", "out", "--no-history"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "out" / EXPECTANCY_FILE).read_text())
    assert executors(doc) == {"a/m.jsonl": 2, "desk-b": 1, "b/m.jsonl": 1}
    assert a.exists() and b.exists()


# --- what an outside check found: the label and the file opened follow the path given ---


def test_a_relative_glob_labels_its_matches_as_their_paths(tmp_path, monkeypatch):
    mixed_log(tmp_path / "logs" / "executorA" / "m.jsonl")
    write(tmp_path / "logs" / "executorB" / "m.jsonl", [line(trade(1.0, ts=T0, trade_id="z"))])
    monkeypatch.chdir(tmp_path)
    fund = replay_sources(["logs/executor*/m.jsonl"], CFG, state_dir="g", publish=False)
    one = replay(["logs/executorA/m.jsonl"], CFG, state_dir="o", publish=False)
    assert set(executors(fund.expectancy)) == {
        "logs/executorA/m.jsonl", "logs/executorB/m.jsonl", "desk-b"}  # fmt: skip
    assert "logs/executorA/m.jsonl" in executors(one.expectancy)


def test_a_path_through_a_symlinked_directory_reads_the_file_the_os_opens(tmp_path, monkeypatch):
    """``lnk/../x.jsonl`` with ``lnk`` → ``../real/sub`` is ``real/x.jsonl`` to the OS;
    every kind of replay reads that file, under the label given."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    write(tmp_path / "real" / "x.jsonl", [line(trade(1.0, ts=T0, trade_id="r", symbol="REAL"))])
    write(tmp_path / "w" / "x.jsonl", [line(trade(1.0, ts=T0, trade_id="o", symbol="OTHER"))])
    (tmp_path / "w" / "lnk").symlink_to("../real/sub")
    monkeypatch.chdir(tmp_path / "w")
    given = "lnk/../x.jsonl"
    one = replay([given], CFG, state_dir="o", publish=False).expectancy
    fund = replay_sources([given], CFG, state_dir="f", publish=False).expectancy
    for doc in (one, fund):
        assert list(doc["windows"]["all"]["symbols"]) == ["REAL"]
        assert list(executors(doc)) == [given]


def test_a_file_name_that_is_not_utf8_is_published(tmp_path):
    name = tmp_path / os.fsdecode(b"x\xff.jsonl")
    mixed_log(name)
    one = replay([name], CFG, state_dir=tmp_path / "o").expectancy
    fund = replay_sources([str(name)], CFG, state_dir=tmp_path / "f", save_state=True)
    follower = FollowRunner(name, CFG, state_dir=tmp_path / "l")
    follower.run(lambda: True)  # reads, checkpoints and publishes
    again = FollowRunner(name, CFG, state_dir=tmp_path / "l")  # the checkpoint is its own
    assert again.stats.resumed_from == "current"
    label = str(tmp_path / "x\ufffd.jsonl")
    for doc in (one, fund.expectancy,
                json.loads((tmp_path / "l" / EXPECTANCY_FILE).read_text())):  # fmt: skip
        assert executors(doc) == {label: 2, "desk-b": 1}


def test_a_rotated_file_read_alone_is_labelled_as_its_log(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    mixed_log(tmp_path / "L.2")
    doc = replay_sources(["L.2"], CFG, state_dir="s", rotated=False, publish=False).expectancy
    assert executors(doc) == {"L": 2, "desk-b": 1}
    assert source_label("L.2.gz") == source_label("./L") == "L"
