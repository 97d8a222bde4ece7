"""Tail-follower behaviours one at a time (the stateful test explores their mixtures)."""

from __future__ import annotations

import gzip
import json
import os

from streaming.follow import Follower, Position, read_whole, rotated_set
from streaming.framing import OVERLONG


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
    f = Follower(p)
    poll_all(f)
    pos = f.position
    f.close()
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
    f = Follower(p)
    poll_all(f)
    f.close()
    pos = f.position
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
    f = Follower(p)
    poll_all(f)
    pos = f.position
    f.close()
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
    assert frames == [b"1", b"2", b"3", b"5"]  # "4" has no newline yet: the file may grow


def test_position_round_trips_through_json(tmp_path):
    p = tmp_path / "log"
    p.write_bytes(b"a\nb")
    f = Follower(p)
    poll_all(f)
    pos = f.position
    assert Position.from_state(json.loads(json.dumps(pos.to_state()))) == pos
