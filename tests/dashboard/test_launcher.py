"""``python -m dashboard`` listens on 127.0.0.1 only, started from any folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from dashboard.__main__ import command
from tests.support import ROOT


def outside_address() -> str | None:
    """An address of this host that is not loopback (None when there is none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            ip = str(s.getsockname()[0])
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def test_the_launcher_sets_the_loopback_address():
    cmd = command(["--port", "9999", "--state-dir", "x"])
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "9999"
    assert cmd[cmd.index("--") + 1 :] == ["--state-dir", "x"]


def test_started_from_another_folder_it_listens_on_loopback_only(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "--port", str(port), "--state-dir", str(tmp_path)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health") as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        other = outside_address()
        if other is not None:
            with socket.socket() as s:
                s.settimeout(2)
                assert s.connect_ex((other, port)) != 0  # refused: not listening there
    finally:
        proc.terminate()
        proc.wait(timeout=20)
