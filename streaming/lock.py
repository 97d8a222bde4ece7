"""Exclusive ownership of a state directory.

One process at a time writes a state directory: ``follow`` and ``replay`` take an
``fcntl.flock`` on the directory itself for as long as they run, and write their
pid into ``<dir>/.lock`` for the message a second process gets
(:class:`StateDirBusyError`, naming that pid). Locking the directory rather than a
file in it means that removing ``.lock`` (a clean-up job) cannot let a second
writer in. The kernel drops the lock of a process that dies, however it dies, so a
``.lock`` left behind by a killed process is simply taken over.

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

from streaming.atomic import atomic_write_bytes

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
            fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise StateDirError(self._cannot(exc)) from None
        pid_file = self.directory / LOCK_NAME
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            try:
                holder = pid_file.read_text(errors="replace").strip() or "unknown"
            except OSError:
                holder = "unknown"
            raise StateDirBusyError(
                f"{self.directory}: state directory is in use by pid {holder}"
            ) from None
        try:
            atomic_write_bytes(pid_file, f"{os.getpid()}\n".encode(), fsync=False)
        except OSError as exc:
            os.close(fd)
            raise StateDirError(self._cannot(exc)) from None
        self.fd = fd
        return self

    def _cannot(self, exc: OSError) -> str:
        return f"{self.directory}: cannot use as state directory ({exc.strerror or exc})"

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                (self.directory / LOCK_NAME).unlink()
            os.close(self.fd)  # closing drops the lock
            self.fd = None

    def __enter__(self) -> StateDirLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()
