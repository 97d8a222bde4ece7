"""Losing the cluster in the middle of a fund replay: ``dask scheduler`` and
``dask worker`` run as processes of their own on free localhost ports, a
``replay --cluster tcp://…`` is started on them, and once it reports progress the
scheduler — or every worker, with no nanny left to start another — is killed
with SIGKILL. The command must stop within a bounded time with exit status 2 and
one line naming what was lost, and leave the state directory as it was (the
previous documents, fund state and history untouched, nothing new in it).

The workers load a preload module that delays each part by a fixed time, so the
replay is surely still running when the fault comes, whatever the machine's load
(the parts are still read by the real reader)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from execution.intel.cluster import replay_sources
from execution.intel.cluster_connect import ClusterError, _held_logs
from tests.intel.fund_support import event_line, write_sources
from tests.support import ROOT

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).parent / "dask")
SLOW_PARTS = """\
import time

import execution.intel.sources as sources

# the preload may be imported more than once in a worker: wrap the original once
_read_part = getattr(sources, "unslowed_read_part", sources.read_part)
sources.unslowed_read_part = _read_part


def read_part(part):
    time.sleep(0.25)
    return _read_part(part)


sources.read_part = read_part
"""


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    """A process in a session (process group) of its own, its output to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """``sig`` to the process and every process of its group (a worker's nanny and
    the worker it started); with SIGKILL, reap it."""
    alive = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    if alive and sig == signal.SIGKILL:
        proc.wait(timeout=30)


class Cluster:
    """A ``dask scheduler`` and a ``dask worker --nworkers 2`` on localhost."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        info = root / "scheduler.json"
        preload = root / "slow_parts.py"
        preload.write_text(SLOW_PARTS)
        self.scheduler = _start(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
             "--dashboard-address", ":0", "--scheduler-file", str(info)],
            root / "scheduler.log",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert self.scheduler.poll() is None, (root / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.05)
        self.address: str = json.loads(info.read_text())["address"]
        self.workers = _start(
            [DASK, "worker", "--scheduler-file", str(info), "--nworkers", "2",
             "--nthreads", "1", "--host", "127.0.0.1", "--dashboard-address", ":0",
             "--preload", str(preload)],
            root / "workers.log",
        )  # fmt: skip
        with distributed.Client(self.address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)

    def close(self) -> None:
        _stop(self.workers)
        _stop(self.scheduler)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path / "cluster")
    try:
        yield c
    finally:
        c.close()


def _logs(root: Path) -> list[str]:
    """Two interleaved sources of 2,500 lines each (about 120 parts of 8 KiB)."""
    symbols = ["BTC", "ETH", "SOL"]
    sources = [
        [
            event_line(
                "order" if i % 4 == 0 else "trade", 1e9 + i + k / 3, i, symbols[i % 3],
                float(i % 9 - 4), "ab"[k],
            )
            for i in range(2500)
        ]
        for k in range(2)
    ]  # fmt: skip
    return write_sources(root, sources)


def _snapshot(state: Path) -> dict[str, bytes]:
    return {str(f.relative_to(state)): f.read_bytes() for f in state.rglob("*") if f.is_file()}


def _run_and_fault(
    paths: list[str],
    state: Path,
    address: str,
    fault: subprocess.Popen[bytes],
    sig: int = signal.SIGKILL,
) -> tuple[int, list[str], float]:
    """``replay --cluster ADDRESS --save-state`` over ``paths``; once it reports
    progress (a ``parts n/N`` line on stderr), ``sig`` goes to ``fault``'s process
    group. Returns the exit status, the stderr lines and the seconds from the
    fault to the exit; nothing may be reported on stdout."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "replay", *paths, "--cluster", address,
         "--part-mb", str(8 / 1024), "--wait-workers", "3", "--save-state",
         "--state-dir", str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: list[str] = []
    progressed = threading.Event()  # a progress line, or the end of stderr

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))
            if line.startswith("parts "):
                progressed.set()
        progressed.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        assert progressed.wait(timeout=90), f"no progress: {lines}"
        assert proc.poll() is None, f"the replay ended before the fault: {lines}"
        _stop(fault, sig)
        killed = time.monotonic()
        proc.wait(timeout=90)
        took = time.monotonic() - killed
        reader.join(timeout=10)
        assert proc.stdout is not None
        assert proc.stdout.read() == "", "a replay reported as done"
        return proc.returncode, lines, took
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _the_error(lines: list[str]) -> str:
    """The lines that are neither the cluster's link nor progress: exactly one."""
    other = [x for x in lines if not x.startswith(("cluster: ", "parts "))]
    assert len(other) == 1, lines
    assert other[0].startswith("error: "), lines
    return other[0]


def _published_before(cfg, paths: list[str], state: Path) -> dict[str, bytes]:
    """A replay of the first source published into ``state`` (documents, fund
    state); what is there afterwards."""
    replay_sources(paths[:1], cfg.intel, state_dir=state, save_state=True)
    before = _snapshot(state)
    assert any(name.endswith(".fund-state.json") for name in before), before
    return before


def test_losing_the_scheduler_mid_run_is_one_line_and_publishes_nothing(cluster, cfg, tmp_path):
    paths = _logs(tmp_path / "in")
    state = tmp_path / "state"
    before = _published_before(cfg, paths, state)
    code, lines, took = _run_and_fault(paths, state, cluster.address, cluster.scheduler)
    assert code == 2, lines
    error = _the_error(lines)
    assert f"lost the Dask scheduler at {cluster.address}" in error
    assert "nothing published" in error
    assert took < 30, took
    print(f"stopped {took:.1f} s after the fault")
    assert _snapshot(state) == before


def test_losing_every_worker_mid_run_is_one_line_and_publishes_nothing(cluster, cfg, tmp_path):
    paths = _logs(tmp_path / "in")
    state = tmp_path / "state"
    before = _published_before(cfg, paths, state)
    code, lines, took = _run_and_fault(paths, state, cluster.address, cluster.workers)
    assert code == 2, lines
    error = _the_error(lines)
    assert f"every worker of the Dask scheduler at {cluster.address}" in error
    assert "within 3 s" in error and "nothing published" in error
    assert took < 30, took
    print(f"stopped {took:.1f} s after the fault")
    assert _snapshot(state) == before


def test_a_scheduler_that_stops_answering_mid_run_is_lost_after_the_wait(cluster, cfg, tmp_path):
    """SIGSTOP: the scheduler's connections stay open but nothing answers, as when
    the network to it drops."""
    paths = _logs(tmp_path / "in")
    state = tmp_path / "state"
    before = _published_before(cfg, paths, state)
    code, lines, took = _run_and_fault(
        paths, state, cluster.address, cluster.scheduler, signal.SIGSTOP
    )
    assert code == 2, lines
    error = _the_error(lines)
    assert f"lost the Dask scheduler at {cluster.address}" in error
    assert "no answer for 3 s" in error and "nothing published" in error
    assert took < 30, took
    print(f"stopped {took:.1f} s after the fault")
    assert _snapshot(state) == before


class _Caught(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.names.append(record.name)


@pytest.mark.parametrize("lost", [False, True])
def test_what_dask_logs_is_held_and_dropped_only_with_a_cluster_error(lost):
    """The root handlers (the command line's stderr) see Dask's records after the
    run, in order, or never when a :class:`ClusterError` ends it; other records
    pass at once."""
    caught = _Caught()
    root = logging.getLogger()
    root.addHandler(caught)
    try:
        with contextlib.suppress(ClusterError), _held_logs():
            logging.getLogger("distributed.client").error("one")
            logging.getLogger("tornado.application").error("two")
            logging.getLogger("execution.other").error("three")
            assert caught.names == ["execution.other"]
            if lost:
                raise ClusterError("lost")
    finally:
        root.removeHandler(caught)
    held = [] if lost else ["distributed.client", "tornado.application"]
    assert caught.names == ["execution.other", *held]
