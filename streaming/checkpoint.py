"""Checkpoints: engine state and input position in one document, written atomically,
versioned and checksummed, with the previous generation kept.

File layout: one header line of JSON (format, version, sequence number, payload
length and SHA-256), then the payload bytes. :meth:`CheckpointStore.save` writes
the new file beside the old one (temp file, fsync), hard-links the current file to
``<name>.prev`` atomically, replaces the current file, and fsyncs the directory:
at every instant at least one complete generation is on disk.

:meth:`CheckpointStore.load` returns the newest valid generation. A torn or
corrupt current file falls back to the previous generation (reported); if no
valid generation exists although a checkpoint file does, it raises
:class:`CheckpointError` — a silent fresh start would count everything twice.

>>> import tempfile, pathlib
>>> store = CheckpointStore(pathlib.Path(tempfile.mkdtemp()) / "engine.ckpt")
>>> store.load() is None          # nothing yet: a fresh start is legitimate
True
>>> store.save({"count": 1}); store.save({"count": 2})
>>> store.load().payload, store.load().generation
({'count': 2}, 'current')
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from streaming.atomic import fsync_dir
from streaming.faults import crash_point
from streaming.jsonsafe import check_finite

FORMAT = "streaming-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """No usable checkpoint although one exists: refuse to start."""


class _Header(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    seq: int
    length: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Loaded:
    payload: Any
    seq: int
    generation: str  # "current" or "previous"
    problem: str = ""  # why the current generation was not used


def encode_checkpoint(payload: Any, seq: int) -> bytes:
    check_finite(payload)
    body = msgspec.json.encode(payload)
    header = _Header(FORMAT, VERSION, seq, len(body), hashlib.sha256(body).hexdigest())
    return msgspec.json.encode(header) + b"\n" + body


def decode_checkpoint(data: bytes) -> tuple[Any, int]:
    """Payload and sequence number, or ValueError saying what is wrong."""
    nl = data.find(b"\n")
    if nl < 0:
        raise ValueError("no header line (torn write?)")
    try:
        header = msgspec.json.decode(data[:nl], type=_Header)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ValueError(f"bad header: {exc}") from None
    if header.format != FORMAT:
        raise ValueError(f"not a checkpoint (format {header.format!r})")
    if header.version != VERSION:
        raise ValueError(
            f"unsupported checkpoint version {header.version} (this build reads {VERSION})"
        )
    body = data[nl + 1 :]
    if len(body) != header.length:
        raise ValueError(f"payload is {len(body)} bytes, header says {header.length} (torn write?)")
    if hashlib.sha256(body).hexdigest() != header.sha256:
        raise ValueError("checksum mismatch (corrupt)")
    try:
        return msgspec.json.decode(body), header.seq
    except msgspec.DecodeError as exc:  # pragma: no cover - checksum makes this unreachable
        raise ValueError(f"bad payload: {exc}") from None


class CheckpointStore:
    __slots__ = ("_seq", "path", "prev")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.prev = self.path.with_name(self.path.name + ".prev")
        self._seq: int | None = None

    def load(self) -> Loaded | None:
        problems = []
        for generation, path in (("current", self.path), ("previous", self.prev)):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                problems.append(f"{path.name}: missing")
                continue
            try:
                payload, seq = decode_checkpoint(data)
            except ValueError as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            self._seq = seq
            return Loaded(payload, seq, generation, "; ".join(problems))
        if self.path.exists() or self.prev.exists():
            raise CheckpointError(
                f"{self.path}: no valid checkpoint ({'; '.join(problems)}); refusing to start "
                "from zero, which would count events twice. Move the files away to start fresh."
            )
        return None

    def save(self, payload: Any) -> None:
        if self._seq is None:
            with contextlib.suppress(CheckpointError):
                self.load()
        self._seq = (self._seq or 0) + 1
        data = encode_checkpoint(payload, self._seq)
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                crash_point("checkpoint.written")
                os.fsync(fh.fileno())
            crash_point("checkpoint.synced")
            if self.path.exists():
                link = f"{tmp}.prev"
                os.link(self.path, link)
                os.replace(link, self.prev)
                crash_point("checkpoint.previous_kept")
            os.replace(tmp, self.path)
            crash_point("checkpoint.replaced")
        except BaseException:
            for leftover in (tmp, f"{tmp}.prev"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
            raise
        fsync_dir(directory)
