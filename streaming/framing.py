"""Line framing over a byte stream.

Complete lines (without their newline) come out; a partial last line stays behind
until its newline arrives; a line longer than ``max_line_bytes`` is cut out,
reported once as :data:`OVERLONG`, and skipped up to its newline — even if that
newline arrives many reads later.

>>> f = LineFramer(max_line_bytes=8)
>>> f.feed(b"ab\\ncd")
[b'ab']
>>> f.feed(b"e\\n0123456789")
[b'cde', <overlong line>]
>>> f.feed(b"xyz\\nok\\n")
[b'ok']
"""

from __future__ import annotations

from typing import Final, cast


class _Overlong:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<overlong line>"


OVERLONG: Final = _Overlong()
Frame = bytes | _Overlong


def split_lines(
    buf: bytes, *, skipping: bool, max_line_bytes: int
) -> tuple[list[Frame], int, bool]:
    """Frame ``buf``. Returns (frames, bytes consumed, still skipping an over-long line).

    Bytes not consumed are a partial last line shorter than the limit; the caller
    presents them again, with more data, on the next call.
    """
    end = len(buf)
    if not skipping:  # the common case, in C: no line over the limit
        lines = buf.split(b"\n")
        partial = lines.pop()
        if max(map(len, lines), default=0) <= max_line_bytes >= len(partial):
            return cast(list[Frame], lines), end - len(partial), False
    frames: list[Frame] = []
    pos = 0
    while pos < end:
        nl = buf.find(b"\n", pos)
        if skipping:
            if nl < 0:
                return frames, end, True
            skipping = False
            pos = nl + 1
            continue
        if nl < 0:
            if end - pos > max_line_bytes:
                frames.append(OVERLONG)
                return frames, end, True
            break
        if nl - pos > max_line_bytes:
            frames.append(OVERLONG)
        else:
            frames.append(buf[pos:nl])
        pos = nl + 1
    return frames, pos, skipping


class LineFramer:
    """Incremental framing for a stream that arrives in arbitrary chunks."""

    __slots__ = ("_buf", "max_line_bytes", "skipping")

    def __init__(self, max_line_bytes: int = 1 << 20) -> None:
        self.max_line_bytes = max_line_bytes
        self.skipping = False
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Frame]:
        buf = self._buf + chunk if self._buf else chunk
        frames, used, self.skipping = split_lines(
            buf, skipping=self.skipping, max_line_bytes=self.max_line_bytes
        )
        self._buf = buf[used:]
        return frames

    @property
    def pending(self) -> bytes:
        """The partial last line waiting for its newline."""
        return self._buf
