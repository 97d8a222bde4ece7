"""Reading canonical logs whole: for replays and the batch functions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from streaming.framing import Frame
from streaming.inputs import iter_frames, rotated_set


def log_files(path: str | Path, *, rotated: bool = True) -> list[Path]:
    """The files of a canonical log, oldest first: its rotated set (``path.N[.gz]`` …
    ``path.1``, ``path``) when ``rotated``, else the one file. Missing → empty."""
    path = Path(path)
    if rotated:
        return rotated_set(path)
    return [path] if path.exists() else []


def iter_log_frames(
    paths: Iterable[str | Path], *, max_line_bytes: int = 1 << 20
) -> Iterator[tuple[list[Frame], int]]:
    """Frames of complete files, a read at a time, with the bytes read so far."""
    done = 0
    for path in paths:
        end = 0
        for frames, end in iter_frames(path, max_line_bytes=max_line_bytes):
            yield frames, done + end
        done += end


def load_lines(path: str | Path, *, rotated: bool = True) -> list[Frame]:
    """Every line of a canonical log (with its rotated set), for the batch functions:
    bytes per line, :data:`~streaming.framing.OVERLONG` for an over-long one."""
    return [f for frames, _ in iter_log_frames(log_files(path, rotated=rotated)) for f in frames]
