"""Tail-follower behaviours one at a time (the stateful test explores their mixtures)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil

import pytest

from streaming import follow, follow_scan
from streaming.follow import Follower
from streaming.framing import OVERLONG
from streaming.identity import Position, inode_generation
from streaming.inputs import read_whole, rotated_set
from tests.streaming.test_follow_exactly_once import ExactlyOnceMachine


def read_then_stop(p, **kw) -> Position:
    """A follower reads what is there and stops: its position."""
    f = Follower(p, **kw)
    poll_all(f)
    f.close()
    return f.position


def poll_all(f: Follower):
    frames, gaps = [], []
    while True:
        b = f.poll()
        frames += b.frames
        gaps += b.gaps
        if not b.more:
            return frames, gaps


def test_missing_file_waits_then_reads_from_start(tmp_path):
    p = tmp_path / "log"
    f = Follower(p)
    assert poll_all(f) == ([], [])
    p.write_bytes(b"a\nb\n")
    assert poll_all(f) == ([b"a", b"b"], [])


def test_partial_line_waits_for_its_newline_across_a_restart(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"first\nsec")
    f = Follower(p)
    assert poll_all(f)[0] == [b"first"]
    pos = Position.from_state(f.position.to_state())
    f.close()
    with open(p, "ab") as fh:
        fh.write(b"ond\n")
    g = Follower(p, pos)
    assert poll_all(g)[0] == [b"second"]


def test_overlong_line_is_reported_once_even_across_polls(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"ok\n" + b"x" * 50)
    f = Follower(p, max_line_bytes=20)
    assert poll_all(f)[0] == [b"ok", OVERLONG]
    with open(p, "ab") as fh:
        fh.write(b"y" * 50 + b"\nnext\n")
    assert poll_all(f)[0] == [b"next"]


def test_budget_splits_a_backlog_without_losing_lines(tmp_path):
    p = tmp_path / "log"
    lines = [b"%06d" % i for i in range(5000)]
    p.write_bytes(b"\n".join(lines) + b"\n")
    f = Follower(p, max_poll_bytes=4096)
    first = f.poll()
    assert first.more and 0 < len(first.frames) < 5000
    rest, _ = poll_all(f)
    assert first.frames + rest == lines


def test_rename_rotation_while_stopped_resumes_in_the_rotated_file(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\nb\n")
    f = Follower(p)
    assert poll_all(f)[0] == [b"a", b"b"]
    pos = f.position
    f.close()
    with open(p, "ab") as fh:
        fh.write(b"c\n")
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"d\n")
    frames, gaps = poll_all(Follower(p, pos))
    assert frames == [b"c", b"d"] and gaps == []


def test_compressed_rotation_continues_at_the_same_offset(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\nb\n")
    pos = read_then_stop(p)
    with open(p, "ab") as fh:
        fh.write(b"c\n")
    with open(p, "rb") as fin, gzip.open(tmp_path / "log.1.gz", "wb") as fout:
        fout.write(fin.read())
    p.unlink()
    p.write_bytes(b"d\n")
    assert poll_all(Follower(p, pos)) == ([b"c", b"d"], [])


def test_copytruncate_continues_in_the_copy_and_reports_the_caveat(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p)
    poll_all(f)
    with open(p, "ab") as fh:
        fh.write(b"b\n")
    (tmp_path / "log.1").write_bytes(p.read_bytes())
    os.truncate(p, 0)
    with open(p, "ab") as fh:
        fh.write(b"c\n")
    frames, gaps = poll_all(f)
    assert frames == [b"b", b"c"]
    assert [g.kind for g in gaps] == ["copytruncate"]


def test_plain_truncation_of_unread_data_is_reported(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    pos = read_then_stop(p)
    with open(p, "ab") as fh:
        fh.write(b"lost\n")
    os.truncate(p, 0)
    p.write_bytes(b"new\n")
    frames, gaps = poll_all(Follower(p, pos))
    assert frames == [b"new"]
    assert [g.kind for g in gaps] == ["truncated"]  # same inode, other bytes


def test_deleted_file_is_drained_through_the_held_descriptor(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p)
    poll_all(f)
    with open(p, "ab") as fh:
        fh.write(b"b\nunterminated")
    p.unlink()
    p.write_bytes(b"c\n")
    frames, gaps = poll_all(f)
    assert frames == [b"b", b"unterminated", b"c"] and gaps == []


def test_reused_inode_is_not_mistaken_for_the_old_file(tmp_path):
    """Identity is content, not inode: a new file never continues at an old offset."""
    p = tmp_path / "log"
    p.write_bytes(b"old line one\n")
    pos = read_then_stop(p)
    p.unlink()
    p.write_bytes(b"new line one\nnew line two\n")  # may well get the same inode number
    frames, _ = poll_all(Follower(p, pos))
    assert frames == [b"new line one", b"new line two"]


def test_fresh_follower_reads_the_retained_set_like_a_replay(tmp_path):
    p = tmp_path / "log"
    with gzip.open(tmp_path / "log.2.gz", "wb") as fh:
        fh.write(b"1\n2\n")
    (tmp_path / "log.1").write_bytes(b"3\n4")
    p.write_bytes(b"5\n")
    assert [x.name for x in rotated_set(p)] == ["log.2.gz", "log.1", "log"]
    replay = [fr for path in rotated_set(p) for fr in read_whole(path).frames]
    assert replay == [b"1", b"2", b"3", b"4", b"5"]
    frames, _ = poll_all(Follower(p))
    assert frames == replay  # "4" ends a rotated file whose writer moved on to "log"


def test_position_round_trips_through_json(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\nb")
    f = Follower(p)
    poll_all(f)
    pos = f.position
    assert Position.from_state(json.loads(json.dumps(pos.to_state()))) == pos


def test_a_position_of_format_one_is_migrated_not_dropped(tmp_path):
    """A checkpoint written before identities held digests (first line + inode)
    resumes at its offset in the same file, and a look-alike is still a new file."""
    p = tmp_path / "log"
    p.write_bytes(b"header\na\nb\n")
    st = os.stat(p)
    v1 = {
        "files": [
            {
                "fingerprint": b"header\n".hex(),
                "offset": 9,
                "skipping": False,
                "size": 11,
                "live": True,
                "file_key": [st.st_dev, st.st_ino],
            }
        ]
    }
    pos = Position.from_state(json.loads(json.dumps(v1)))
    assert pos.files[0].offset == 9 and pos.files[0].key == (st.st_dev, st.st_ino)
    with open(p, "ab") as fh:
        fh.write(b"c\n")
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"header\nz\n")  # starts with the same first line
    frames, gaps = poll_all(Follower(p, pos))
    assert frames == [b"b", b"c", b"header", b"z"] and gaps == []
    assert Position.from_state(json.loads(json.dumps(pos.to_state()))) == pos


def test_an_unknown_position_version_is_refused(tmp_path):
    with pytest.raises(ValueError, match="version 9"):
        Position.from_state({"version": 9, "files": []})


def test_a_look_alike_new_file_is_read_from_its_start(tmp_path):
    """The reproduction: the new file starts with the old file's first lines."""
    p = tmp_path / "log"
    head = b"".join(b'{"id":%d}\n' % i for i in range(20))
    p.write_bytes(head + b'{"id":20}\n')
    f = Follower(p)
    assert len(poll_all(f)[0]) == 21
    pos = f.position
    f.close()
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(head + b'{"id":99}\n')
    frames, gaps = poll_all(Follower(p, pos))
    assert len(frames) == 21 and frames[-1] == b'{"id":99}' and gaps == []


def test_a_half_written_gz_waits_and_is_read_once_complete(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"live\n")
    old = [b"old %05d %s" % (i, os.urandom(8).hex().encode()) for i in range(5000)]
    data = gzip.compress(b"\n".join(old) + b"\n")
    gz = tmp_path / "log.1.gz"
    gz.write_bytes(data[: len(data) // 2])  # its head decompresses, its end is missing
    f = Follower(p)
    assert poll_all(f) == ([b"live"], [])
    gz.write_bytes(data)
    assert poll_all(f)[0] == old
    assert poll_all(f) == ([], [])


def test_a_corrupt_gz_is_reported_once_after_it_settled_and_skipped(tmp_path, caplog):
    now = [0.0]
    p = tmp_path / "log"
    p.write_bytes(b"live\n")
    (tmp_path / "log.1.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    f = Follower(p, clock=lambda: now[0], settle_s=10)
    assert poll_all(f)[0] == [b"live"]
    now[0] = 11
    for _ in range(3):
        assert poll_all(f) == ([], [])
    assert sum("log.1.gz" in r.message for r in caplog.records) == 1


def test_an_unreadable_file_keeps_its_position(tmp_path):
    """After a restart the live file cannot be opened for a while: nothing is lost,
    nothing read twice, the spell is in the status."""
    p = tmp_path / "log"
    p.write_bytes(b"a\nb\n")
    pos = read_then_stop(p)
    blocked = {str(p)}

    def opener(name: str, flags: int) -> int:
        if name in blocked:
            raise PermissionError(13, "Permission denied", name)
        return os.open(name, flags)

    g = Follower(p, pos, opener=opener)
    with open(p, "ab") as fh:
        fh.write(b"c\n")
    assert poll_all(g) == ([], [])
    assert g.unavailable == {str(p): "Permission denied"}
    blocked.clear()
    assert poll_all(g) == ([b"c"], [])
    assert g.unavailable == {}


def test_a_file_gone_longer_than_the_grace_period_is_reported(tmp_path):
    now = [0.0]
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p, clock=lambda: now[0], grace_s=60)
    poll_all(f)
    pos = f.position
    f.close()
    os.rename(p, tmp_path / "elsewhere")
    g = Follower(p, pos, clock=lambda: now[0], grace_s=60)
    assert poll_all(g) == ([], [])  # within the grace period: kept
    assert len(g.position.files) == 1
    now[0] = 61
    frames, gaps = poll_all(g)
    assert frames == [] and [x.kind for x in gaps] == ["gone"]
    assert g.position.files == ()


def test_a_rotation_between_listing_and_opening_is_listed_again(tmp_path):
    """The set changes while it is being opened: the follower lists it again, so the
    file rotated meanwhile is neither lost nor read out of order."""
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    pos = read_then_stop(p)
    with open(p, "ab") as fh:
        fh.write(b"b\n")
    raced = []

    def opener(name: str, flags: int) -> int:
        if name == str(p) and not raced:  # rotate just before the live file is opened
            raced.append(1)
            os.rename(p, tmp_path / "log.1")
            p.write_bytes(b"c\n")
        return os.open(name, flags)

    frames, gaps = poll_all(Follower(p, pos, opener=opener))
    assert frames == [b"b", b"c"] and gaps == []


def _reuse_inode(path, old_key, data: bytes) -> bool:
    """Recreate ``path`` with ``data`` until it gets the inode number ``old_key``."""
    for _ in range(200):
        path.write_bytes(data)
        st = os.stat(path)
        if (st.st_dev, st.st_ino) == old_key:
            return True
        os.unlink(path)
    return False


def test_an_inode_reused_by_a_look_alike_file_is_a_new_file(tmp_path):
    """Delete + recreate while stopped; the new file gets the old inode number and
    starts with the very bytes consumed. The inode's generation tells them apart."""
    p = tmp_path / "log"
    p.write_bytes(b"header\nt1\n")
    fd = os.open(p, os.O_RDONLY)
    if inode_generation(fd) is None:
        os.close(fd)
        pytest.skip("this filesystem has no inode generations")
    os.close(fd)
    f = Follower(p)
    assert poll_all(f)[0] == [b"header", b"t1"]
    pos = f.position
    f.close()
    with open(p, "ab") as fh:
        fh.write(b"t2\n")  # never read: lost with the delete
    key = pos.files[0].key
    os.unlink(p)
    if not _reuse_inode(p, key, b"header\nt1\nt3\n"):
        pytest.skip("the inode number was not reused")
    frames, gaps = poll_all(Follower(p, pos))
    assert frames == [b"header", b"t1", b"t3"]
    assert [g.kind for g in gaps] == ["truncated"]


def test_a_gz_beside_its_unseen_plain_source_is_not_read_twice(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"live\n")
    (tmp_path / "log.2").write_bytes(b"old1\nold2\n")
    (tmp_path / "log.2.gz").write_bytes(gzip.compress(b"old1\nold2\n"))
    f = Follower(p)
    assert poll_all(f) == ([b"old1", b"old2", b"live"], [])
    (tmp_path / "log.2").unlink()  # the compressor finishes
    assert poll_all(f) == ([], [])
    pos = Position.from_state(json.loads(json.dumps(f.position.to_state())))
    f.close()
    assert poll_all(Follower(p, pos)) == ([], [])


def test_an_unlistable_directory_keeps_every_position(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p)
    poll_all(f)
    real_scandir = os.scandir

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    os.scandir = denied  # what chmod 0311 on the directory does to an unprivileged reader
    try:
        with open(p, "ab") as fh:
            fh.write(b"b\n")
        assert poll_all(f) == ([], [])
        assert "cannot list" in f.unavailable[str(tmp_path)]
    finally:
        os.scandir = real_scandir
    assert poll_all(f) == ([b"b"], [])
    assert f.unavailable == {}


def test_a_rotated_file_touched_or_appended_late_reports_no_gap(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p)
    poll_all(f)
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"b\n")
    assert poll_all(f) == ([b"b"], [])
    os.utime(tmp_path / "log.1", (1, 1))  # touched
    assert poll_all(f) == ([], [])
    with open(tmp_path / "log.1", "ab") as fh:
        fh.write(b"late\n")  # the writer had not reopened yet
    assert poll_all(f) == ([b"late"], [])


def test_a_large_gz_is_read_within_the_poll_budget(tmp_path):
    """A compressed backlog is read a budget at a time (a stop is never held up by
    it), continuing in one decompression pass, every line once."""
    p = tmp_path / "log"
    p.write_bytes(b"live\n")
    old = [b"old %06d" % i for i in range(20_000)]
    (tmp_path / "log.1.gz").write_bytes(gzip.compress(b"\n".join(old)))  # no final newline
    f = Follower(p, max_poll_bytes=16 << 10)
    frames, polls = [], 0
    while True:
        b = f.poll()
        polls += 1
        frames += b.frames
        if not b.more:
            break
    assert frames == [*old, b"live"] and polls > 5
    pos = f.position
    f.close()
    assert poll_all(Follower(p, pos)) == ([], [])


def test_a_rotated_file_is_complete_once_the_writer_moved_on(tmp_path):
    """Its unterminated last line is delivered in order, as a replay delivers it."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"a\nlast-without-newline")
    p.write_bytes(b"")
    f = Follower(p)
    assert poll_all(f)[0] == [b"a"]  # the new file is empty: the old one may still grow
    p.write_bytes(b"b\n")
    assert poll_all(f)[0] == [b"last-without-newline", b"b"]
    assert poll_all(f) == ([], [])


def test_a_rotated_file_that_settled_delivers_its_last_line(tmp_path):
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"a\nlast-without-newline")
    os.utime(tmp_path / "log.1", (1_000, 1_000))
    p.write_bytes(b"")
    now = [1_010.0]
    f = Follower(p, clock=lambda: now[0], settle_s=30)
    assert poll_all(f)[0] == [b"a"]  # still settling: it may grow
    now[0] = 1_031.0
    assert poll_all(f)[0] == [b"last-without-newline"]
    assert poll_all(f) == ([], [])


def test_a_listing_gone_stale_before_stat_is_listed_again(tmp_path, monkeypatch):
    """A compressed rotation is renamed between the listing and its stat: the
    listing is taken again rather than the file missed (and later read as new)."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"old1\nold2\n")
    p.write_bytes(b"live\n")
    f = Follower(p)
    assert poll_all(f)[0] == [b"old1", b"old2", b"live"]
    (tmp_path / "log.1.gz").write_bytes(gzip.compress(b"old1\nold2\n"))
    (tmp_path / "log.1").unlink()
    os.rename(tmp_path / "log.1.gz", tmp_path / "log.2.gz")
    real = follow_scan.rotated_siblings
    stale = [[tmp_path / "log.1.gz"]]  # what a listing taken a moment earlier said

    def listing(path):
        return stale.pop() if stale else real(path)

    monkeypatch.setattr(follow_scan, "rotated_siblings", listing)
    assert poll_all(f) == ([], [])
    assert poll_all(f) == ([], [])


def test_the_inode_of_a_finished_file_reused_reports_no_gap(tmp_path):
    """Deleted while held open, drained, kept for the grace period: when the next new
    file gets its inode number, nothing of the old one was unread."""
    p = tmp_path / "log"
    p.write_bytes(b"a\n")
    f = Follower(p)
    assert poll_all(f) == ([b"a"], [])
    key = f.position.files[0].key
    os.unlink(p)
    p.write_bytes(b"b\n")
    assert poll_all(f) == ([b"b"], [])  # "a"'s file drained and closed, still known
    os.unlink(p)
    if not _reuse_inode(p, key, b"c\n"):
        pytest.skip("the inode number was not reused")
    assert poll_all(f) == ([b"c"], [])


def test_copytruncate_then_compression_in_one_interval_reports_the_caveat(tmp_path):
    """logrotate copytruncate + compress without delaycompress: the copy is a .gz."""
    p = tmp_path / "log"
    p.write_bytes(b"a\nb\n")
    f = Follower(p)
    assert poll_all(f) == ([b"a", b"b"], [])
    shutil.copyfile(p, tmp_path / "log.1")
    with open(p, "ab") as fh:
        fh.write(b"lost\n")  # between the copy and the truncation: in neither file
    os.truncate(p, 0)
    (tmp_path / "log.1.gz").write_bytes(gzip.compress((tmp_path / "log.1").read_bytes()))
    (tmp_path / "log.1").unlink()
    frames, gaps = poll_all(f)
    assert frames == [] and [g.kind for g in gaps] == ["copytruncate"]


def test_a_fully_read_rotated_file_deleted_while_stopped_reports_no_gap(tmp_path):
    """rotate 1 while stopped: the oldest (read to its end) is deleted and its inode
    number goes to the new live file."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"a\n")
    p.write_bytes(b"b\n")
    pos = read_then_stop(p)
    old = next(fs.key for fs in pos.files if not fs.live)
    (tmp_path / "log.1").unlink()
    os.rename(p, tmp_path / "log.1")
    if not _reuse_inode(p, old, b"c\n"):
        pytest.skip("the inode number was not reused")
    assert poll_all(Follower(p, pos)) == ([b"c"], [])


def test_a_set_that_moves_while_listed_is_not_read_out_of_order(tmp_path, monkeypatch):
    """A rename rotation lands right after the stat of log.1 in the first listings:
    the follower reads nothing from a listing that missed a file, so the lines come
    out in write order once the set holds still."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"1\n")
    p.write_bytes(b"2\n")
    real_stat = os.stat
    rotations = [b"%d\n" % i for i in range(3, 11)]  # more than any number of retries

    def stat(path, *args, **kwargs):
        st = real_stat(path, *args, **kwargs)
        if str(path) == str(tmp_path / "log.1") and rotations:
            line = rotations.pop(0)
            for n in range(10, 0, -1):
                with contextlib.suppress(FileNotFoundError):
                    os.rename(tmp_path / f"log.{n}", tmp_path / f"log.{n + 1}")
            os.rename(p, tmp_path / "log.1")
            with open(p, "xb") as fh:
                fh.write(line)
        return st

    monkeypatch.setattr(follow.os, "stat", stat)
    f = Follower(p)
    frames, gaps = poll_all(f)
    monkeypatch.undo()
    frames += poll_all(f)[0]
    assert frames == [b"%d" % i for i in range(1, 11)] and gaps == []


def test_a_restart_does_not_decompress_known_gz_again(tmp_path, monkeypatch):
    p = tmp_path / "log"
    for n in (1, 2, 3):
        (tmp_path / f"log.{n}.gz").write_bytes(gzip.compress(b"x%d\n" % n * 1000))
    p.write_bytes(b"live\n")
    pos = read_then_stop(p)
    scans = []
    real = follow.gz_scan
    monkeypatch.setattr(follow, "gz_scan", lambda fd: scans.append(fd) or real(fd))
    assert poll_all(Follower(p, pos)) == ([], [])
    assert scans == []


def test_a_gz_not_read_in_its_first_poll_is_read_later(tmp_path):
    """The budget runs out before a new .gz: it is read at the next poll."""
    p = tmp_path / "log"
    (tmp_path / "log.2").write_bytes(b"x" * 9 + b"\n" * 1 + b"a" * 5000 + b"\n")
    (tmp_path / "log.1.gz").write_bytes(gzip.compress(b"gz1\ngz2\n"))
    p.write_bytes(b"live\n")
    f = Follower(p, max_poll_bytes=1024)
    frames = []
    while True:
        b = f.poll()
        frames += b.frames
        if not b.more:
            break
    assert frames == [b"x" * 9, b"a" * 5000, b"gz1", b"gz2", b"live"]


def test_copytruncate_after_a_file_moved_away_and_deleted_reads_nothing_twice(tmp_path):
    """The held descriptor of a file that was cut and moved away is a new file; once
    it is deleted its inode number may go to the next copy, which must not be taken
    for it (the reproduction of a state-machine run)."""
    m = ExactlyOnceMachine()
    try:
        m.poll()
        m.copytruncate()
        m.make_unreadable()
        m.replace_by_directory()
        m.poll()
        m.restore_from_directory()
        m.delete_and_recreate(clone=0)
        m.make_readable()
        m.poll()
        m.copytruncate()
        m.poll()
        assert m.delivered == m.written
        m.only_announced_gaps()
    finally:
        m.teardown()


def test_a_listing_overtaken_by_a_rotation_does_not_miss_its_file(tmp_path, monkeypatch):
    """The listing is taken mid-rotation (after mv log.1 log.2, before mv log log.1)
    and the files are opened after it: it holds log.2 but not log.1, and every name
    in it still opens. The live file is then the rotation's new file: reading it
    would deliver its lines before log.1's. The follower lists again once the files
    are open, sees log.1, and reads the set in write order."""
    p = tmp_path / "log"
    p.write_bytes(b"1\n")
    f = Follower(p)
    assert poll_all(f) == ([b"1"], [])
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"2\n")  # written after the last poll, never seen by the follower
    real = follow_scan.rotated_siblings
    during = [True]

    def listing(path):
        names = real(path)
        if during.pop() if during else False:  # the next rotation overtakes the listing
            os.rename(tmp_path / "log.1", tmp_path / "log.2")
            os.rename(p, tmp_path / "log.1")
            p.write_bytes(b"3\n")
            return [tmp_path / "log.2"]  # what the listing, taken mid-rotation, held
        return names

    monkeypatch.setattr(follow_scan, "rotated_siblings", listing)
    frames, gaps = poll_all(f)
    frames += poll_all(f)[0]
    assert frames == [b"2", b"3"] and gaps == []


@pytest.mark.parametrize("restart", [False, True])
def test_an_empty_gz_is_not_a_complete_file(tmp_path, restart):
    """A compressor creates the .gz empty, then writes it; its source may be out of
    the set by then (moved aside first, or missed by a listing). An empty file reads
    as a complete, empty gzip stream, but it is a .gz not written yet: taken as a new
    file, it would be read from its start once written, every line of its source a
    second time (also after a restart from the position of that poll)."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"a\nb\n")
    p.write_bytes(b"c\n")
    f = Follower(p)
    assert poll_all(f) == ([b"a", b"b", b"c"], [])
    os.rename(tmp_path / "log.1", tmp_path / "log.1.tmp")  # the compressor's own name
    (tmp_path / "log.1.gz").write_bytes(b"")
    assert poll_all(f) == ([], [])
    if restart:
        f.close()
        f = Follower(p, f.position)
    (tmp_path / "log.1.gz").write_bytes(gzip.compress(b"a\nb\n"))
    (tmp_path / "log.1.tmp").unlink()
    assert poll_all(f) == ([], [])
    with open(p, "ab") as fh:
        fh.write(b"d\n")
    assert poll_all(f) == ([b"d"], [])


def _inode_opener(blocked: set[int]):
    """Opens a file by name, unless its inode is in ``blocked`` (a chmod 000 that
    follows the file through renames, as root cannot be refused for real)."""

    def opener(name: str, flags: int) -> int:
        if os.stat(name).st_ino in blocked:
            raise PermissionError(13, "Permission denied", name)
        return os.open(name, flags)

    return opener


def test_an_unreadable_file_with_unread_bytes_holds_back_a_rename_rotation(tmp_path):
    """After a restart the live file, with an unread line, cannot be read and is
    rotated by rename; the new live file gets a line. Its line must wait for the
    old file's unread one, not come first."""
    p = tmp_path / "log"
    p.write_bytes(b"a1\n")
    blocked: set[int] = set()
    pos = read_then_stop(p, opener=_inode_opener(blocked))
    with open(p, "ab") as fh:
        fh.write(b"a2\n")
    g = Follower(p, pos, opener=_inode_opener(blocked))
    blocked.add(p.stat().st_ino)
    assert poll_all(g) == ([], [])
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"b1\n")
    assert poll_all(g) == ([], [])  # b1 waits for a2
    blocked.clear()
    assert poll_all(g) == ([b"a2", b"b1"], [])


def test_an_unreadable_live_file_on_a_fresh_start_holds_back_its_rotation(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a1\n")
    blocked = {p.stat().st_ino}
    f = Follower(p, opener=_inode_opener(blocked))
    assert poll_all(f) == ([], [])
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"b1\n")
    assert poll_all(f) == ([], [])
    blocked.clear()
    assert poll_all(f) == ([b"a1", b"b1"], [])


def test_an_unreadable_rotated_file_holds_back_newer_files_for_the_grace_period_only(tmp_path):
    now = [0.0]
    p = tmp_path / "log"
    p.write_bytes(b"a1\n")
    blocked = {p.stat().st_ino}
    f = Follower(p, opener=_inode_opener(blocked), clock=lambda: now[0], grace_s=60)
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"b1\n")
    assert poll_all(f) == ([], [])
    now[0] = 61
    assert poll_all(f) == ([b"b1"], [])  # read as listed once the grace period is over
    blocked.clear()
    assert poll_all(f)[0] == [b"a1"]


def _before_live_read(monkeypatch, action) -> None:
    """Run ``action`` each time a poll is about to read the live file (a writer
    racing the poll between its read of the rotated file and of the live one)."""
    real = Follower._read

    def read(self, known, s, *rest):
        if s.live:
            action()
        return real(self, known, s, *rest)

    monkeypatch.setattr(Follower, "_read", read)


def test_late_lines_in_a_rotated_file_racing_a_poll_come_before_the_new_file(tmp_path, monkeypatch):
    """The poll has read log.1 to its end; the writer then appends two late lines to
    log.1 and, reopened, one line to log, before the poll reads log: the late lines
    are older and must come first."""
    p = tmp_path / "log"
    with open(p, "ab", buffering=0) as writer:
        writer.write(b"l1\n")
        f = Follower(p)
        assert poll_all(f) == ([b"l1"], [])
        os.rename(p, tmp_path / "log.1")
        p.write_bytes(b"")
        once = [True]

        def race() -> None:
            if once.pop() if once else False:
                writer.write(b"late1\nlate2\n")
                with open(p, "ab") as fh:
                    fh.write(b"new1\n")

        _before_live_read(monkeypatch, race)
        frames, gaps = poll_all(f)
    assert frames == [b"late1", b"late2", b"new1"] and gaps == []


def test_a_rotated_file_written_for_good_does_not_stop_the_live_file(tmp_path, monkeypatch):
    """A writer that never leaves the rotated file grows it before every read of the
    live file: the live file's lines still come, after a few polls at most."""
    p = tmp_path / "log"
    (tmp_path / "log.1").write_bytes(b"o0\n")
    p.write_bytes(b"n1\n")
    n = [0]

    def grow() -> None:
        n[0] += 1
        with open(tmp_path / "log.1", "ab") as fh:
            fh.write(b"o%d\n" % n[0])

    _before_live_read(monkeypatch, grow)
    monkeypatch.setattr(follow, "LATE_POLLS", 2)
    f = Follower(p)
    frames: list[bytes] = []
    for _ in range(3):
        frames += f.poll().frames
    assert frames[:2] == [b"o0", b"o1"] and b"n1" in frames


def test_a_file_listed_but_not_read_yet_survives_a_delete(tmp_path):
    """The poll's budget went to a backlog in log.1, so the live file was listed
    but not read; it is then deleted and recreated. Its lines are still delivered
    (through a descriptor held since it was listed), before the new file's."""
    p = tmp_path / "log"
    old = [b"old%05d" % i for i in range(2000)]
    (tmp_path / "log.1").write_bytes(b"\n".join(old) + b"\n")
    p.write_bytes(b"live0\nlive1\n")
    f = Follower(p, max_poll_bytes=4096)
    first = f.poll()
    assert first.more and b"live0" not in first.frames
    p.unlink()
    p.write_bytes(b"new0\n")
    frames, gaps = poll_all(f)
    assert first.frames + frames == [*old, b"live0", b"live1", b"new0"] and gaps == []


def test_a_file_listed_but_never_read_then_deleted_while_stopped_is_a_gap(tmp_path):
    now = [0.0]
    p = tmp_path / "log"
    (tmp_path / "log.2").write_bytes(b"".join(b"old%05d\n" % i for i in range(2000)))
    (tmp_path / "log.1").write_bytes(b"r1\nr2\n")
    p.write_bytes(b"")
    f = Follower(p, max_poll_bytes=4096, clock=lambda: now[0], grace_s=60)
    assert f.poll().more
    f.close()
    (tmp_path / "log.1").unlink()
    g = Follower(p, f.position, max_poll_bytes=4096, clock=lambda: now[0], grace_s=60)
    poll_all(g)
    now[0] = 61
    gaps = poll_all(g)[1]
    assert [(x.kind, x.lost_bytes) for x in gaps] == [("gone", 6)]


def test_a_file_moved_out_of_the_set_is_drained_within_the_poll_budget(tmp_path):
    """Behind by more than one budget, the log is copytruncated, gets new lines and
    its path is briefly a directory: the copy's unread lines come before the moved
    file's new ones (the moved file is drained within the budget, not at once)."""
    p = tmp_path / "log"
    old = [b"old%05d" % i for i in range(2000)]
    p.write_bytes(b"\n".join(old) + b"\n")
    f = Follower(p, max_poll_bytes=4096)
    frames = f.poll().frames
    shutil.copyfile(p, tmp_path / "log.1")
    os.truncate(p, 0)
    with open(p, "ab") as fh:
        fh.write(b"new0\nnew1\n")
    os.rename(p, tmp_path / "log.away")
    os.mkdir(p)
    got, gaps = poll_all(f)
    os.rmdir(p)
    os.rename(tmp_path / "log.away", p)
    rest, more_gaps = poll_all(f)
    assert frames + got + rest == [*old, b"new0", b"new1"]
    assert {g.kind for g in gaps + more_gaps} <= {"copytruncate"}


@pytest.mark.xfail(strict=True, reason="known open case, docs/follower.md §8")
def test_a_look_alike_new_file_in_a_rotated_slot_after_a_delete_is_read_from_its_start(
    tmp_path,
):
    """A file read to its end and deleted stays known for the grace period (so that a
    compressed copy of it continues it). Two rotations within one interval put a new
    file that begins with exactly that file's bytes (a header line) in a rotated
    slot: it is taken as the deleted file's continuation and its header is lost."""
    p = tmp_path / "log"
    header = b'{"event":"header","schema":"router_metrics","version":1}\n'
    p.write_bytes(header)
    f = Follower(p)
    assert poll_all(f)[0] == [header[:-1]]
    p.unlink()
    p.write_bytes(header + b'{"id":1}\n')
    assert poll_all(f)[0] == [header[:-1], b'{"id":1}']
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(header)
    os.rename(tmp_path / "log.1", tmp_path / "log.2")
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b'{"id":2}\n')
    assert poll_all(f)[0] == [header[:-1], b'{"id":2}']


def test_a_deleted_file_reached_by_a_poll_is_drained_at_once_whatever_the_budget(tmp_path):
    """The bytes of a deleted file are only in the descriptor, which a crash loses:
    the poll that reaches it drains it to its end, so a kill -9 after that poll's
    checkpoint loses nothing."""
    p = tmp_path / "log"
    lines = [b"%06d" % i for i in range(3000)]
    p.write_bytes(b"\n".join(lines) + b"\n")
    f = Follower(p, max_poll_bytes=4096)
    frames = f.poll().frames
    p.unlink()
    p.write_bytes(b"new\n")
    frames += f.poll().frames
    pos = Position.from_state(json.loads(json.dumps(f.position.to_state())))
    f.close()  # killed after the checkpoint
    rest, gaps = poll_all(Follower(p, pos, max_poll_bytes=4096))
    assert frames + rest == [*lines, b"new"] and gaps == []


def test_a_new_file_held_back_by_an_unreadable_one_survives_a_delete(tmp_path):
    """The new live file waits for the unreadable rotated file's unread line; it is
    deleted and recreated meanwhile: its line is still delivered, in write order."""
    p = tmp_path / "log"
    p.write_bytes(b"a1\n")
    blocked = {p.stat().st_ino}
    f = Follower(p, opener=_inode_opener(blocked))
    os.rename(p, tmp_path / "log.1")
    p.write_bytes(b"b1\n")
    assert poll_all(f) == ([], [])
    p.unlink()
    p.write_bytes(b"c1\n")
    assert poll_all(f) == ([], [])
    blocked.clear()
    assert poll_all(f) == ([b"a1", b"b1", b"c1"], [])
