"""What a fund replay is given, and how it fails: local paths are made absolute
before any part is planned (a ``tcp://`` worker opens them in its own working
directory); a glob alone is a fund replay; arguments that name files of one
rotated log are one source, each file read once; every error is one line with
exit status 2 and publishes nothing."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from execution.intel.cluster import replay_sources
from execution.intel.expectancy_v6 import ExpectancyEngine
from execution.intel.sources import list_sources, plan_parts, read_part
from execution.state_publish import EXPECTANCY_FILE
from streaming.checkpoint import encode_checkpoint
from streaming.inputs import InputError
from tests.intel.builders import assert_close, without_wall_time
from tests.intel.fund_support import event_line, reference, write_sources
from tests.support import ROOT


def cli(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "execution.intel", *args],
        check=False, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def assert_one_line_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def lines(n: int, t0: float, first_id: int, symbol: str = "BTC") -> list[bytes]:
    return [
        event_line("trade", t0 + i, first_id + i, symbol, float(i % 5 - 2), "a") for i in range(n)
    ]


def test_local_paths_and_globs_are_made_absolute_before_planning(tmp_path, monkeypatch):
    write_sources(tmp_path / "in", [lines(3, 1e9, 0), lines(3, 1e9, 10)])
    monkeypatch.chdir(tmp_path)
    for given in (["in/s0.jsonl", "in/s1.jsonl"], ["in/s*.jsonl"]):
        sources = list_sources(given)
        assert [s.label for s in sources][: len(given)][0].startswith(("in/", str(tmp_path)))
        for part in plan_parts(sources):
            assert Path(part.url).is_absolute(), part.url
            assert Path(part.url).parent == tmp_path / "in"


def test_a_glob_alone_is_a_fund_replay(cfg, tmp_path):
    sources = [lines(5, 1e9, 0), lines(5, 1e9 + 0.5, 20, "ETH")]
    paths = write_sources(tmp_path / "in", sources)
    r = cli("replay", str(tmp_path / "in" / "s*.jsonl"), "--state-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "2 source(s)" in r.stdout
    got = json.loads((tmp_path / "out" / EXPECTANCY_FILE).read_text())
    want = reference(sources, ExpectancyEngine.from_config(cfg.intel), paths)
    assert_close(without_wall_time(got), without_wall_time(want))


def rotated_log(root: Path) -> tuple[Path, list[bytes]]:
    """``x.jsonl.2.gz``, ``x.jsonl.1.gz``, ``x.jsonl``: one log of 15 lines."""
    root.mkdir(parents=True, exist_ok=True)
    chunks = [lines(5, 1e9 + 5 * k, 5 * k) for k in range(3)]
    live = root / "x.jsonl"
    for n, chunk in zip((2, 1), chunks, strict=False):
        (root / f"x.jsonl.{n}.gz").write_bytes(gzip.compress(b"".join(x + b"\n" for x in chunk)))
    live.write_bytes(b"".join(x + b"\n" for x in chunks[2]))
    return live, [x for c in chunks for x in c]


def test_the_files_of_one_rotated_log_are_one_source_read_once(cfg, tmp_path):
    """``replay X.2.gz X.1.gz X`` (a shell's ``X*``) reads each file once, as ``X``."""
    live, log = rotated_log(tmp_path / "in")
    given = [str(live) + ".2.gz", str(live) + ".1.gz", str(live)]
    sources = list_sources(given)
    assert len(sources) == 1 and len(sources[0].files) == 3
    got = replay_sources(given, cfg.intel, state_dir=tmp_path, publish=False)
    assert got.lines == len(log)
    want = reference([log], ExpectancyEngine.from_config(cfg.intel), [live])  # as X
    assert_close(without_wall_time(got.expectancy), without_wall_time(want))
    assert got.expectancy["inputs"]["rejected"] == 0
    # the same file twice is read once too
    assert len(list_sources([str(live), str(live)], rotated=False)) == 1


def test_files_that_overlap_without_nesting_are_refused(tmp_path):
    for name in ("x", "x.1", "x.1.1"):
        (tmp_path / name).write_bytes(lines(1, 1e9, 0)[0] + b"\n")
    with pytest.raises(InputError, match="do not nest"):
        list_sources([str(tmp_path / "x"), str(tmp_path / "x.1")])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--part-mb", "nan"], "--part-mb must be a positive number"),
        (["--part-mb", "inf"], "--part-mb must be a positive number"),
        (["--part-mb", "0"], "--part-mb must be a positive number"),
        (["--part-mb", "-1"], "--part-mb must be a positive number"),
        (["--cluster", "tls://127.0.0.1:1"], "bad --cluster 'tls://127.0.0.1:1'"),
        (["--cluster", "ssh://h"], "bad --cluster"),
        (["--wait-workers", "nan"], "--wait-workers must be"),
        (["ftp://127.0.0.1:1/x"], "ftp://127.0.0.1:1/x: "),
        (["zip://x"], "zip://x: "),
    ],
)
def test_bad_options_and_sources_are_one_line_errors(tmp_path, option, message):
    good = write_sources(tmp_path / "in", [lines(3, 1e9, 0), lines(3, 1e9, 10)])
    r = cli("replay", *good, *option, "--state-dir", str(tmp_path / "out"))
    assert_one_line_error(r, message)
    assert not (tmp_path / "out" / EXPECTANCY_FILE).exists()


# --- the fund state -------------------------------------------------------------------------


def two_logs(root: Path) -> tuple[str, str]:
    a, b = write_sources(root, [lines(5, 1e9, 0), lines(5, 2e9, 100, "ETH")])
    return a, b


@pytest.mark.parametrize("command", ["replay", "merge"])
def test_a_fund_state_that_cannot_be_written_publishes_nothing(tmp_path, command):
    a, b = two_logs(tmp_path / "in")
    for p, d in ((a, "a"), (b, "b")):
        assert cli("replay", p, "--state-dir", str(tmp_path / d), "--save-state").returncode == 0
    out = tmp_path / "out"
    (out / "expectancy_v6.fund-state.json").mkdir(parents=True)  # cannot be replaced
    if command == "replay":
        r = cli("replay", a, b, "--save-state", "--state-dir", str(out))
    else:
        r = cli("merge", str(tmp_path / "a"), str(tmp_path / "b"), "--state-dir", str(out))
    assert_one_line_error(r, "cannot write the fund state")
    assert not (out / EXPECTANCY_FILE).exists()


def test_a_stale_fund_state_is_refused(tmp_path):
    """``replay a --save-state -S S`` then ``replay b -S S``: S's documents are b's,
    its fund state a's; merge refuses it rather than merge a."""
    a, b = two_logs(tmp_path / "in")
    s, f = tmp_path / "s", tmp_path / "f"
    assert cli("replay", a, "--save-state", "--state-dir", str(s)).returncode == 0
    assert cli("replay", b, "--save-state", "--state-dir", str(f)).returncode == 0
    ok = cli("merge", str(s), str(f), "--state-dir", str(tmp_path / "m1"))
    assert ok.returncode == 0, ok.stderr
    assert cli("replay", b, "--state-dir", str(s), "--no-history").returncode == 0
    r = cli("merge", str(s), str(f), "--state-dir", str(tmp_path / "m2"))
    assert_one_line_error(r, "stale")
    assert not (tmp_path / "m2" / EXPECTANCY_FILE).exists()


def edit_state(path: Path, change: Any, *, rechecksum: bool) -> None:
    header, body = path.read_bytes().split(b"\n", 1)
    doc = json.loads(body)
    change(doc)
    if rechecksum:
        path.write_bytes(encode_checkpoint(doc, 0))
    else:  # the header (length, checksum) of the old payload
        path.write_bytes(header + b"\n" + json.dumps(doc, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("change", "rechecksum", "message"),
    [
        (lambda d: d["keys"].reverse(), False, "damaged fund state"),
        (lambda d: d.update(keys=None), False, "damaged fund state"),
        (lambda d: d.update(keys=None), True, "disagree with the engine state"),
        (lambda d: d.update(keys=[1.0, 2.0]), True, "disagree with the engine state"),
    ],
)
def test_a_damaged_fund_state_is_refused(tmp_path, change, rechecksum, message):
    a, b = two_logs(tmp_path / "in")
    for p, d in ((a, "a"), (b, "b")):
        assert cli("replay", p, "--state-dir", str(tmp_path / d), "--save-state").returncode == 0
    edit_state(tmp_path / "b" / "expectancy_v6.fund-state.json", change, rechecksum=rechecksum)
    r = cli("merge", str(tmp_path / "a"), str(tmp_path / "b"), "--state-dir", str(tmp_path / "m"))
    assert_one_line_error(r, message)
    assert not (tmp_path / "m" / EXPECTANCY_FILE).exists()


@pytest.mark.parametrize("change", ["rotated", "truncated", "rotated_last_part"])
def test_a_file_rotated_or_truncated_after_planning_fails_its_part(tmp_path, change):
    """Each part reopens its file by path: one that finds another file there (the
    log rotated meanwhile) or a shorter one fails, naming the file — never a
    silently partial fund view. A file that grew is read as planned."""
    (path,) = write_sources(tmp_path, [lines(40, 1e9, 0)])
    parts = plan_parts(list_sources([path], rotated=False), 500)
    assert len(parts) > 2
    log = Path(path)
    data = log.read_bytes()
    if change == "truncated":
        log.write_bytes(data[:100])
    else:
        log.rename(log.with_name(log.name + ".1"))
        log.write_bytes(data + data)  # a new live file, even longer
    with pytest.raises(InputError, match=r"s0\.jsonl: (rotated|truncated) while the replay ran"):
        read_part(parts[-1] if change == "rotated_last_part" else parts[0])


def test_a_file_that_grew_after_planning_is_read(tmp_path):
    (path,) = write_sources(tmp_path, [lines(10, 1e9, 0)])
    parts = plan_parts(list_sources([path], rotated=False), 1 << 20)
    with Path(path).open("ab") as fh:
        fh.write(lines(1, 2e9, 99)[0] + b"\n")
    assert read_part(parts[0]).count == 11
