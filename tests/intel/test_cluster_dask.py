"""The fund replay on a real Dask ``LocalCluster`` of two worker *processes* (one per
module): generated sources in small parts agree with one engine fed the contract
order; a scheduler named by its ``tcp://`` address (what ``dask scheduler`` and
``dask worker`` give) and the command line do too; a worker killed while parts
are being read is replaced, its parts are read again and the documents do not
change; a corrupt source read on a worker is an error naming it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from execution.intel.cluster import replay_sources
from execution.intel.cluster_connect import ClusterError
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.state_publish import EXPECTANCY_FILE
from streaming.inputs import InputError
from tests.intel.builders import assert_close, without_wall_time
from tests.intel.fund_support import WINDOWS, event_line, fund_logs, reference, write_sources
from tests.support import ROOT

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def fund_doc(result: Any) -> dict[str, Any]:
    return without_wall_time(result.expectancy)


@settings(max_examples=min(settings.default.max_examples, 5))
@given(fund_logs(max_sources=3, max_lines=40))
def test_parts_read_on_worker_processes_fold_to_the_contract_order(client, cfg, sources):
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_sources(Path(tmp), sources, [False, True, False])
        got = replay_sources(
            paths, cfg.intel, state_dir=tmp, windows=WINDOWS, cluster=client, part_bytes=300,
            publish=False,
        )  # fmt: skip
    want = reference(sources, ExpectancyEngine.from_config(cfg.intel, WINDOWS), paths)
    assert_close(fund_doc(got), without_wall_time(want))


def big_sources(root: Path, n: int = 3, lines: int = 1500) -> tuple[list[str], list[list[bytes]]]:
    """``n`` interleaved sources with duplicates across them."""
    symbols = ["BTC", "ETH", "SOL"]
    sources = [
        [
            event_line(
                "order" if i % 3 == 0 else "trade",
                1e9 + i + k / 7,
                (i * 7 + k) % 2000,
                symbols[i % 3],
                float(i % 11 - 5),
                "ab"[k % 2],
            )
            for i in range(lines)
        ]
        for k in range(n)
    ]
    return write_sources(root, sources), sources


def test_a_scheduler_by_address_and_the_command_line(client, cfg, tmp_path):
    paths, sources = big_sources(tmp_path / "in")
    address = client.scheduler.address
    assert address.startswith("tcp://")
    got = replay_sources(
        paths, cfg.intel, state_dir=tmp_path, cluster=address, part_bytes=20_000, publish=False
    )
    want = reference(sources, ExpectancyEngine.from_config(cfg.intel), paths)
    assert want["inputs"]["reject_reasons"]["duplicate_id"] > 0
    assert got.parts > 2 * len(paths)
    assert_close(fund_doc(got), without_wall_time(want))
    r = subprocess.run(
        [sys.executable, "-m", "execution.intel", "replay", *paths, "--cluster", address,
         "--part-mb", "0.02", "--state-dir", str(tmp_path / "cli")],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "dashboard" in r.stderr
    published = json.loads((tmp_path / "cli" / EXPECTANCY_FILE).read_text())
    assert_close(without_wall_time(published), without_wall_time(want))


def test_a_corrupt_source_read_on_a_worker_is_named(client, cfg, tmp_path):
    paths, _ = big_sources(tmp_path / "in", n=2, lines=50)
    bad = tmp_path / "in" / "s1.jsonl.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(InputError, match=r"s1\.jsonl\.gz"):
        replay_sources(
            [paths[0], str(bad)], cfg.intel, state_dir=tmp_path / "out", cluster=client
        )
    assert not (tmp_path / "out" / EXPECTANCY_FILE).exists()


def test_a_worker_killed_while_parts_are_read(client, cfg, tmp_path):
    """SIGKILL to a worker process that has parts assigned: its nanny starts a new
    one, Dask reads the lost parts again, and every figure is unchanged."""
    paths, sources = big_sources(tmp_path / "in", n=3, lines=3000)
    killed: list[str] = []

    def kill_a_busy_worker(c: Any, futures: list[Any]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [w for w, tasks in c.processing().items() if tasks]
            if busy:
                pid = c.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.005)

    got = replay_sources(
        paths, cfg.intel, state_dir=tmp_path, cluster=client, part_bytes=8_000, publish=False,
        on_submit=kill_a_busy_worker,
    )  # fmt: skip
    assert killed, "no worker was busy"
    want = reference(sources, ExpectancyEngine.from_config(cfg.intel), paths)
    assert_close(fund_doc(got), without_wall_time(want))
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.scheduler_info()["workers"]


def test_workers_dying_too_often_is_a_one_line_error(client, cfg, tmp_path):
    """A part whose workers die more often than the scheduler allows (here: once)
    is a :class:`ClusterError` of one line, and nothing is published."""
    paths, _ = big_sources(tmp_path / "in", n=2, lines=3000)
    scheduler = client.cluster.scheduler
    allowed, scheduler.allowed_failures = scheduler.allowed_failures, 0

    def kill_a_busy_worker(c: Any, futures: list[Any]) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = [w for w, tasks in c.processing().items() if tasks]
            if busy:
                os.kill(c.run(os.getpid, workers=[busy[0]])[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.005)

    try:
        with pytest.raises(ClusterError, match="workers died") as err:
            replay_sources(
                paths, cfg.intel, state_dir=tmp_path / "out", cluster=client, part_bytes=8_000,
                on_submit=kill_a_busy_worker,
            )  # fmt: skip
    finally:
        scheduler.allowed_failures = allowed
        client.wait_for_workers(2, timeout=60)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out" / EXPECTANCY_FILE).exists()


def test_a_scheduler_without_workers_is_an_error_after_the_wait(cfg, tmp_path):
    paths, _ = big_sources(tmp_path / "in", n=1, lines=5)
    with distributed.LocalCluster(n_workers=0, dashboard_address=":0") as empty:
        started = time.monotonic()
        with pytest.raises(ClusterError, match=r"no worker joined .* within 1 s"):
            replay_sources(
                paths, cfg.intel, state_dir=tmp_path / "out", cluster=empty.scheduler_address,
                wait_workers=1.0,
            )  # fmt: skip
        assert time.monotonic() - started < 20
    assert not (tmp_path / "out" / EXPECTANCY_FILE).exists()
