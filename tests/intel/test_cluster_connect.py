"""Connecting to a scheduler that accepts and never answers (a stopped scheduler,
another service on the port) is a one-line error, not a hang."""

from __future__ import annotations

import socket
import time

import pytest

from execution.intel import cluster_connect
from execution.intel.cluster_connect import ClusterError, connect

pytest.importorskip("distributed")


def test_a_port_that_accepts_and_never_answers_is_an_error_in_bounded_time(monkeypatch):
    monkeypatch.setattr(cluster_connect, "CONNECT_S", 1.0)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        started = time.monotonic()
        refused = pytest.raises(ClusterError, match=r"cannot reach the scheduler at tcp://127\.0")
        with refused, connect(f"tcp://127.0.0.1:{port}", wait_workers=1.0):
            pass
        assert time.monotonic() - started < 30  # a hang guard, not a timing claim
