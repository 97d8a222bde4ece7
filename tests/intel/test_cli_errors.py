"""The command line's one-line answers where a traceback used to be: an input it
may not read (or that fails while read), SIGINT during a replay, and a
``file://`` URL as the only source of ``replay`` or the file of ``follow``."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from execution.intel import cli_commands
from execution.intel.cli import main
from execution.state_publish import EXPECTANCY_FILE, SCORES_FILE
from streaming.lock import LOCK_NAME
from tests.intel.builders import line, trade, without_wall_time
from tests.intel.test_cli_inputs import ENV, assert_one_line_error, cli, small_log
from tests.support import ROOT

# Root reads a mode-000 file anyway: without the capabilities that let it, it cannot.
CAPS = "-dac_override,-dac_read_search"
AS_READER = ["setpriv", "--bounding-set", CAPS, "--inh-caps", CAPS] if os.geteuid() == 0 else []


def cli_as_reader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AS_READER, sys.executable, "-m", "execution.intel", *args],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=90, env=ENV,
    )  # fmt: skip


def unreadable(path: Path) -> Path:
    path.chmod(0)
    probe = subprocess.run([*AS_READER, "cat", str(path)], check=False, capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this user reads a mode-000 file")
    return path


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None, reason="root without setpriv"
)
class TestUnreadable:
    @pytest.mark.parametrize("member", ["X", "X.1", "X.2.gz"])
    def test_one_log_unreadable_member_is_one_line_and_nothing_written(self, tmp_path, member):
        log = small_log(tmp_path / "X")
        shutil.copy(log, tmp_path / "X.1")
        shutil.copy(log, tmp_path / "X.2.gz")  # refused on open, before any byte is read
        bad = unreadable(tmp_path / member)
        state = tmp_path / "state"
        r = cli_as_reader("replay", str(log), "--state-dir", str(state))
        assert_one_line_error(r, f"{bad}: permission denied")
        assert not state.exists()  # no history store, no lock, no documents

    def test_no_history_and_no_rotated(self, tmp_path):
        bad = unreadable(small_log(tmp_path / "a.jsonl"))
        state = tmp_path / "state"
        r = cli_as_reader("replay", str(bad), "--no-history", "--no-rotated", "--state-dir",
                          str(state))  # fmt: skip
        assert_one_line_error(r, f"{bad}: permission denied")
        assert not state.exists()


def test_a_read_error_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    log = small_log(tmp_path / "a.jsonl")

    def failing(*_args: object, **_kw: object) -> object:
        raise OSError(errno.EIO, os.strerror(errno.EIO))
        yield  # a generator, as iter_frames is

    monkeypatch.setattr("execution.intel.replay_parts.iter_frames", failing)
    for extra in ([], ["--no-history"]):
        code = main(["replay", str(log), "--state-dir", str(tmp_path / "s"), *extra])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err == f"error: {log}: {os.strerror(errno.EIO)}\n"
        assert not (tmp_path / "s" / SCORES_FILE).exists()


def big_log(path: Path, n: int = 200_000) -> Path:
    with path.open("wb") as fh:
        for i in range(n):
            e = trade(1.0 + i % 7, ts=1e9 + i, symbol=f"S{i % 50}", trade_id=f"t{i}")
            fh.write(line(e) + b"\n")
    return path


@pytest.mark.parametrize("sources", [1, 2], ids=["one-log", "fund"])
def test_sigint_during_replay_is_one_line_exit_130(tmp_path, sources):
    logs = [big_log(tmp_path / f"{k}.jsonl") for k in range(sources)]
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [sys.executable, "-m", "execution.intel", "replay", *map(str, logs), "--state-dir",
         str(state)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    started = state / ("history_v6.sqlite" if sources == 1 else LOCK_NAME)
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # into the reading
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = [s for s in err.replace("\r", "\n").splitlines() if s and not s.startswith("replay: ")]
    assert lines == [], err
    assert err.rstrip().endswith("replay: interrupted; nothing published"), err
    assert not (state / SCORES_FILE).exists()
    if sources == 1:  # the history store closed with its last transaction
        db = sqlite3.connect(state / "history_v6.sqlite")
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        db.close()


class TestInterruptible:
    def test_between_batches_the_signal_waits_for_the_check(self, tmp_path):
        reached = False
        with (
            pytest.raises(cli_commands.ReplayInterruptedError) as caught,
            cli_commands._interruptible(str(tmp_path), between_batches=True) as check,
        ):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            reached = True
            check()
        assert reached
        assert str(caught.value) == "replay: interrupted; nothing published"
        assert caught.value.code == 130
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    def test_documents_written_before_the_interrupt_are_named(self, tmp_path):
        (tmp_path / SCORES_FILE).write_text("{}")
        with (
            pytest.raises(cli_commands.ReplayInterruptedError) as caught,
            cli_commands._interruptible(str(tmp_path), between_batches=False),
        ):
            (tmp_path / (EXPECTANCY_FILE + ".tmp")).write_text("{}")
            (tmp_path / (EXPECTANCY_FILE + ".tmp")).rename(tmp_path / EXPECTANCY_FILE)
            raise KeyboardInterrupt
        assert str(caught.value) == (
            f"replay: interrupted; already written: {tmp_path / EXPECTANCY_FILE}"
        )


def documents(state: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return tuple(  # type: ignore[return-value]
        without_wall_time(json.loads((state / name).read_text()))
        for name in (EXPECTANCY_FILE, SCORES_FILE)
    )


class TestFileUrl:
    @pytest.mark.parametrize(
        "extra", [[], ["--no-history"], ["--no-rotated"], ["--save-state", "--no-history"]]
    )
    def test_replay_of_one_file_url_equals_replay_of_its_path(self, tmp_path, extra):
        log = small_log(tmp_path / "a b%.jsonl")
        url = "file://" + str(log).replace("%", "%25").replace(" ", "%20")
        by_url = cli("replay", url, "--state-dir", str(tmp_path / "u"), *extra)
        assert by_url.returncode == 0, by_url.stderr
        by_path = cli("replay", str(log), "--state-dir", str(tmp_path / "p"), *extra)
        assert by_path.returncode == 0, by_path.stderr
        assert documents(tmp_path / "u") == documents(tmp_path / "p")
        assert list(documents(tmp_path / "u")[0]["windows"]["all"]["executors"]) == [str(log)]

    def test_follow_of_a_file_url_follows_its_path_with_the_same_label(self, tmp_path):
        log = small_log(tmp_path / "a b.jsonl")
        url = "file://" + str(log).replace(" ", "%20")
        state = tmp_path / "f"
        proc = subprocess.Popen(
            [sys.executable, "-m", "execution.intel", "follow", url, "--state-dir", str(state),
             "--interval", "0.1"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (state / SCORES_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        r = cli("replay", url, "--state-dir", str(tmp_path / "r"))
        assert r.returncode == 0, r.stderr
        followed, replayed = documents(state)[0], documents(tmp_path / "r")[0]
        labels = [list(doc["windows"]["all"]["executors"]) for doc in (followed, replayed)]
        assert labels == [[str(log)], [str(log)]]

    @pytest.mark.parametrize("url", ["s3://bucket/a.jsonl", "http://host/a.jsonl"])
    def test_follow_of_another_protocol_is_one_line(self, tmp_path, url):
        r = cli("follow", url, "--state-dir", str(tmp_path / "s"))
        assert_one_line_error(r, f"{url}: follow reads local files")

    def test_a_file_url_of_another_host_is_one_line(self, tmp_path):
        for command in ("replay", "follow"):
            r = cli(command, "file://elsewhere/a.jsonl", "--state-dir", str(tmp_path / "s"))
            assert_one_line_error(r, "file://elsewhere/a.jsonl: a file:// URL of another host")


def test_an_interrupt_outside_a_guarded_replay_is_one_line(monkeypatch, capsys):
    def interrupted(_args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("execution.intel.cli.cmd_show", interrupted)
    assert main(["show"]) == 130
    assert capsys.readouterr().err == "show: interrupted\n"


def test_a_write_error_is_one_line(tmp_path, monkeypatch, capsys):
    def full(*_args: object, **_kw: object) -> object:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("execution.intel.runner.Publisher.publish", full)
    log = small_log(tmp_path / "a.jsonl")
    assert main(["replay", str(log), "--no-history", "--state-dir", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err == f"error: replay: {os.strerror(errno.ENOSPC)}\n"
