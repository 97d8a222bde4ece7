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
   was listed, and lists again: a set that changed meanwhile is listed anew. From
   then on, every byte is read through the checked descriptor;
2. matches the files to the known ones (inode and digests first, content second);
3. drains the known files no longer in the set through the descriptor still held
   on them (a deleted file to its end at once; one that only left the set keeps
   being drained for the grace period, in case it comes back);
4. reads each file of the set from its offset, or from 0 if it is new.

A known file that is **temporarily unavailable** (the path briefly replaced by a
directory, unreadable, moved away) keeps its state for ``grace_s`` seconds; when
it comes back as the same identity it resumes at its offset, and only a genuinely
new identity starts at 0. The spell is logged and listed in
:attr:`Follower.unavailable`, never counted as bad lines. A ``.gz`` is read only
when its stream is complete: a half-written one is "not ready yet" and retried; a
corrupt one is reported once by name after its size has stopped changing for
``gz_settle_s`` seconds, then skipped.

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

import contextlib
import errno
import gzip
import hashlib
import logging
import os
import re
import stat
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, cast

from streaming.framing import Frame, split_lines

log = logging.getLogger("streaming.follow")

HEAD_BYTES = 256  # the prefix digested into a file's identity
TAIL_BYTES = 256  # the bytes before the offset digested into a file's identity
RECENT_BYTES = 64 << 10  # last bytes consumed, kept in memory to recognise a short copy
READ_SIZE = 1 << 20
POSITION_VERSION = 2
SCAN_RETRIES = 4
GRACE_S = 300.0
GZ_SETTLE_S = 30.0
_ROTATED = re.compile(r"^\.(\d+)(\.gz)?$")
_GZ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)
Key = tuple[int, int]


class InputError(Exception):
    """An input that cannot be read as a log (not a regular file, a corrupt or
    incomplete ``.gz``); the message names the path and the problem."""


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class FileState:
    """What the follower knows of one file: its identity and the bytes consumed."""

    key: Key | None  # (device, inode) when last seen; None only after a migration
    offset: int  # bytes consumed: complete lines and skipped over-long bytes
    skipping: bool = False  # in the middle of an over-long line
    head: str = ""  # digest of the first ``head_len`` bytes
    head_len: int = 0
    tail: str = ""  # digest of the ``tail_len`` bytes before ``offset``
    tail_len: int = 0
    size: int = 0  # size when last seen (content size for a .gz)
    live: bool = False  # it was ``path`` itself when last seen
    missing_since: float | None = None  # when it was last seen, while unavailable
    gz: bool = False  # a compressed file (an inode never turns from plain to .gz)
    mtime_ns: int | None = None  # modification time when last seen

    def to_state(self) -> dict[str, Any]:
        return {
            "key": None if self.key is None else list(self.key),
            "offset": self.offset,
            "skipping": self.skipping,
            "head": self.head,
            "head_len": self.head_len,
            "tail": self.tail,
            "tail_len": self.tail_len,
            "size": self.size,
            "live": self.live,
            "missing_since": self.missing_since,
            "gz": self.gz,
            "mtime_ns": self.mtime_ns,
        }

    @classmethod
    def from_state(cls, s: dict[str, Any]) -> FileState:
        key = s.get("key")
        since = s.get("missing_since")
        return cls(
            None if key is None else (int(key[0]), int(key[1])),
            int(s["offset"]),
            bool(s["skipping"]),
            str(s["head"]),
            int(s["head_len"]),
            str(s["tail"]),
            int(s["tail_len"]),
            int(s["size"]),
            bool(s["live"]),
            None if since is None else float(since),
            bool(s.get("gz", False)),
            None if s.get("mtime_ns") is None else int(s["mtime_ns"]),
        )

    @classmethod
    def from_v1(cls, s: dict[str, Any]) -> FileState:
        """A file of a version-1 position (identity = first line): its inode when it
        was recorded, and the first line as the head digest; no tail digest."""
        first = bytes.fromhex(s["fingerprint"])
        offset = int(s["offset"])
        n = min(len(first), offset)
        key = s.get("file_key")
        return cls(
            None if key is None else (int(key[0]), int(key[1])),
            offset,
            bool(s.get("skipping", False)),
            digest(first[:n]) if n else "",
            n,
            size=int(s.get("size", 0)),
            live=bool(s.get("live", False)),
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Every known file of the rotated set, oldest first."""

    files: tuple[FileState, ...] = ()

    def to_state(self) -> dict[str, Any]:
        return {"version": POSITION_VERSION, "files": [f.to_state() for f in self.files]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Position:
        """Reads this version and migrates version 1 (no ``version`` field)."""
        version = state.get("version", 1)
        if version == 1:
            return cls(tuple(FileState.from_v1(f) for f in state["files"]))
        if version != POSITION_VERSION:
            raise ValueError(f"follower position version {version} is not supported")
        return cls(tuple(FileState.from_state(f) for f in state["files"]))


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


def rotated_siblings(path: Path) -> list[Path]:
    """``path.1``, ``path.2``, … (plain or ``.gz``), newest first."""
    found: list[tuple[int, int, Path]] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(path.parent):
            if entry.name.startswith(path.name):
                m = _ROTATED.match(entry.name[len(path.name) :])
                if m:
                    found.append((int(m.group(1)), 1 if m.group(2) else 0, Path(entry.path)))
    return [p for _, _, p in sorted(found)]


def rotated_set(path: str | Path) -> list[Path]:
    """Every existing file of a rotated set, oldest first, the live file last."""
    path = Path(path)
    files = list(reversed(rotated_siblings(path)))
    if path.exists():
        files.append(path)
    return files


def _is_gz(path: Path) -> bool:
    return path.suffix == ".gz"


def check_regular(path: str | Path) -> None:
    """Raises :class:`InputError` unless ``path`` is a regular file (or absent:
    FileNotFoundError is the caller's to give)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file ({_kind(st.st_mode)})")


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


# --- an opened member of the set ----------------------------------------------------------


@dataclass(slots=True)
class _Seen:
    """A file of the set, opened and checked: every read goes through ``fd``."""

    path: Path
    fd: int  # this poll's own descriptor, closed at its end
    key: Key
    size: int  # plain: bytes; .gz: compressed bytes
    mtime_ns: int
    live: bool

    @property
    def gz(self) -> bool:
        return _is_gz(self.path)


class _GzInfo:
    """What decompressing a ``.gz`` once found: complete (content size), not ready
    (stream incomplete) or corrupt, for one (inode, size, mtime)."""

    __slots__ = ("content_size", "error", "stamp")

    def __init__(self, stamp: tuple[int, int], content_size: int | None, error: str) -> None:
        self.stamp = stamp
        self.content_size = content_size
        self.error = error  # "" | "incomplete" | a corruption message


def _gz_open(fd: int) -> IO[bytes]:
    """A decompressing reader over a duplicate of ``fd`` (the duplicate shares the
    file offset, so it starts by seeking to the start)."""
    dup = os.dup(fd)
    os.lseek(dup, 0, os.SEEK_SET)
    raw: IO[bytes] = os.fdopen(dup, "rb")
    return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))


def _gz_read(fd: int, start: int, n: int) -> bytes:
    with _gz_open(fd) as fh:
        fh.seek(start)
        return fh.read(n)


def _gz_scan(fd: int) -> tuple[int | None, str]:
    """Decompress to the end: (content size, "") or (None, why not)."""
    try:
        with _gz_open(fd) as fh:
            total = 0
            while chunk := fh.read(READ_SIZE):
                total += len(chunk)
            return total, ""
    except EOFError:
        return None, "incomplete"
    except _GZ_ERRORS as exc:
        return None, f"corrupt: {exc}"


# --- what the follower holds on a known file ------------------------------------------------


class _Known:
    """A known file: its state, a descriptor held on it (so that its rest stays
    readable after a rename or an unlink), and the last bytes consumed."""

    __slots__ = ("fd", "fd_key", "head_bytes", "path", "pending", "recent", "state")

    def __init__(self, state: FileState) -> None:
        self.state = state
        self.path: Path | None = None
        self.fd: int | None = None
        self.fd_key: Key | None = None
        self.pending = b""  # read past the offset, no newline yet
        self.recent = b""  # the last consumed bytes (up to RECENT_BYTES), ending at offset
        self.head_bytes = b""  # the first consumed bytes (up to HEAD_BYTES)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.fd_key = None
        self.pending = b""

    def consumed(self, data: bytes) -> None:
        """``data`` was consumed at the old offset: keep the digests current."""
        if not data:
            return
        st = self.state
        if len(self.head_bytes) < HEAD_BYTES and st.offset == len(self.head_bytes):
            self.head_bytes += data[: HEAD_BYTES - len(self.head_bytes)]
        recent = self.recent + data
        self.recent = recent[-RECENT_BYTES:]
        offset = st.offset + len(data)
        tail = self.recent[-TAIL_BYTES:]
        head_len, head = st.head_len, st.head
        if head_len < HEAD_BYTES and len(self.head_bytes) > head_len:
            head_len, head = len(self.head_bytes), digest(self.head_bytes)
        self.state = replace(
            st, offset=offset, head=head, head_len=head_len, tail=digest(tail), tail_len=len(tail)
        )

    def adopt(self, read: Callable[[int, int], bytes]) -> None:
        """Fill the in-memory bytes from a file verified to hold them (after a
        restart, or a move to a new inode)."""
        st = self.state
        n = min(RECENT_BYTES, st.offset)
        self.recent = read(st.offset - n, n) if n else b""
        self.head_bytes = read(0, min(HEAD_BYTES, st.offset)) if st.offset else b""
        if st.tail_len < min(TAIL_BYTES, st.offset) or st.head_len < len(self.head_bytes):
            tail = self.recent[-TAIL_BYTES:]
            self.state = replace(
                st,
                head=digest(self.head_bytes),
                head_len=len(self.head_bytes),
                tail=digest(tail),
                tail_len=len(tail),
            )

    def holds(self, read: Callable[[int, int], bytes], size: int) -> bool:
        """Does a file with this content hold exactly the bytes consumed?"""
        st = self.state
        if size < st.offset:
            return False
        if st.head_len and digest(read(0, st.head_len)) != st.head:
            return False
        if st.tail_len and digest(read(st.offset - st.tail_len, st.tail_len)) != st.tail:
            return False
        # the start of a line read but not yet complete must still be there too
        n = min(len(self.pending), max(size - st.offset, 0))
        return n == len(self.pending) and (not n or read(st.offset, n) == self.pending)

    def is_prefix_copy(self, read: Callable[[int, int], bytes], size: int) -> bool:
        """Is a file of ``size`` (< offset) a copy of the start of this one? Its
        head and its last bytes must equal the bytes consumed there."""
        st = self.state
        back = st.offset - size
        if size <= 0 or back <= 0 or size < st.head_len or back + 1 > len(self.recent):
            return False
        if st.head_len and digest(read(0, st.head_len)) != st.head:
            return False
        n = min(TAIL_BYTES, size, len(self.recent) - back)
        end = len(self.recent) - back
        return read(size - n, n) == self.recent[end - n : end]


@dataclass(slots=True)
class _Spell:
    """A file that is unavailable, and since when (for the status and the log)."""

    path: str
    reason: str
    since: float


@dataclass(slots=True)
class _Poll:
    frames: list[Frame] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    claimed: dict[int, _Known] = field(default_factory=dict)  # index into the set -> file
    present: set[int] = field(default_factory=set)  # id() of known files found by inode
    cut: list[_Known] = field(default_factory=list)  # known inodes now holding other bytes
    skip: set[int] = field(default_factory=set)  # indexes not to read now
    seen: list[_Seen] = field(default_factory=list)
    blocked: dict[Key, int] = field(default_factory=dict)  # present, unreadable: size
    older: list[tuple[_Known, bool]] = field(default_factory=list)  # drain before the set
    deleted: list[tuple[_Known, bool]] = field(default_factory=list)  # before new files
    moved: list[tuple[_Known, bool]] = field(default_factory=list)  # before the live file


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
        gz_settle_s: float = GZ_SETTLE_S,
        clock: Callable[[], float] = time.time,
        opener: Callable[[str, int], int] = os.open,
    ) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.max_poll_bytes = max_poll_bytes
        self.grace_s = grace_s
        self.gz_settle_s = gz_settle_s
        self._clock = clock
        self._opener = opener
        self._known: list[_Known] = [
            _Known(fs) for fs in (position.files if position is not None else ())
        ]
        self._gz: dict[Key, _GzInfo] = {}
        self._gz_stable: dict[Key, tuple[tuple[int, int], float]] = {}
        self._gz_reported: set[tuple[int, int, int]] = set()
        self._spells: dict[str, _Spell] = {}

    @property
    def position(self) -> Position:
        return Position(tuple(k.state for k in self._known))

    @property
    def unavailable(self) -> dict[str, str]:
        """Files of the set that are unavailable right now, and why."""
        return {p: s.reason for p, s in self._spells.items()}

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
        seen, blocked = self._scan(now)
        try:
            out.seen, out.blocked = seen, blocked
            before = {id(k) for k in self._known}
            plan = self._match(seen, blocked, out, now)
            self._drain_all(out.older, out.frames)
            budget = self.max_poll_bytes
            more = False
            for known, s in plan:
                # a deleted former live file holds older bytes than any file new since
                # the last poll; one moved away may have been copied and truncated
                # first, so it comes just before the live file
                if s.live or id(known) not in before:
                    self._drain_all(out.deleted, out.frames)
                if s.live:
                    self._drain_all(out.moved, out.frames)
                known.path = s.path
                if budget > 0 or s.gz:
                    budget -= self._read(known, s, out.frames, budget)
                    more = more or budget <= 0
            self._drain_all(out.deleted, out.frames)  # no live file right now
            self._drain_all(out.moved, out.frames)
        finally:
            for s in seen:
                os.close(s.fd)
            live = {s.key for s in seen}
            for cache in (self._gz, self._gz_stable):
                for key in [k for k in cache if k not in live]:
                    del cache[key]
        return Batch(out.frames, out.gaps, self.position, more)

    def _scan(self, now: float) -> tuple[list[_Seen], dict[Key, int]]:
        """Open the regular files of the set, oldest first, each confirmed by fstat
        to be the inode that was listed; list again until the set held still.
        Returns them and the inodes present but unreadable (with the reason)."""
        for attempt in range(SCAN_RETRIES):
            seen, blocked, stable = self._scan_once(now)
            if stable:
                stable = all(_key_of(s.path) == s.key for s in seen)
            if stable or attempt == SCAN_RETRIES - 1:
                # a set that kept moving: the descriptors still say who each file
                # is; only the order of files renamed meanwhile may be off
                return seen, blocked
            for s in seen:
                os.close(s.fd)
        raise AssertionError("unreachable")

    def _scan_once(self, now: float) -> tuple[list[_Seen], dict[Key, int], bool]:
        seen: list[_Seen] = []
        blocked: dict[Key, int] = {}
        troubled: set[str] = set()
        stable = True
        for p in [*reversed(rotated_siblings(self.path)), self.path]:
            try:
                st = os.stat(p)
            except FileNotFoundError:
                continue
            except OSError as exc:
                troubled.add(self._spell(p, exc.strerror or str(exc), now))
                continue
            if not stat.S_ISREG(st.st_mode):
                troubled.add(self._spell(p, _kind(st.st_mode), now))
                continue
            key = (st.st_dev, st.st_ino)
            twin = next((s for s in seen if s.key == key), None)
            if twin is not None:  # one inode under two names (a hard link): read it once
                twin.live = twin.live or p == self.path
                continue
            held = next((k.fd for k in self._known if k.fd is not None and k.fd_key == key), None)
            try:
                if held is not None:
                    fd = os.dup(held)
                else:
                    fd = self._opener(str(p), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                stable = False
                continue
            except OSError as exc:
                blocked[key] = st.st_size  # present, unreadable: its size is all we know
                troubled.add(self._spell(p, exc.strerror or str(exc), now))
                continue
            fst = os.fstat(fd)
            if (fst.st_dev, fst.st_ino) != key or not stat.S_ISREG(fst.st_mode):
                os.close(fd)
                stable = False
                continue
            seen.append(_Seen(p, fd, key, fst.st_size, fst.st_mtime_ns, p == self.path))
        for name in [n for n in self._spells if n not in troubled]:
            del self._spells[name]
            log.info("%s is available again", name)
        return seen, blocked, stable

    def _spell(self, path: Path, reason: str, now: float) -> str:
        name = str(path)
        spell = self._spells.get(name)
        if spell is None or spell.reason != reason:
            self._spells[name] = _Spell(name, reason, now)
            log.warning("%s is unavailable (%s); keeping its position", name, reason)
        return name

    # --- matching -----------------------------------------------------------------------

    def _match(
        self, seen: list[_Seen], blocked: dict[Key, int], out: _Poll, now: float
    ) -> list[tuple[_Known, _Seen]]:
        """Pair the files of the set with the known ones; drain or keep the known
        files that are not in it. Returns the files to read, in set order."""
        for i, s in enumerate(seen):
            k = next((k for k in self._known if k.state.key == s.key), None)
            if k is None:
                continue
            if k.state.gz != s.gz:  # the inode of a removed file, reused
                out.cut.append(k)
                continue
            reader = self._reader(s)
            if reader is None:  # a .gz not readable yet: keep the file's state
                out.claimed[i] = k
                out.present.add(id(k))
                continue
            read, size = reader
            if self._same_file(k, s) and k.holds(read, size):
                if not k.recent and k.state.offset:
                    k.adopt(read)
                out.claimed[i] = k
                out.present.add(id(k))
            else:
                out.cut.append(k)
        for k in self._known:  # present but unreadable, and shorter than consumed: cut
            if k.state.key in blocked and blocked[k.state.key] < k.state.offset:
                out.cut.append(k)
        matched = {id(k) for k in out.claimed.values()}
        for k in list(self._known):  # not in the set, but still held open: was it cut?
            if (
                id(k) not in matched
                and k not in out.cut
                and k.fd is not None
                and not k.holds(_pread(k.fd), os.fstat(k.fd).st_size)
            ):
                # its identity is cut (a copy may continue it); what the descriptor
                # shows now is a new file, read from its start
                out.cut.append(k)
                fresh = _Known(FileState(k.fd_key, 0, live=k.state.live))
                fresh.fd, fresh.fd_key, fresh.path = k.fd, k.fd_key, k.path
                k.fd = k.fd_key = None
                self._known.append(fresh)
        for i, s in enumerate(seen):
            if i not in out.claimed:
                self._match_content(i, s, out)
        keep: list[_Known] = []
        taken = {id(k) for k in out.claimed.values()}
        for k in self._known:
            if id(k) in taken:
                continue
            if k in out.cut:
                if k.state.offset > 0:
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
        plan: list[tuple[_Known, _Seen]] = []
        for i, s in enumerate(seen):
            if i in out.skip:
                continue
            k = out.claimed.get(i) or _Known(FileState(s.key, 0, live=s.live))
            if k.state.missing_since is not None:
                log.info("%s is back; resuming at offset %d", s.path, k.state.offset)
                k.state = replace(k.state, missing_since=None)
            plan.append((k, s))
        self._known = keep + [k for k, _ in plan]
        return plan

    @staticmethod
    def _same_file(k: _Known, s: _Seen) -> bool:
        """Can the known inode ``k`` still be the file it was? Rotation never makes a
        rotated file live again, and a rotated file is not written to any more (its
        mtime stays): otherwise the inode was freed and reused by a new file. (A
        rotated file still being written is then read again from its start, and
        de-duplication rejects its lines: duplicates counted, never lines lost.)"""
        st = k.state
        if st.live:
            return True
        return not s.live and (st.mtime_ns is None or st.mtime_ns == s.mtime_ns)

    def _match_content(self, i: int, s: _Seen, out: _Poll) -> None:
        """A new inode: a known file's bytes moved here (compression, a copy), a copy
        of a file still present, or a new file."""
        reader = self._reader(s)
        if reader is None:
            out.skip.add(i)  # a .gz not complete yet (or corrupt): not read now
            return
        read, size = reader
        taken = {id(k) for k in out.claimed.values()}

        def busy(k: _Known) -> bool:  # still here, or already continued elsewhere
            return id(k) in taken and k not in out.cut

        def copy_of(k: _Known) -> bool:
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

        def moved_from(k: _Known) -> bool:
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
            unknown = k.state.key in out.blocked and k not in out.cut
            if unknown and (k.holds(read, size) or k.is_prefix_copy(read, size)):
                out.skip.add(i)  # a copy of a file that cannot be checked now: wait
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
                new = _Known(FileState(s.key, size, size=size, live=s.live))
                new.adopt(read)
                out.claimed[i] = new
                return

    def _continue(self, k: _Known, s: _Seen, read: Callable[[int, int], bytes], out: _Poll) -> None:
        """``k``'s bytes are in the new inode ``s``: continue there at its offset. When
        ``k``'s own inode now holds other bytes and ``s`` is a plain copy, that was a
        copytruncate (a compressed copy is a rotation whose old inode was reused)."""
        if k in out.cut:
            out.cut.remove(k)
            if not s.gz:
                out.gaps.append(_copytruncate(self.path, s.path))
        if not k.recent:
            k.adopt(read)
        k.close()
        k.state = replace(k.state, key=s.key)

    def _reader(self, s: _Seen) -> tuple[Callable[[int, int], bytes], int] | None:
        """How to read the content of ``s`` and its content size; None for a .gz that
        is not complete (reported once as corrupt when it stopped changing)."""
        fd = s.fd
        if not s.gz:
            return _pread(fd), s.size
        stamp = (s.size, s.mtime_ns)
        info = self._gz.get(s.key)
        if info is None or info.stamp != stamp:
            size, error = _gz_scan(fd)
            info = self._gz[s.key] = _GzInfo(stamp, size, error)
        if info.content_size is not None:
            return (lambda at, n: _gz_read(fd, at, n)), info.content_size
        since = self._gz_stable.get(s.key)
        now = self._clock()
        if since is None or since[0] != stamp:
            self._gz_stable[s.key] = (stamp, now)
        elif now - since[1] >= self.gz_settle_s and (*s.key, s.size) not in self._gz_reported:
            self._gz_reported.add((*s.key, s.size))
            log.error("%s: %s; skipped", s.path, info.error)
        return None

    def _absent(self, k: _Known, out: _Poll, now: float) -> bool:
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
            return not finish
        if not expired:
            return True
        if st.live or st.offset < st.size:
            lost = st.size - st.offset if st.offset < st.size else None
            out.gaps.append(
                Gap("gone", str(k.path or self.path), "a file not read to its end is gone", lost)
            )
        return False

    def _drain_all(self, absent: list[tuple[_Known, bool]], frames: list[Frame]) -> None:
        for k, finish in absent:
            self._drain_absent(k, finish, frames)
        absent.clear()

    def _drain_absent(self, k: _Known, finish: bool, frames: list[Frame]) -> None:
        self._drain_fd(k, frames, 1 << 62)
        if finish:  # deleted, or away too long: it will not grow again
            self._flush_tail(k, frames)
            k.close()

    # --- reading ------------------------------------------------------------------------

    def _read(self, known: _Known, s: _Seen, frames: list[Frame], budget: int) -> int:
        if s.gz:
            return self._read_gz(known, s, frames)
        if known.fd is None or known.fd_key != s.key:
            known.close()
            known.fd = os.dup(s.fd)
            known.fd_key = s.key
        used = self._drain_fd(known, frames, budget)
        known.state = replace(known.state, size=s.size, live=s.live, key=s.key, mtime_ns=s.mtime_ns)
        return used

    def _drain_fd(self, known: _Known, frames: list[Frame], budget: int) -> int:
        assert known.fd is not None
        total = 0
        skipping = known.state.skipping
        while total < budget:
            at = known.state.offset + len(known.pending)
            chunk = os.pread(known.fd, min(READ_SIZE, budget - total), at)
            if not chunk:
                break
            total += len(chunk)
            buf = known.pending + chunk if known.pending else chunk
            got, used, skipping = split_lines(
                buf, skipping=skipping, max_line_bytes=self.max_line_bytes
            )
            frames.extend(got)
            known.consumed(buf[:used])
            known.state = replace(known.state, skipping=skipping)
            known.pending = buf[used:]
        return total

    def _flush_tail(self, known: _Known, frames: list[Frame]) -> None:
        """A file that will never grow again: its unterminated last line is delivered
        (the decoder judges it)."""
        if known.pending and not known.state.skipping:
            frames.append(known.pending)
        known.consumed(known.pending)
        known.state = replace(known.state, skipping=False)
        known.pending = b""

    def _read_gz(self, known: _Known, s: _Seen, frames: list[Frame]) -> int:
        """A compressed rotation is complete: read it from the offset to its end."""
        known.close()
        info = self._gz.get(s.key)
        if info is None or info.content_size is None:
            return 0
        st = known.state
        if info.content_size <= st.offset:
            known.state = replace(
                st, key=s.key, size=info.content_size, live=False, gz=True, mtime_ns=s.mtime_ns
            )
            return 0
        with _gz_open(s.fd) as fh:
            for got, data in _frames_of(fh, st.offset, st.skipping, self.max_line_bytes):
                frames.extend(got)
                known.consumed(data)
        known.state = replace(
            known.state,
            key=s.key,
            size=info.content_size,
            live=False,
            skipping=False,
            gz=True,
            mtime_ns=s.mtime_ns,
        )
        return info.content_size - st.offset


def _copytruncate(path: Path, copy: Path) -> Gap:
    return Gap(
        "copytruncate",
        str(path),
        f"continued in the copy {copy.name}; lines written between the copy and the "
        "truncation are not visible",
    )


def _same_bytes(k: _Known, read: Callable[[int, int], bytes], size: int) -> bool:
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


def _pread(fd: int) -> Callable[[int, int], bytes]:
    return lambda at, n: os.pread(fd, n, at)


def _key_of(path: Path) -> Key | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _frames_of(
    fh: IO[bytes], offset: int, skipping: bool, max_line_bytes: int, read_size: int = READ_SIZE
) -> Iterator[tuple[list[Frame], bytes]]:
    """Frames of a complete stream from ``offset``, each batch with the bytes it
    consumed; a last line without a newline is delivered."""
    fh.seek(offset)
    pending = b""
    while chunk := fh.read(read_size):
        buf = pending + chunk if pending else chunk
        got, used, skipping = split_lines(buf, skipping=skipping, max_line_bytes=max_line_bytes)
        pending = buf[used:]
        yield got, buf[:used]
    if pending:
        yield ([] if skipping else [pending]), pending


@dataclass(frozen=True, slots=True)
class WholeFile:
    frames: list[Frame]
    end: int  # content size: the offset after the last byte


def open_input(path: str | Path) -> IO[bytes]:
    """Open one complete log file (plain or ``.gz``) for reading, refusing anything
    but a regular file (checked on the opened descriptor)."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: not a regular file ({_kind(st.st_mode)})")
        os.set_blocking(fd, True)
        raw: IO[bytes] = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if _is_gz(path) else raw


def iter_frames(
    path: str | Path,
    *,
    max_line_bytes: int = 1 << 20,
    offset: int = 0,
    skipping: bool = False,
    read_size: int = READ_SIZE,
    stop: int | None = None,
) -> Iterator[tuple[list[Frame], int]]:
    """The frames of one complete file (plain or ``.gz``) from ``offset`` up to the
    content offset ``stop`` (default: its end), one read at a time, each with the
    content offset read so far; a last line without a newline is delivered, since
    the file is complete. Memory is bounded by a read. A file that is not regular,
    or a ``.gz`` that is incomplete or corrupt, raises :class:`InputError`."""
    pending = b""
    end = offset
    try:
        with open_input(path) as fh:
            fh.seek(offset)
            while chunk := fh.read(read_size if stop is None else min(read_size, stop - end)):
                end += len(chunk)
                buf = pending + chunk if pending else chunk
                got, used, skipping = split_lines(
                    buf, skipping=skipping, max_line_bytes=max_line_bytes
                )
                pending = buf[used:]
                yield got, end
    except EOFError:
        raise InputError(f"{path}: compressed stream is incomplete (truncated .gz)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{path}: not a valid .gz ({exc})") from None
    except OSError as exc:
        if exc.errno is None and _is_gz(Path(path)):  # e.g. "CRC check failed"
            raise InputError(f"{path}: not a valid .gz ({exc})") from None
        if exc.errno == errno.EISDIR:
            raise InputError(f"{path}: not a regular file (a directory)") from None
        raise
    if pending and not skipping:
        yield [pending], end


def read_whole(
    path: str | Path, *, max_line_bytes: int = 1 << 20, offset: int = 0, skipping: bool = False
) -> WholeFile:
    """All frames of one complete file (plain or ``.gz``) from ``offset``; a last
    line without a newline is delivered, since the file is complete."""
    frames: list[Frame] = []
    end = offset
    for got, reached in iter_frames(
        path, max_line_bytes=max_line_bytes, offset=offset, skipping=skipping
    ):
        frames.extend(got)
        end = reached
    return WholeFile(frames, end)
