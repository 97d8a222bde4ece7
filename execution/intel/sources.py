"""Many sources (one log per executor) cut into parts, and a part read into the
columns of its valid events: the order-independent half of a fund replay
(``docs/scale-out.md``).

A *source* is one PATH argument: a log with its rotated set (``path.N[.gz]`` …
``path``, oldest first), or each match of a glob. A local path (or ``file://``
URL) is opened as :func:`~streaming.inputs.open_input` opens it (regular files
only, ``.gz`` checked); a URL of any other protocol goes through ``fsspec``
(installed with the ``[dask]`` extra). A *part* is a whole ``.gz`` file or a byte
range of a plain file; a range owns the lines that *start* in it, so its reader
finds the first line start itself and reads past its end to finish its last line
— no planning step reads the data.

:func:`read_part` decodes a part (JSON, types, numeric bounds, the record check —
everything that does not depend on other lines) without de-duplication, and
returns its valid events in file order, packed with msgpack, with their ``ts``
and the counts of its rejected and skipped lines. De-duplication, group admission
and the windows depend on the order of all events and run in the ordered fold
(:mod:`execution.intel.cluster`).
"""

from __future__ import annotations

import glob as globmod
import gzip
import importlib
import os
import re
import socket
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, cast

import numpy as np

from execution.intel.columnar import EventColumns, to_columns
from execution.intel.events import Event, make_decoder, source_label
from streaming.decode import Reject
from streaming.framing import OVERLONG, Frame, split_lines
from streaming.inputs import ROTATED, InputError, check_regular, open_input, rotated_set

# Bytes of a plain file per part (a part is also the unit a worker retries).
PART_BYTES = 32 << 20
READ_SIZE = 4 << 20
MAX_LINE_BYTES = 1 << 20
_GLOB = re.compile(r"[*?\[]")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Source:
    """One executor's log: its label (the path as given) and files, oldest first."""

    label: str
    files: tuple[str, ...]
    sizes: tuple[int, ...]
    # (device, inode) of each local file at listing (empty for URLs)
    idents: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Part:
    """Lines of ``url`` starting in [``start``, ``stop``) (``stop`` None: to the end);
    ``source`` is the source's index, ``size`` the bytes planned."""

    source: int
    url: str
    start: int
    stop: int | None
    size: int
    # a local file's (device, inode) and size when planned: a part that finds
    # another file there, or a shorter one, fails (rotated or truncated meanwhile)
    ident: tuple[int, int] | None = None
    file_size: int = 0
    host: str = ""  # where it was planned: another host's device ids differ (NFS)
    label: str = ""  # the executor of its events that name none (events.source_label)


@dataclass(slots=True)
class PartEvents:
    """A part's valid events in file order as columns, and the counts of its lines
    that gave no event."""

    lines: int
    columns: EventColumns
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.columns)

    @property
    def ts(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self.columns.ts


# --- where the data is --------------------------------------------------------------------


def _split(url: str) -> tuple[str, str]:
    """(protocol, path): ``""`` for a local path or a ``file://`` URL."""
    if url.startswith("file://"):
        return "", url[len("file://") :]
    head, sep, _ = url.partition("://")
    return (head, url) if sep and head.isidentifier() else ("", url)


def _fs(url: str) -> Any:
    try:  # the [dask] extra, untyped here
        fsspec: Any = importlib.import_module("fsspec")
    except ImportError:
        raise InputError(f"{url}: reading a URL needs fsspec (pip install '.[dask]')") from None
    try:
        return fsspec.core.url_to_fs(url)[0]
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url}: {exc}") from None


def _local_source(label: str, path: str, rotated: bool) -> Source:
    # absolute here, on the client: a worker opens the path in its own working directory
    # (joined, not normalised: through a symlinked directory, "a/../b" is not "b")
    p = Path(path).absolute()
    try:
        check_regular(p)
        files = rotated_set(p) if rotated else [p]
        stats = []
        for f in files:
            check_regular(f)
            with open(f, "rb") as fh:  # unreadable: said here, before any work starts
                stats.append(os.fstat(fh.fileno()))
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{label}: {exc.strerror or exc}") from None
    return Source(
        label,
        tuple(str(f) for f in files),
        tuple(st.st_size for st in stats),
        tuple((st.st_dev, st.st_ino) for st in stats),
    )


def _remote_source(label: str, url: str, rotated: bool) -> Source:
    fs = _fs(url)
    path = fs._strip_protocol(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    if info.get("type") != "file":
        raise InputError(f"{label}: not a regular file")
    files = [(path, int(info["size"]))]
    if rotated:
        parent, name = path.rsplit("/", 1) if "/" in path else ("", path)
        found = []
        for entry in fs.ls(parent or ".", detail=True):
            base = entry["name"].rsplit("/", 1)[-1]
            m = ROTATED.match(base[len(name) :]) if base.startswith(name) else None
            if m and entry.get("type") == "file":
                found.append((-int(m.group(1)), -1 if m.group(2) else 0, entry))
        files = [(e["name"], int(e["size"])) for *_, e in sorted(found)] + files
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return Source(label, tuple(f"{protocol}://{f}" for f, _ in files), tuple(s for _, s in files))


def is_glob(given: str) -> bool:
    """Whether ``given`` is a pattern (and not a local file whose name has ``*?[``)."""
    protocol, path = _split(given)
    return bool(_GLOB.search(path)) and (bool(protocol) or not os.path.lexists(path))


def list_sources(paths: Sequence[str], *, rotated: bool = True) -> list[Source]:
    """The sources of ``paths`` in the order given (a glob: its matches, sorted);
    local paths are made absolute here. Arguments whose files overlap (``X.2.gz
    X.1.gz X``, what a shell makes of ``X*``) are one source, each file read once
    (:func:`join_overlapping`). A missing, unreadable or non-regular input is an
    :class:`InputError` naming it."""
    out: list[Source] = []
    for given in paths:
        protocol, path = _split(given)
        if is_glob(given):
            # a local match as the pattern gives it (relative to a relative pattern):
            # it names its source as the path would (events.source_label)
            matches = (
                sorted(globmod.glob(path))
                if not protocol
                else sorted(_guard(given, _remote_glob, given, path))
            )
            if not matches:
                raise InputError(f"{given}: no file matches")
            named = [m if not protocol else f"{protocol}://{m}" for m in matches]
        else:
            named = [given]
        for name in named:
            proto, p = _split(name)
            out.append(
                _guard(name, _remote_source, name, name, rotated)
                if proto
                else _local_source(name, p, rotated)
            )
    return join_overlapping(out)


def _remote_glob(url: str, path: str) -> list[str]:
    return [str(m) for m in _fs(url).glob(path)]


def _guard(name: str, call: Callable[..., _T], *args: Any) -> _T:
    """``call(*args)``, an OSError of fsspec's (refused connection, a directory, …) said
    as an :class:`InputError` naming ``name``."""
    try:
        return call(*args)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: {getattr(exc, 'strerror', None) or exc}") from None


def _ident(src: Source) -> set[Any]:
    return set(src.idents) if src.idents else set(src.files)


def join_overlapping(sources: Sequence[Source]) -> list[Source]:
    """Sources sharing a file joined into one, at the place of the first, each file
    once: the union must be one rotated set (oldest first), the largest of them;
    else an :class:`InputError` (one log given in ways that do not nest)."""
    out: list[list[Source]] = []
    for src in sources:
        mine = _ident(src)
        hit = [g for g in out if any(mine & _ident(s) for s in g)]
        if not hit:
            out.append([src])
            continue
        for g in hit[1:]:  # src joins groups that shared nothing until now
            hit[0] += g
            out.remove(g)
        hit[0].append(src)
    joined = []
    for group in out:
        whole = max(group, key=lambda s: len(s.files))
        if any(not _ident(s) <= _ident(whole) for s in group):
            names = ", ".join(s.label for s in group)
            raise InputError(f"{names}: these share files of one log but do not nest; give it once")
        joined.append(whole)
    return joined


def plan_parts(sources: Sequence[Source], part_bytes: int = PART_BYTES) -> list[Part]:
    """The parts of every source, sources in order, each source's in file order: a
    ``.gz`` whole, a plain file in ranges of ``part_bytes``."""
    step = max(1, part_bytes)
    out: list[Part] = []
    for k, src in enumerate(sources):
        idents = src.idents or (None,) * len(src.files)
        host = socket.gethostname()
        label = source_label(src.label)
        for url, size, ident in zip(src.files, src.sizes, idents, strict=True):
            if url.endswith(".gz") or size <= step:
                out.append(Part(k, url, 0, None, size, ident, size, host, label))
                continue
            for start in range(0, size, step):
                stop = start + step if start + step < size else None
                cut = min(step, size - start)
                out.append(Part(k, url, start, stop, cut, ident, size, host, label))
    return out


# --- reading a part -----------------------------------------------------------------------


def _open(url: str) -> IO[bytes]:
    protocol, path = _split(url)
    if not protocol:
        return open_input(path)
    compression = "gzip" if url.endswith(".gz") else None
    return cast(IO[bytes], _fs(url).open(url, "rb", compression=compression))


def _line_start(fh: IO[bytes], start: int) -> int | None:
    """The first line start at or after ``start`` (None: none before the end)."""
    if start == 0:
        return 0
    fh.seek(start - 1)
    at = start - 1
    while block := fh.read(1 << 16):
        nl = block.find(b"\n")
        if nl >= 0:
            return at + nl + 1
        at += len(block)
    return None


def _chunks(fh: IO[bytes], begin: int, stop: int | None, read_size: int) -> Iterator[bytes]:
    """The bytes from ``begin`` up to ``stop``, then up to the end of the line that
    holds byte ``stop - 1``."""
    fh.seek(begin)
    at, last = begin, b"\n"
    while stop is None or at < stop:
        chunk = fh.read(read_size if stop is None else min(read_size, stop - at))
        if not chunk:
            return
        at += len(chunk)
        last = chunk[-1:]
        yield chunk
    if last == b"\n":
        return
    while chunk := fh.read(1 << 16):
        nl = chunk.find(b"\n")
        if nl >= 0:
            yield chunk[: nl + 1]
            return
        yield chunk


def _same_file(part: Part, fh: IO[bytes]) -> None:
    """An :class:`InputError` unless ``fh`` is the file planned, at least as long."""
    if part.ident is None:
        return
    st = os.fstat(fh.fileno())
    dev, ino = part.ident
    if st.st_ino != ino or (st.st_dev != dev and socket.gethostname() == part.host):
        why = "rotated while the replay ran (another file is there now)"
    elif st.st_size < part.file_size:
        why = f"truncated while the replay ran ({st.st_size} bytes of {part.file_size} planned)"
    else:
        return
    raise InputError(f"{part.url}: {why}; nothing was published, replay again")


def _frames(part: Part, read_size: int, max_line_bytes: int) -> Iterator[list[Frame]]:
    with _open(part.url) as fh:
        _same_file(part, fh)
        begin = _line_start(fh, part.start)
        if begin is None or (part.stop is not None and begin >= part.stop):
            return
        pending, skipping = b"", False
        for chunk in _chunks(fh, begin, part.stop, read_size):
            buf = pending + chunk if pending else chunk
            got, used, skipping = split_lines(buf, skipping=skipping, max_line_bytes=max_line_bytes)
            pending = buf[used:]
            yield got
        if pending and not skipping:
            yield [pending]


def read_part(
    part: Part,
    *,
    read_size: int = READ_SIZE,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> PartEvents:
    """Decode the lines of ``part`` (the worker's task): its valid events, not
    de-duplicated, in file order, as columns. An input that cannot be read is an
    :class:`InputError` naming it."""
    decode = make_decoder(None).decode_many
    events: list[Event] = []
    rejected: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    lines = 0
    try:
        for framed in _frames(part, read_size, max_line_bytes):
            lines += len(framed)
            frames = framed
            overlong = frames.count(OVERLONG)
            if overlong:
                rejected["over_long"] += overlong
                frames = [f for f in frames if f is not OVERLONG]
            got, outcomes = decode(frames)  # type: ignore[arg-type]
            events += got
            for o in outcomes:
                (rejected if isinstance(o, Reject) else skipped)[o.reason] += 1
    except InputError:
        raise
    except EOFError:
        raise InputError(f"{part.url}: compressed stream is incomplete (truncated .gz)") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{part.url}: not a valid .gz ({exc})") from None
    except OSError as exc:
        raise InputError(f"{part.url}: {exc.strerror or exc}") from None
    return PartEvents(lines, to_columns(events, part.label), rejected, skipped)
