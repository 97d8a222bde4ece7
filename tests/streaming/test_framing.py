"""Framing: any chunking of a byte stream yields the same frames as framing it whole."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streaming.framing import OVERLONG, LineFramer, split_lines

lines = st.lists(st.binary(max_size=24).map(lambda b: b.replace(b"\n", b"")), max_size=30)


def reference(data: bytes, limit: int) -> tuple[list, bytes]:
    """Plain split: complete lines, over-long ones replaced by OVERLONG, plus the tail."""
    *complete, tail = data.split(b"\n")
    frames = [OVERLONG if len(x) > limit else x for x in complete]
    return frames, tail


@given(
    lines,
    st.booleans(),
    st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")),
    st.integers(4, 20),
    st.data(),
)
def test_any_chunking_gives_the_same_frames(body, _, tail, limit, data):
    stream = b"".join(x + b"\n" for x in body) + tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    framer = LineFramer(max_line_bytes=limit)
    got = []
    for lo, hi in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got.extend(framer.feed(stream[lo:hi]))
    want, want_tail = reference(stream, limit)
    if len(want_tail) > limit:
        # an over-long partial line is reported as soon as it passes the limit
        want = [*want, OVERLONG]
        assert framer.skipping and framer.pending == b""
    else:
        assert framer.pending == want_tail
    assert got == want


def test_overlong_is_reported_once_across_many_reads():
    f = LineFramer(max_line_bytes=4)
    out = []
    for chunk in [b"0123", b"4567", b"89", b"ab", b"\nok\n"]:
        out.extend(f.feed(chunk))
    assert out == [OVERLONG, b"ok"]


def test_split_lines_resumes_a_skip_from_a_fresh_call():
    """The skip state is all a restart needs: no hidden buffer."""
    frames, used, skipping = split_lines(b"xxxxxxxx", skipping=False, max_line_bytes=4)
    assert (frames, used, skipping) == ([OVERLONG], 8, True)
    frames, used, skipping = split_lines(b"yy\nz\n", skipping=True, max_line_bytes=4)
    assert (frames, used, skipping) == ([b"z"], 5, False)


def test_partial_line_is_not_consumed():
    assert split_lines(b"a\nbc", skipping=False, max_line_bytes=10) == ([b"a"], 2, False)


def test_empty_lines_are_frames():
    assert split_lines(b"\n\n", skipping=False, max_line_bytes=10) == ([b"", b""], 2, False)
