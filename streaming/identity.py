"""The identity of a followed file and what the follower holds on it.

A file is its ``(device, inode)`` *and* two digests of the bytes already consumed:
the first :data:`HEAD_BYTES` and the :data:`TAIL_BYTES` just before the offset (see
``docs/follower.md``). :class:`FileState` is that identity with the offset, as it is
checkpointed; :class:`Position` is every known file of a rotated set, versioned, with
the migration from the first-line identity of format 1. :class:`Tracked` is what
the follower holds on a file while it runs: the state, a descriptor, the bytes of an
incomplete last line and the last bytes consumed, and the checks of whether some
content still holds exactly the bytes consumed.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

HEAD_BYTES = 256  # the prefix digested into a file's identity
TAIL_BYTES = 256  # the bytes before the offset digested into a file's identity
RECENT_BYTES = 64 << 10  # last bytes consumed, kept in memory to recognise a short copy
POSITION_VERSION = 2
Key = tuple[int, int]
_FS_IOC_GETVERSION = 0x80087601  # _IOR('v', 1, long)


def inode_generation(fd: int) -> int | None:
    """The inode's generation number (ext4, XFS, btrfs: it changes when an inode
    number is reused), or None where the filesystem has none (tmpfs, most network
    filesystems)."""
    buf = array.array("l", [0])
    try:
        fcntl.ioctl(fd, _FS_IOC_GETVERSION, buf, True)
    except OSError:
        return None
    return int(buf[0])


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
    gen: int | None = None  # the inode's generation, where the filesystem has one

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
            "gen": self.gen,
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
            None if s.get("gen") is None else int(s["gen"]),
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


class Tracked:
    """A known file: its state, a descriptor held on it (so that its rest stays
    readable after a rename or an unlink), and the last bytes consumed."""

    __slots__ = (
        "fd",
        "fd_key",
        "gz",
        "gz_key",
        "head_bytes",
        "path",
        "pending",
        "recent",
        "state",
    )

    def __init__(self, state: FileState) -> None:
        self.state = state
        self.path: Path | None = None
        self.fd: int | None = None
        self.fd_key: Key | None = None
        self.gz: IO[bytes] | None = None  # a decompressor at offset + len(pending)
        self.gz_key: Key | None = None
        self.pending = b""  # read past the offset, no newline yet
        self.recent = b""  # the last consumed bytes (up to RECENT_BYTES), ending at offset
        self.head_bytes = b""  # the first consumed bytes (up to HEAD_BYTES)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.fd_key = None
        self.close_gz()
        self.pending = b""

    def close_gz(self) -> None:
        if self.gz is not None:
            self.gz.close()
            self.gz = self.gz_key = None

    def consumed(self, data: bytes, used: int | None = None) -> None:
        """The first ``used`` bytes of ``data`` (all of it by default) were consumed
        at the old offset: keep the digests current. Only the head and the last
        :data:`RECENT_BYTES` are copied, whatever the size of ``data``."""
        n = len(data) if used is None else used
        if not n:
            return
        st = self.state
        if len(self.head_bytes) < HEAD_BYTES and st.offset == len(self.head_bytes):
            self.head_bytes += data[: min(n, HEAD_BYTES - len(self.head_bytes))]
        if n >= RECENT_BYTES:
            self.recent = data[n - RECENT_BYTES : n]
        else:
            self.recent = (self.recent + data[:n])[-RECENT_BYTES:]
        tail = self.recent[-TAIL_BYTES:]
        head_len, head = st.head_len, st.head
        if head_len < HEAD_BYTES and len(self.head_bytes) > head_len:
            head_len, head = len(self.head_bytes), digest(self.head_bytes)
        # the constructor, not dataclasses.replace: this runs once per read
        self.state = FileState(
            st.key, st.offset + n, st.skipping, head, head_len, digest(tail), len(tail),
            st.size, st.live, st.missing_since, st.gz, st.mtime_ns, st.gen,
        )  # fmt: skip

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


def pread_of(fd: int) -> Callable[[int, int], bytes]:
    return lambda at, n: os.pread(fd, n, at)
