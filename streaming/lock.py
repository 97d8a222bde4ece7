"""Exclusive ownership of a state directory.

One process at a time writes a state directory: ``follow`` and ``replay`` take an
``fcntl.flock`` on ``<dir>/.lock`` for as long as they run and write their pid
into it. A second process gets :class:`StateDirBusyError` naming that pid. The kernel
drops the lock of a process that dies, however it dies, so a stale lock file left
by a killed process is simply taken over.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with StateDirLock(d):
...     try:
...         StateDirLock(d).acquire()
...     except StateDirBusyError as exc:
...         print("busy")
busy
>>> StateDirLock(d).acquire().release()   # free again once released
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

LOCK_NAME = ".lock"


class StateDirError(Exception):
    """The state directory cannot be used (not a directory, not writable)."""


class StateDirBusyError(StateDirError):
    """Another live process holds the state directory."""


class StateDirLock:
    __slots__ = ("directory", "fd")

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.fd: int | None = None

    def acquire(self) -> StateDirLock:
        if self.directory.exists() and not self.directory.is_dir():
            raise StateDirError(f"{self.directory}: state directory is not a directory")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateDirError(
                f"{self.directory}: cannot use as state directory ({exc.strerror or exc})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateDirBusyError(
                f"{self.directory}: state directory is in use by pid {holder}"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing drops the lock
            self.fd = None

    def __enter__(self) -> StateDirLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
