"""Tail-following a growing log file and its rotated set, across rotation,
truncation and restarts.

:class:`Follower` turns ``path`` (with ``path.1``, ``path.2.gz`` …) into frames
(complete lines, or :data:`~streaming.framing.OVERLONG` markers), each delivered
once and in write order, plus :class:`Gap` reports wherever data may have been
lost. Its :class:`Position` is a small value to checkpoint *together with* whatever
consumed the frames; a follower started from it continues exactly where the old
one stopped.

How it works. A file is known by its **fingerprint**: its first line (at most 256
bytes). The position holds, for every file of the rotated set, the fingerprint and
the bytes consumed (complete lines only, so a partial last line simply waits for
its newline, also across restarts). Every :meth:`Follower.poll` — a periodic scan
decides; file-system notifications, where a caller uses them, only make it poll
sooner:

1. lists the rotated set, oldest first: ``path.N[.gz]`` … ``path.1``, ``path``;
2. drains first the known files that are no longer in the set (deleted, expired,
   truncated) through the descriptor still held on them, if their content still
   starts with their fingerprint; otherwise their unread rest is reported as a gap;
3. reads each file of the set from its known offset, or from 0 if its fingerprint
   is new.

So a **rename rotation** continues in ``path.1`` where it stopped (and a
compressed ``path.2.gz`` the same way), also when it happened while the follower
was down; **delete + recreate** drains the old file, then reads the new one;
**copytruncate** continues in the copy where it stopped and reports a gap of kind
``copytruncate``: lines written between the copy and the truncation exist in
neither file and no reader can see them (that is the copytruncate caveat); a plain
**truncation** of a file being read reports its unread rest as a gap. A file whose
first line is not complete yet is not read yet. Inode numbers play no part, so
their reuse cannot confuse it; two files starting with the same line would (event
lines carry unique ids, so they never do).

A follower without a position reads the whole retained set from its start: the
same lines, in the same order, as a replay of that set.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streaming.framing import Frame, split_lines

FINGERPRINT_BYTES = 256
READ_SIZE = 1 << 20
_ROTATED = re.compile(r"^\.(\d+)(\.gz)?$")


@dataclass(frozen=True, slots=True)
class FileState:
    """What the follower knows of one file."""

    fingerprint: bytes
    offset: int  # bytes consumed: complete lines and skipped over-long bytes
    skipping: bool = False  # in the middle of an over-long line
    size: int = 0  # size when last seen
    live: bool = False  # it was ``path`` itself when last seen
    file_key: tuple[int, int] | None = None  # (device, inode) when last seen

    def to_state(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint.hex(),
            "offset": self.offset,
            "skipping": self.skipping,
            "size": self.size,
            "live": self.live,
            "file_key": None if self.file_key is None else list(self.file_key),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FileState:
        key = state.get("file_key")
        return cls(
            bytes.fromhex(state["fingerprint"]),
            int(state["offset"]),
            bool(state["skipping"]),
            int(state["size"]),
            bool(state["live"]),
            None if key is None else (int(key[0]), int(key[1])),
        )

    def seen(
        self,
        *,
        offset: int,
        skipping: bool,
        size: int,
        live: bool,
        file_key: tuple[int, int] | None,
    ) -> FileState:
        return FileState(self.fingerprint, offset, skipping, size, live, file_key)


@dataclass(frozen=True, slots=True)
class Position:
    """Every known file of the rotated set, oldest first."""

    files: tuple[FileState, ...] = ()

    def to_state(self) -> dict[str, Any]:
        return {"files": [f.to_state() for f in self.files]}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Position:
        return cls(tuple(FileState.from_state(f) for f in state["files"]))


@dataclass(frozen=True, slots=True)
class Gap:
    """Data that may have been lost, and why. ``lost_bytes`` is a lower bound, or
    None when unknowable."""

    kind: str  # truncated | gone | copytruncate
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
    with contextlib.suppress(FileNotFoundError):
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


def fingerprint_of(head: bytes) -> bytes | None:
    """The first line of a file (with its newline), or its first 256 bytes; None
    while the first line is still incomplete."""
    nl = head.find(b"\n", 0, FINGERPRINT_BYTES)
    if nl >= 0:
        return head[: nl + 1]
    return head[:FINGERPRINT_BYTES] if len(head) >= FINGERPRINT_BYTES else None


class _Known:
    """A known file: its state, where it was last seen, and a descriptor held on it
    so that its rest stays readable after a rename or an unlink."""

    __slots__ = ("fd", "fd_key", "gz_size", "path", "pending", "state")

    def __init__(self, state: FileState) -> None:
        self.state = state
        self.path: Path | None = None
        self.fd: int | None = None
        self.fd_key: tuple[int, int] | None = None  # (device, inode) of the held descriptor
        self.pending = b""  # read past the offset, no newline yet
        self.gz_size: tuple[tuple[int, int, int], int] | None = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        self.pending = b""


@dataclass(frozen=True, slots=True)
class _Seen:
    path: Path
    fingerprint: bytes
    size: int  # for .gz: the compressed size (the content size is found on reading)
    key: tuple[int, int]  # (device, inode)
    live: bool


class Follower:
    """Follows ``path`` and its rotated set; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        position: Position | None = None,
        *,
        max_line_bytes: int = 1 << 20,
        max_poll_bytes: int = 8 << 20,
    ) -> None:
        self.path = Path(path)
        self.max_line_bytes = max_line_bytes
        self.max_poll_bytes = max_poll_bytes
        self._known: dict[bytes, _Known] = {}
        for fs in position.files if position is not None else ():
            self._known[fs.fingerprint] = _Known(fs)

    @property
    def position(self) -> Position:
        return Position(tuple(k.state for k in self._known.values()))

    def close(self) -> None:
        for k in self._known.values():
            k.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- polling ------------------------------------------------------------------------

    def poll(self) -> Batch:
        frames: list[Frame] = []
        gaps: list[Gap] = []
        seen = self._scan()
        present = {s.fingerprint for s in seen}
        for fp in [fp for fp in self._known if fp not in present]:
            self._vanished(self._known.pop(fp), frames, gaps)
        budget = self.max_poll_bytes
        more = False
        order: dict[bytes, _Known] = {}
        for s in seen:
            known = self._known.get(s.fingerprint)
            if known is None:
                known = _Known(FileState(s.fingerprint, 0))
            else:
                self._moved(known, s, gaps)
            order[s.fingerprint] = known
            if budget > 0:
                budget -= self._read(known, s, frames, gaps, budget)
                more = budget <= 0
        self._known = order  # oldest first, as the set is now
        return Batch(frames, gaps, self.position, more)

    def _scan(self) -> list[_Seen]:
        out: list[_Seen] = []
        for p in rotated_set(self.path):
            try:
                st = os.stat(p)
                head = _read_head(p)
            except (OSError, EOFError, gzip.BadGzipFile):
                continue
            fp = fingerprint_of(head)
            if fp is None or any(s.fingerprint == fp for s in out):
                continue  # first line incomplete, or the same content twice (a copy)
            out.append(_Seen(p, fp, st.st_size, (st.st_dev, st.st_ino), p == self.path))
        return out

    def _moved(self, known: _Known, seen: _Seen, gaps: list[Gap]) -> None:
        """A known file seen again: the live file's content in another (uncompressed)
        file means a copytruncate."""
        st = known.state
        if (
            st.live
            and not seen.live
            and not _is_gz(seen.path)
            and st.file_key is not None
            and st.file_key != seen.key
        ):
            gaps.append(
                Gap(
                    "copytruncate",
                    str(self.path),
                    f"continued in the copy {seen.path.name}; lines written between "
                    "the copy and the truncation are not visible",
                )
            )

    def _vanished(self, known: _Known, frames: list[Frame], gaps: list[Gap]) -> None:
        """A known file left the set. Drain it through its held descriptor if that
        still shows the same content; otherwise report what may be lost."""
        st = known.state
        if known.fd is not None:
            head = os.pread(known.fd, FINGERPRINT_BYTES, 0)
            if fingerprint_of(head) == st.fingerprint and os.fstat(known.fd).st_size >= st.offset:
                self._drain_fd(known, frames, 1 << 62)
                self._flush_tail(known, frames)
                known.close()
                return
            gaps.append(
                Gap(
                    "truncated",
                    str(known.path or self.path),
                    f"cut or rewritten below offset {st.offset}; its unread rest is lost",
                )
            )
            # If it was also rewritten and unlinked between two polls, its new content
            # cannot be placed in order against the files that followed: it is part
            # of the reported loss rather than delivered out of order.
            known.close()
            return
        if st.live or st.offset < st.size:
            lost = st.size - st.offset if st.offset < st.size else None
            gaps.append(
                Gap("gone", str(self.path), "a file that was not read to its end is gone", lost)
            )

    # --- reading ------------------------------------------------------------------------

    def _read(
        self, known: _Known, seen: _Seen, frames: list[Frame], gaps: list[Gap], budget: int
    ) -> int:
        known.path = seen.path
        if _is_gz(seen.path):
            return self._read_gz(known, seen, frames)
        if known.fd is None or known.fd_key != seen.key:
            known.close()
            try:
                known.fd = os.open(seen.path, os.O_RDONLY)
            except FileNotFoundError:
                return 0
            known.fd_key = seen.key
        size = os.fstat(known.fd).st_size
        st = known.state
        if size < st.offset:
            # Same first line but shorter: cut in the middle. Resume at the cut, at
            # the next line start.
            gaps.append(
                Gap(
                    "truncated",
                    str(seen.path),
                    f"cut from {st.offset} to {size} bytes; unread data before the cut is lost",
                )
            )
            at_line_start = size == 0 or os.pread(known.fd, 1, size - 1) == b"\n"
            known.pending = b""
            known.state = st.seen(
                offset=size,
                skipping=not at_line_start,
                size=size,
                live=st.live,
                file_key=st.file_key,
            )
        used = self._drain_fd(known, frames, budget)
        s = known.state
        known.state = s.seen(
            offset=s.offset, skipping=s.skipping, size=size, live=seen.live, file_key=seen.key
        )
        return used

    def _drain_fd(self, known: _Known, frames: list[Frame], budget: int) -> int:
        assert known.fd is not None
        total = 0
        st = known.state
        offset, skipping = st.offset, st.skipping
        while total < budget:
            chunk = os.pread(known.fd, min(READ_SIZE, budget - total), offset + len(known.pending))
            if not chunk:
                break
            total += len(chunk)
            buf = known.pending + chunk if known.pending else chunk
            got, used, skipping = split_lines(
                buf, skipping=skipping, max_line_bytes=self.max_line_bytes
            )
            frames.extend(got)
            offset += used
            known.pending = buf[used:]
        known.state = st.seen(
            offset=offset, skipping=skipping, size=st.size, live=st.live, file_key=st.file_key
        )
        return total

    def _flush_tail(self, known: _Known, frames: list[Frame]) -> None:
        """A file that will never grow again: its unterminated last line is delivered
        (the decoder judges it)."""
        st = known.state
        if known.pending and not st.skipping:
            frames.append(known.pending)
        known.state = st.seen(
            offset=st.offset + len(known.pending),
            skipping=False,
            size=st.size,
            live=st.live,
            file_key=st.file_key,
        )
        known.pending = b""

    def _read_gz(self, known: _Known, seen: _Seen, frames: list[Frame]) -> int:
        """A compressed rotation is complete: read it from the offset to its end."""
        known.close()
        st = known.state
        cache_key = (seen.key[0], seen.key[1], seen.size)
        if (
            known.gz_size is not None
            and known.gz_size[0] == cache_key
            and (known.gz_size[1] <= st.offset)
        ):
            return 0
        got = read_whole(
            seen.path, max_line_bytes=self.max_line_bytes, offset=st.offset, skipping=st.skipping
        )
        frames.extend(got.frames)
        known.gz_size = (cache_key, got.end)
        known.state = st.seen(
            offset=got.end, skipping=False, size=got.end, live=False, file_key=seen.key
        )
        return max(got.end - st.offset, 0)


def _read_head(path: Path) -> bytes:
    if _is_gz(path):
        with gzip.open(path, "rb") as fh:
            return fh.read(FINGERPRINT_BYTES)
    with open(path, "rb") as fh:
        return fh.read(FINGERPRINT_BYTES)


@dataclass(frozen=True, slots=True)
class WholeFile:
    frames: list[Frame]
    end: int  # content size: the offset after the last byte


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
    the file is complete. Memory is bounded by a read."""
    path = Path(path)
    opener = gzip.open if _is_gz(path) else open
    pending = b""
    end = offset
    with opener(path, "rb") as fh:
        fh.seek(offset)
        while chunk := fh.read(read_size if stop is None else min(read_size, stop - end)):
            end += len(chunk)
            buf = pending + chunk if pending else chunk
            got, used, skipping = split_lines(buf, skipping=skipping, max_line_bytes=max_line_bytes)
            pending = buf[used:]
            yield got, end
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
