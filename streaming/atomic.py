"""Atomic file replacement: readers see the old file or the new one, never a mix.

The bytes go to a temporary file in the same directory, which is flushed and
fsynced, then ``os.replace``d over the target, and the directory is fsynced so
the rename itself survives a power cut.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "doc.json"
>>> atomic_write_bytes(p, b'{"a": 1}')
8
>>> p.read_bytes()
b'{"a": 1}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(directory: str | Path) -> None:
    """Persist a directory entry change (a rename or a new file)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(
    path: str | Path, data: bytes, *, fsync: bool = True, mode: int = 0o644
) -> int:
    """Replace ``path`` with ``data`` atomically; returns the number of bytes written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        fsync_dir(path.parent)
    return len(data)
