"""Tail-following a growing log file and its rotated set, across rotation,
truncation, odd file types and restarts.

:class:`Follower` turns ``path`` (with ``path.1``, ``path.2.gz`` …) into frames
(complete lines, or :data:`~streaming.framing.OVERLONG` markers), each delivered
once and in write order, plus :class:`Gap` reports wherever data may have been
lost. Its :class:`Position` is a small value to checkpoint *together with* whatever
consumed the frames; a follower started from it continues exactly where the old
one stopped.

**A file is who it is, not what it starts with.** The identity of a file is its
``(device, inode)`` *and* two digests of the bytes already consumed: the first
:data:`HEAD_BYTES` and the :data:`TAIL_BYTES` just before the offset. A stored
offset is used only for a file that has the same inode *and* still holds those
bytes; a new inode is a new file, even when its first bytes are identical. A
known inode whose bytes changed (truncated, rewritten, or the inode reused after a
delete) is read from its start as a new file, and the loss is reported.

A new inode is taken for a known file's continuation only where the same bytes
legitimately move to a new inode: a compressed rotation (``path.2.gz`` made from
``path.2``), the copy of a copytruncate, and a checkpoint of the older format that
holds no inode. It must then hold exactly the consumed bytes at both digests (and,
for a copy shorter than what was read, the bytes before its end equal the last
bytes read). The live ``path`` itself is never matched by content.

Every :meth:`Follower.poll`:

1. lists the rotated set, oldest first (``path.N[.gz]`` … ``path.1``, ``path``),
   takes only regular files, opens each once (non-blocking, so a FIFO swapped in
   cannot hang it), confirms with ``fstat`` that the descriptor is the inode that
   was listed, and lists again: a set that changed meanwhile, or a second listing
   that holds a name the first did not (a rotation overtook the first listing), is
   listed anew. From then on, every byte is read
   through the checked descriptor;
2. matches the files to the known ones (inode and digests first, content second);
3. drains the known files no longer in the set through the descriptor still held
   on them (a deleted file to its end at once; one that only left the set keeps
   being drained for the grace period, in case it comes back);
4. reads each file of the set from its offset, or from 0 if it is new.

A known file that is **temporarily unavailable** (the path briefly replaced by a
directory, unreadable, moved away) keeps its state for ``grace_s`` seconds; when
it comes back as the same identity it resumes at its offset, and only a genuinely
new identity starts at 0. The spell is logged and listed in
:attr:`Follower.unavailable`, never counted as bad lines. An unreadable plain
file that may hold unread bytes holds back every newer file until it can be read,
``grace_s`` at most. A copy of the bytes
consumed of an unreadable file continues it if the file is now shorter than the
copy (it was cut since); otherwise the copy and every newer file wait until the
file can be read, ``grace_s`` at most. A ``.gz`` is read only
when its stream is complete: a half-written one is "not ready yet" and retried; a
corrupt one is reported once by name after its size has stopped changing for
``settle_s`` seconds, then skipped. A rotated plain file is complete once a newer
file of the set holds data (the writer moved on) or it stopped changing for
``settle_s``: its unterminated last line is delivered then, as a replay of it
would.

So a **rename rotation** continues in ``path.1`` where it stopped, also while the
follower was down and also when the new ``path`` starts with the same bytes;
**delete + recreate** drains the old file, then reads the new one; **copytruncate**
continues in the copy where it stopped and reports a gap of kind ``copytruncate``
(lines written between the copy and the truncation exist in neither file); a plain
**truncation** reports a gap and reads the file anew from its start.

Filesystems without stable inodes (some network and FUSE mounts report a new inode
for the same file) make a known file look new: its lines would be read again and
rejected as duplicates within the de-duplication horizon. Follow logs on a local
filesystem.

A follower without a position reads the whole retained set from its start: the
same lines, in the same order, as a replay of that set.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from streaming.follow_scan import Scanner, Seen, UnstableError
from streaming.framing import Frame, split_lines
from streaming.identity import (
    TAIL_BYTES,
    FileState,
    Key,
    Position,
    Tracked,
    inode_generation,
    pread_of,
)
from streaming.inputs import (
    READ_SIZE,
    GzInfo,
    gz_open,
    gz_read,
    gz_scan,
    is_gz,
)

log = logging.getLogger("streaming.follow")

GRACE_S = 300.0
SETTLE_S = 30.0  # a rotated file or .gz unchanged this long is complete
LATE_POLLS = 3  # polls in a row that may wait for late lines in an older file


@dataclass(frozen=True, slots=True)
class Gap:
    """Data that may have been lost, and why. ``lost_bytes`` is a lower bound, or
    None when unknowable."""

    kind: str  # truncated | gone | copytruncate | corrupt
    path: str
    detail: str
    lost_bytes: int | None = None


@dataclass(slots=True)
class Batch:
    frames: list[Frame]
    gaps: list[Gap]
    position: Position
    more: bool  # the read budget ran out before the end: poll again at once


@dataclass(slots=True)
class _Poll:
    frames: list[Frame] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    claimed: dict[int, Tracked] = field(default_factory=dict)  # index into the set -> file
    present: set[int] = field(default_factory=set)  # id() of known files found by inode
    cut: list[Tracked] = field(default_factory=list)  # known inodes now holding other bytes
    rewritten: set[int] = field(default_factory=set)  # id() of cut files not reused
    skip: set[int] = field(default_factory=set)  # indexes not to read now
    wait: set[int] = field(default_factory=set)  # copies of unreadable files: hold back
    seen: list[Seen] = field(default_factory=list)
    blocked: dict[Key, int] = field(default_factory=dict)  # present, unreadable: size
    older: list[tuple[Tracked, bool]] = field(default_factory=list)  # drain before the set
    deleted: list[tuple[Tracked, bool]] = field(default_factory=list)  # before new files
    moved: list[tuple[Tracked, bool]] = field(default_factory=list)  # before the live file
    holding: bool = False  # newer files of the set wait for an unreadable one


class Follower:
    """Follows ``path`` and its rotated set; see the module docstring. ``clock``
    (wall seconds) times the grace period; ``opener`` opens a file by name."""

    def __init__(
        self,
        path: str | Path,
        position: Position | None = None,
        *,
        max_line_bytes: int = 1 << 20,
        max_poll_bytes: int = 8 << 20,
        grace_s: float = GRACE_S,
        settle_s: float = SETTLE_S,
        clock: Callable[[], float] = time.time,
        opener: Callable[[str, int], int] = os.open,
    ) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.max_poll_bytes = max_poll_bytes
        self.grace_s = grace_s
        self.settle_s = settle_s
        self._clock = clock
        self._scanner = Scanner(self.path, opener)
        self._known: list[Tracked] = [
            Tracked(fs) for fs in (position.files if position is not None else ())
        ]
        self._gz: dict[Key, GzInfo] = {}
        self._gz_stable: dict[Key, tuple[tuple[int, int], float]] = {}
        self._gz_reported: set[tuple[int, int, int]] = set()
        self._blocked_since: dict[Key, float] = {}  # present but unreadable, since when
        self._late = 0  # polls in a row cut short by late lines in an older file

    @property
    def position(self) -> Position:
        return Position(tuple(k.state for k in self._known))

    @property
    def unavailable(self) -> dict[str, str]:
        """Files of the set that are unavailable right now, and why."""
        return {p: s.reason for p, s in self._scanner.spells.items()}

    def close(self) -> None:
        for k in self._known:
            k.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- polling ------------------------------------------------------------------------

    def poll(self) -> Batch:
        now = self._clock()
        out = _Poll()
        try:
            seen, blocked = self._scanner.scan(now, self._held)
        except OSError as exc:  # the directory cannot be listed: the set is unknown
            self._scanner.spell(self.path.parent, f"cannot list: {exc.strerror or exc}", now)
            return Batch([], [], self.position, False)
        except UnstableError:
            return Batch([], [], self.position, True)  # poll again soon
        was_blocked = set(self._blocked_since)  # present before, not new files
        self._blocked_since = {k: self._blocked_since.get(k, now) for k in blocked}
        try:
            out.seen, out.blocked = seen, blocked
            before = {id(k) for k in self._known}
            plan = self._match(seen, blocked, out, now)
            budget = self.max_poll_bytes
            budget -= self._drain_all(out.older, out.frames, budget)
            more = False
            for n, (known, s) in enumerate(plan):
                moved_on = any(later.size > 0 for _, later in plan[n + 1 :])
                # a deleted former live file holds older bytes than any file new since
                # the last poll; one moved away may have been copied and truncated
                # first, so it comes just before the live file
                if s.live or (id(known) not in before and s.key not in was_blocked):
                    budget -= self._drain_all(out.deleted, out.frames, budget)
                if s.live:
                    budget -= self._drain_all(out.moved, out.frames, budget)
                known.path = s.path
                if budget > 0:
                    mark = (known.state, known.pending, known.recent, known.head_bytes)
                    count = len(out.frames)
                    used = self._read(known, s, out.frames, budget, moved_on)
                    if (used or len(out.frames) > count) and self._late_lines(plan[:n]):
                        # an older file read in this poll grew since: its late lines
                        # may be older than what was just read here, so this file
                        # stays where it was and the next poll reads them first
                        known.state, known.pending, known.recent, known.head_bytes = mark
                        known.close_gz()  # a decompressor ahead of the offset
                        del out.frames[count:]
                        more = True
                        break
                    budget -= used
                    more = more or budget <= 0
            else:
                self._late = 0
            for known, s in plan:
                if known.fd is None and not s.gz:
                    # listed but not read (the budget went to older files): a
                    # descriptor keeps its bytes readable across a delete
                    known.fd, known.fd_key = os.dup(s.fd), s.key
                    if s.size > known.state.size:
                        known.state = replace(known.state, size=s.size)
            if out.holding:  # they may be newer than the file the set waits for
                out.deleted.clear()
                out.moved.clear()
            budget -= self._drain_all(out.deleted, out.frames, budget)  # no live file now
            budget -= self._drain_all(out.moved, out.frames, budget)
            more = more or budget <= 0
        finally:
            for s in seen:
                os.close(s.fd)
            live = {s.key for s in seen}
            for cache in (self._gz, self._gz_stable):
                for key in [k for k in cache if k not in live]:
                    del cache[key]
        return Batch(out.frames, out.gaps, self.position, more)

    def _late_lines(self, older: list[tuple[Tracked, Seen]]) -> bool:
        """Did a plain file read to its end earlier in this poll grow since (a
        writer still on a rotated file)? Not more than :data:`LATE_POLLS` polls in a
        row: a rotated file written to for good must not stop the newer ones."""
        if self._late >= LATE_POLLS:
            return False
        for k, s in older:
            if s.gz or k.fd is None:
                continue
            if os.fstat(k.fd).st_size > k.state.offset + len(k.pending):
                self._late += 1
                return True
        return False

    def _held(self, key: Key) -> int | None:
        """The descriptor held on a known inode, if any."""
        return next((k.fd for k in self._known if k.fd is not None and k.fd_key == key), None)

    # --- matching -----------------------------------------------------------------------

    def _match(
        self, seen: list[Seen], blocked: dict[Key, int], out: _Poll, now: float
    ) -> list[tuple[Tracked, Seen]]:
        """Pair the files of the set with the known ones; drain or keep the known
        files that are not in it. Returns the files to read, in set order."""
        for i, s in enumerate(seen):
            k = next((k for k in self._known if k.state.key == s.key), None)
            if k is None:
                continue
            if k.state.gz != s.gz:  # the inode of a removed file, reused
                out.cut.append(k)
                continue
            trusted = k.state.size > 0 and k.state.mtime_ns == s.mtime_ns  # decompressed before
            if s.gz and trusted and self._same_file(k, s):
                # a compressed file does not change once complete: the same inode,
                # generation and mtime need no decompression to be trusted
                if k.state.offset < k.state.size:  # not read to its end yet
                    self._gz[s.key] = GzInfo((s.size, s.mtime_ns), k.state.size, "")
                out.claimed[i] = k
                out.present.add(id(k))
                continue
            reader = self._reader(s)
            if reader is None:  # a .gz not readable yet: keep the file's state
                out.claimed[i] = k
                out.present.add(id(k))
                continue
            read, size = reader
            same = self._same_file(k, s)
            unchanged = (  # held open, and nothing about it changed since the last poll
                k.fd_key == s.key and s.size == k.state.size and s.mtime_ns == k.state.mtime_ns
            )
            if same and (unchanged or k.holds(read, size)):
                if not k.recent and k.state.offset:
                    k.adopt(read)
                out.claimed[i] = k
                out.present.add(id(k))
            else:
                out.cut.append(k)
                if same:  # the same file, cut or rewritten (not an inode reused)
                    out.rewritten.add(id(k))
        for k in self._known:  # present but unreadable, and shorter than consumed: cut
            if k.state.key in blocked and blocked[k.state.key] < k.state.offset:
                out.cut.append(k)
        matched = {id(k) for k in out.claimed.values()}
        for k in list(self._known):  # not in the set, but still held open: was it cut?
            if (
                id(k) not in matched
                and k not in out.cut
                and k.fd is not None
                and not k.holds(pread_of(k.fd), os.fstat(k.fd).st_size)
            ):
                # its identity is cut (a copy may continue it); what the descriptor
                # shows now is a new file, read from its start
                out.cut.append(k)
                fst = os.fstat(k.fd)
                fresh = Tracked(
                    FileState(
                        k.fd_key,
                        0,
                        live=k.state.live,
                        mtime_ns=fst.st_mtime_ns,
                        gen=inode_generation(k.fd),
                    )
                )
                fresh.fd, fresh.fd_key, fresh.path = k.fd, k.fd_key, k.path
                k.fd = k.fd_key = None
                self._known.append(fresh)
        for i, s in enumerate(seen):
            if i not in out.claimed:
                self._match_content(i, s, out, now)
        keep: list[Tracked] = []
        taken = {id(k) for k in out.claimed.values()}
        for k in self._known:
            if id(k) in taken:
                continue
            if k in out.cut:
                st = k.state
                # read to its end and no longer written: a rotated file, or one seen
                # to leave the set; its inode reused by a new file loses nothing
                finished = (
                    k.fd is None
                    and st.offset >= st.size
                    and (not st.live or st.missing_since is not None)
                )
                if st.offset > 0 and not finished:
                    out.gaps.append(
                        Gap(
                            "truncated",
                            str(k.path or self.path),
                            f"its bytes below offset {k.state.offset} changed: cut or "
                            "rewritten; read again from its start, unread data is lost",
                            max(k.state.size - k.state.offset, 0) or None,
                        )
                    )
                k.close()
            elif k.state.key is not None and k.state.key in blocked:
                keep.append(k)  # present but unreadable: keep its position
            elif self._absent(k, out, now):
                keep.append(k)
        plan: list[tuple[Tracked, Seen]] = []
        held: list[Tracked] = []  # known files newer than a copy that waits: not read now
        hold = min([*out.wait, *self._held_back(blocked, out, now)], default=len(seen))
        out.holding = hold < len(seen)
        for i, s in enumerate(seen):
            if i >= hold:
                if i in out.claimed:
                    held.append(out.claimed[i])
                elif i not in out.skip and not s.gz:
                    # a new file held back: a descriptor keeps its bytes readable
                    # across a delete while it waits
                    new = Tracked(_new_state(s, 0))
                    new.fd, new.fd_key = os.dup(s.fd), s.key
                    held.append(new)
                continue
            if i in out.skip:
                continue
            k = out.claimed.get(i) or Tracked(_new_state(s, 0))
            if k.state.missing_since is not None:
                log.info("%s is back; resuming at offset %d", s.path, k.state.offset)
                k.state = replace(k.state, missing_since=None)
            plan.append((k, s))
        self._known = keep + [k for k, _ in plan] + held
        return plan

    def _held_back(self, blocked: dict[Key, int], out: _Poll, now: float) -> list[int]:
        """Where the set must stop being read: an unreadable plain file that may hold
        unread bytes (longer than its offset; any bytes, if it is not a known file)
        holds back every newer file of the set until it can be read again, for the
        grace period at most. Returns the index in the set of the first file newer
        than each such file."""
        stops = []
        for key, (at, path) in self._scanner.blocked_at.items():
            if is_gz(path) or key not in blocked:
                continue  # a compressed file copies a plain one of the set
            if now - self._blocked_since.get(key, now) >= self.grace_s:
                continue
            k = next((k for k in self._known if k.state.key == key and k not in out.cut), None)
            if blocked[key] > (0 if k is None else k.state.offset):
                stops.append(at)
        return stops

    @staticmethod
    def _same_file(k: Tracked, s: Seen) -> bool:
        """Can the known inode ``k`` still be the file it was? Rotation never makes a
        rotated file live again, and a rotated file is not written to any more (its
        mtime stays): otherwise the inode was freed and reused by a new file. (A
        rotated file still being written is then read again from its start, and
        de-duplication rejects its lines: duplicates counted, never lines lost.)"""
        st = k.state
        if st.gen is not None and s.gen is not None:
            return st.gen == s.gen  # the filesystem says whether the inode was reused
        if st.live:
            return True
        return not s.live and (st.mtime_ns is None or st.mtime_ns == s.mtime_ns)

    def _match_content(self, i: int, s: Seen, out: _Poll, now: float) -> None:
        """A new inode: a known file's bytes moved here (compression, a copy), a copy
        of a file still present, or a new file."""
        if s.gz and any(o.path == s.path.with_suffix("") for o in out.seen):
            out.skip.add(i)  # compressed while its source is still here: read the source
            return
        reader = self._reader(s)
        if reader is None:
            out.skip.add(i)  # a .gz not complete yet (or corrupt): not read now
            return
        read, size = reader
        taken = {id(k) for k in out.claimed.values()}

        def busy(k: Tracked) -> bool:  # still here, or already continued elsewhere
            return id(k) in taken and k not in out.cut

        def copy_of(k: Tracked) -> bool:
            """Can ``s`` be a copy of ``k`` while ``k`` is still here? Only a copytruncate
            caught between its copy and its truncation (``k`` is the live file now), or
            a compression of ``k``'s slot whose source is not removed yet; otherwise a
            look-alike is a new file."""
            now_at = next((out.seen[j] for j, c in out.claimed.items() if c is k), None)
            if now_at is None:
                return False
            if s.gz:
                return now_at.path == s.path.with_suffix("")
            return now_at.live and s.path.name == f"{self.path.name}.1"

        def moved_from(k: Tracked) -> bool:
            """Can ``k``'s bytes have moved to ``s``? Only when ``k``'s inode is gone or
            holds other bytes now, into a rotated slot (a compression, the copy of a
            copytruncate, a rotator that copies and deletes); anywhere for a position
            that holds no inode (migrated). The live name is always a new file."""
            if k.state.key is None:
                return True
            return not busy(k) and not s.live

        # the most specific evidence first: the known file with the most bytes
        # consumed; among equals, one that needs a continuation
        for k in sorted(self._known, key=lambda k: (-k.state.offset, busy(k))):
            if s.live and k.state.key is not None:
                continue
            if k.state.offset == 0:
                # nothing consumed, so no digests; a descriptor held on a file that
                # left the set still shows what it holds
                if moved_from(k) and k.fd is not None and _shows(k.fd, read, size):
                    self._continue(k, s, read, out)
                    out.claimed[i] = k
                    return
                continue
            key = k.state.key
            unread = None if key is None or k in out.cut else out.blocked.get(key)
            if unread is not None and unread < size and k.holds(read, size):
                # a copy of the bytes consumed, longer than the unreadable file is
                # now: files only grow, so the file was cut since it was copied
                out.cut.append(k)
                out.rewritten.add(id(k))
                unread = None
            if unread is not None and (k.holds(read, size) or k.is_prefix_copy(read, size)):
                # a copy of a file that cannot be checked now: it may continue that
                # file, so neither it nor any newer file of the set is read until the
                # file can be read again (or was unreadable for the grace period)
                out.skip.add(i)
                if key is not None and now - self._blocked_since.get(key, now) < self.grace_s:
                    out.wait.add(i)
                return
            if k.holds(read, size):
                if moved_from(k):
                    self._continue(k, s, read, out)
                    out.claimed[i] = k
                    return
                if busy(k) and copy_of(k):
                    out.skip.add(i)
                    return
                continue
            if k.is_prefix_copy(read, size) or (
                id(k) in out.present and _same_bytes(k, read, size)
            ):
                if not moved_from(k):
                    if busy(k) and copy_of(k):
                        out.skip.add(i)
                        return
                    continue
                # a copy of the start of a file read further than it: nothing in it is
                # new, and the file it copies is finished
                if k in out.cut:
                    out.cut.remove(k)
                    out.gaps.append(_copytruncate(self.path, s.path))
                self._known.remove(k)
                k.close()
                new = Tracked(_new_state(s, size))
                new.adopt(read)
                out.claimed[i] = new
                return

    def _continue(self, k: Tracked, s: Seen, read: Callable[[int, int], bytes], out: _Poll) -> None:
        """``k``'s bytes are in the new inode ``s``: continue there at its offset. When
        ``k``'s own inode was cut (not reused by another file) and ``s`` is a copy,
        compressed or not, that was a copytruncate: its caveat is reported."""
        if k in out.cut:
            out.cut.remove(k)
            if id(k) in out.rewritten and s.key != k.state.key:
                out.gaps.append(_copytruncate(self.path, s.path))
        if not k.recent:
            k.adopt(read)
        k.close()
        k.state = replace(k.state, key=s.key)

    def _reader(self, s: Seen) -> tuple[Callable[[int, int], bytes], int] | None:
        """How to read the content of ``s`` and its content size; None for a .gz that
        is not complete (reported once as corrupt when it stopped changing)."""
        fd = s.fd
        if not s.gz:
            return pread_of(fd), s.size
        stamp = (s.size, s.mtime_ns)
        info = self._gz.get(s.key)
        if info is None or info.stamp != stamp:
            # an empty file reads as an empty gzip stream, but the smallest complete
            # one has a header and a trailer: empty is a .gz just created, not written
            size, error = gz_scan(fd) if s.size else (None, "empty")
            info = self._gz[s.key] = GzInfo(stamp, size, error)
        if info.content_size is not None:
            return (lambda at, n: gz_read(fd, at, n)), info.content_size
        since = self._gz_stable.get(s.key)
        now = self._clock()
        if since is None or since[0] != stamp:
            self._gz_stable[s.key] = (stamp, now)
        elif now - since[1] >= self.settle_s and (*s.key, s.size) not in self._gz_reported:
            self._gz_reported.add((*s.key, s.size))
            log.error("%s: %s; skipped", s.path, info.error)
        return None

    def _absent(self, k: Tracked, out: _Poll, now: float) -> bool:
        """A known file that is not in the set. If a descriptor is still held on it and
        shows its bytes, it is drained in its place (an old rotation before the set;
        the former live file after the known rotations and before any file that is
        new since the last poll), and closed once it is deleted or its grace period
        is over. Its state is kept for the grace period.
        Returns whether it is still kept."""
        st = k.state
        if st.missing_since is None:
            k.state = st = replace(st, missing_since=now)
        expired = st.missing_since is None or now - st.missing_since >= self.grace_s
        if k.fd is not None:
            deleted = os.fstat(k.fd).st_nlink == 0
            finish = deleted or expired
            if not st.live:
                out.older.append((k, finish))
            else:
                (out.deleted if deleted else out.moved).append((k, finish))
            # a finished file is still known for the grace period: a compressed copy
            # of it seen later continues it instead of being read as new; one the
            # poll's budget does not reach in time is kept until it is drained
            return True
        if not expired:
            return True
        if st.live or st.offset < st.size:
            lost = st.size - st.offset if st.offset < st.size else None
            out.gaps.append(
                Gap("gone", str(k.path or self.path), "a file not read to its end is gone", lost)
            )
        return False

    def _drain_all(
        self, absent: list[tuple[Tracked, bool]], frames: list[Frame], budget: int
    ) -> int:
        """Drain files that left the set, in order, within ``budget``: one the budget
        does not reach stays held (and known) for the next poll. A deleted file
        that is reached is drained to its end at once: its bytes are only in the
        descriptor, which a crash would lose. Returns the bytes read."""
        used = 0
        for k, finish in absent:
            if used < budget:
                assert k.fd is not None
                deleted = os.fstat(k.fd).st_nlink == 0
                used += self._drain_absent(k, finish, frames, 1 << 62 if deleted else budget - used)
        absent.clear()
        return used

    def _drain_absent(self, k: Tracked, finish: bool, frames: list[Frame], budget: int) -> int:
        assert k.fd is not None
        used = self._drain(k, pread_of(k.fd), frames, budget)
        if finish and used < budget:  # at its end, and it will not grow again
            self._flush_tail(k, frames)
            k.close()
            k.state = replace(k.state, live=False, size=k.state.offset)  # read to its end
        return used

    # --- reading ------------------------------------------------------------------------

    def _read(
        self, known: Tracked, s: Seen, frames: list[Frame], budget: int, moved_on: bool
    ) -> int:
        """Read ``s`` within ``budget``. A rotated file whose writer has ``moved_on``
        (a newer file of the set holds data) or that stopped changing for
        ``settle_s`` is complete: its unterminated last line is delivered, as a
        replay of it would."""
        if s.gz:
            return self._read_gz(known, s, frames, budget)
        if known.fd is None or known.fd_key != s.key:
            known.close()
            known.fd = os.dup(s.fd)
            known.fd_key = s.key
        used = self._drain(known, pread_of(known.fd), frames, budget)
        st = known.state
        if (st.size, st.live, st.key, st.mtime_ns, st.gen) != (
            s.size, s.live, s.key, s.mtime_ns, s.gen
        ):  # fmt: skip
            known.state = replace(
                st, size=s.size, live=s.live, key=s.key, mtime_ns=s.mtime_ns, gen=s.gen
            )
        settled = self._clock() - s.mtime_ns / 1e9 >= self.settle_s
        at_end = known.state.offset + len(known.pending) >= os.fstat(known.fd).st_size
        if known.pending and not s.live and at_end and (moved_on or settled):
            self._flush_tail(known, frames)
        return used

    def _drain(
        self,
        known: Tracked,
        read: Callable[[int, int], bytes],
        frames: list[Frame],
        budget: int,
    ) -> int:
        """Frames from the offset on, at most ``budget`` bytes read; the bytes of an
        incomplete last line stay pending."""
        total = 0
        skipping = known.state.skipping
        while total < budget:
            chunk = read(known.state.offset + len(known.pending), min(READ_SIZE, budget - total))
            if not chunk:
                break
            total += len(chunk)
            buf = known.pending + chunk if known.pending else chunk
            got, used, skipping = split_lines(
                buf, skipping=skipping, max_line_bytes=self.max_line_bytes
            )
            frames.extend(got)
            known.consumed(buf, used)
            if skipping != known.state.skipping:
                known.state = replace(known.state, skipping=skipping)
            known.pending = buf[used:]
        return total

    def _flush_tail(self, known: Tracked, frames: list[Frame]) -> None:
        """A file that will never grow again: its unterminated last line is delivered
        (the decoder judges it)."""
        if known.pending and not known.state.skipping:
            frames.append(known.pending)
        known.consumed(known.pending)
        known.state = replace(known.state, skipping=False)
        known.pending = b""

    def _read_gz(self, known: Tracked, s: Seen, frames: list[Frame], budget: int) -> int:
        """A complete compressed file, from the offset on, within the poll's budget;
        its decompressor is kept for the next poll, so a large one costs one pass."""
        info = self._gz.get(s.key)
        if info is None or info.content_size is None:
            return 0
        content = info.content_size
        if known.fd is not None:
            known.close()  # the plain file it continues
        if known.gz is None or known.gz_key != s.key:
            known.close_gz()
            known.pending = b""
            known.gz, known.gz_key = gz_open(s.fd), s.key
            known.gz.seek(known.state.offset)
        reader = known.gz

        def read(at: int, n: int) -> bytes:
            assert reader.tell() == at, (reader.tell(), at)
            return reader.read(n)

        used = self._drain(known, read, frames, budget) if known.state.offset < content else 0
        known.state = replace(
            known.state,
            key=s.key,
            size=content,
            live=False,
            gz=True,
            mtime_ns=s.mtime_ns,
            gen=s.gen,
        )
        if known.state.offset + len(known.pending) >= content:
            self._flush_tail(known, frames)  # complete: its last line is delivered
            known.close_gz()
        return used


def _new_state(s: Seen, offset: int) -> FileState:
    """A file seen for the first time, ``offset`` bytes of it taken as consumed: its
    identity (inode, generation, mtime) is recorded at once, not at its first read."""
    return FileState(
        s.key, offset, size=offset, live=s.live, gz=s.gz, mtime_ns=s.mtime_ns, gen=s.gen
    )


def _copytruncate(path: Path, copy: Path) -> Gap:
    return Gap(
        "copytruncate",
        str(path),
        f"continued in the copy {copy.name}; lines written between the copy and the "
        "truncation are not visible",
    )


def _same_bytes(k: Tracked, read: Callable[[int, int], bytes], size: int) -> bool:
    """A file no longer than the bytes consumed of ``k``, equal to them at its end
    (``k`` being present, its descriptor shows them)."""
    if k.fd is None or size <= 0 or size > k.state.offset:
        return False
    n = min(TAIL_BYTES, size)
    head = min(k.state.head_len, size)
    return read(size - n, n) == os.pread(k.fd, n, size - n) and (
        read(0, head) == os.pread(k.fd, head, 0)
    )


def _shows(fd: int, read: Callable[[int, int], bytes], size: int) -> bool:
    """Does a file of ``size`` begin with all that ``fd`` holds (checked at both ends
    of it)? An empty ``fd`` is no evidence."""
    held = os.fstat(fd).st_size
    if held == 0 or size < held:
        return False
    n = min(TAIL_BYTES, held)
    return read(0, n) == os.pread(fd, n, 0) and read(held - n, n) == os.pread(fd, n, held - n)
