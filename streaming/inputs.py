"""Complete log files as input: the rotated set of a log, regular-file checks, and
reading a whole file (plain or ``.gz``) as frames.

A log ``path`` has a rotated set ``path.N[.gz]`` … ``path.1``, ``path`` (oldest
first). Only regular files are logs: a FIFO, socket, device or directory is refused
with :class:`InputError` naming it, and a ``.gz`` that is incomplete or corrupt is an
:class:`InputError` too, never a traceback from the gzip module.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import re
import stat
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from streaming.framing import Frame, split_lines

READ_SIZE = 1 << 20
# the suffix of a rotated file of a log: ``.N`` or ``.N.gz`` after the log's name
ROTATED = re.compile(r"^\.(\d+)(\.gz)?$")
_LIVE = re.compile(r"(.+)\.\d+(?:\.gz)?")  # a rotated file's name, its log's in group 1


def live_name(name: str) -> str:
    """The log a rotated file's ``name`` belongs to (``name`` itself when it is none).

    >>> live_name("logs/m.jsonl.2.gz"), live_name("logs/m.jsonl.1"), live_name("m.jsonl")
    ('logs/m.jsonl', 'logs/m.jsonl', 'm.jsonl')
    """
    m = _LIVE.fullmatch(name)
    return m.group(1) if m else name
_GZ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, OSError)


class InputError(Exception):
    """An input that cannot be read as a log (not a regular file, a corrupt or
    incomplete ``.gz``); the message names the path and the problem."""


def as_text(path: str | Path) -> str:
    """A path as text that any JSON writer takes: bytes of its name that are not
    UTF-8 (which Python keeps as lone surrogates) as ``\\xNN``; the same path gives
    the same text.

    >>> as_text("logs/m.jsonl"), as_text(os.fsdecode(b"x\\xff.jsonl"))
    ('logs/m.jsonl', 'x\\\\xff.jsonl')
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def rotated_siblings(path: Path) -> list[Path]:
    """``path.1``, ``path.2``, … (plain or ``.gz``), newest first."""
    found: list[tuple[int, int, Path]] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # PermissionError rises
        for entry in os.scandir(path.parent):
            if entry.name.startswith(path.name):
                m = ROTATED.match(entry.name[len(path.name) :])
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


def is_gz(path: Path) -> bool:
    return path.suffix == ".gz"


def check_regular(path: str | Path) -> None:
    """Raises :class:`InputError` unless ``path`` is a regular file (or absent:
    FileNotFoundError is the caller's to give)."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file ({file_kind(st.st_mode)})")


def file_kind(mode: int) -> str:
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


class GzInfo:
    """What decompressing a ``.gz`` once found: complete (content size), not ready
    (stream incomplete) or corrupt, for one (inode, size, mtime)."""

    __slots__ = ("content_size", "error", "stamp")

    def __init__(self, stamp: tuple[int, int], content_size: int | None, error: str) -> None:
        self.stamp = stamp
        self.content_size = content_size
        self.error = error  # "" | "incomplete" | a corruption message


def gz_open(fd: int) -> IO[bytes]:
    """A decompressing reader over a duplicate of ``fd`` (the duplicate shares the
    file offset, so it starts by seeking to the start)."""
    dup = os.dup(fd)
    os.lseek(dup, 0, os.SEEK_SET)
    raw: IO[bytes] = os.fdopen(dup, "rb")
    return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))


def gz_read(fd: int, start: int, n: int) -> bytes:
    with gz_open(fd) as fh:
        fh.seek(start)
        return fh.read(n)


def gz_scan(fd: int) -> tuple[int | None, str]:
    """Decompress to the end: (content size, "") or (None, why not)."""
    try:
        with gz_open(fd) as fh:
            total = 0
            while chunk := fh.read(READ_SIZE):
                total += len(chunk)
            return total, ""
    except EOFError:
        return None, "incomplete"
    except _GZ_ERRORS as exc:
        return None, f"corrupt: {exc}"


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
            raise InputError(f"{path}: not a regular file ({file_kind(st.st_mode)})")
        os.set_blocking(fd, True)
        raw: IO[bytes] = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")) if is_gz(path) else raw


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
        if exc.errno is None and is_gz(Path(path)):  # e.g. "CRC check failed"
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
