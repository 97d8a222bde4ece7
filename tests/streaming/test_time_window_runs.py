"""The time window's cached pieces (chunk tables, runs of a cut chunk, the run of
whole chunks, the newest chunk's extended table) never change a read: any chunk and
run size gives the brute-force fold of the events in view."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streaming.block import Block
from streaming.composite import Composite
from streaming.fold import Segments
from streaming.kernels import Count, Sum
from streaming.ordered_kernels import Path
from streaming.time_window import TimeWindow

FOLD = Composite([("n", Count()), ("sum", Sum("x")), ("path", Path("x"))], dict)
GROUPS = 3


def block(events):
    ts = np.array([e[0] for e in events])
    codes = np.array([e[1] for e in events], dtype=np.int64)
    x = np.array([e[2] for e in events])
    return Block(ts, {"x": x}, codes, Segments(codes), GROUPS)


def brute(events, horizon):
    """Per group: count, fsum and max drawdown of the events with ts > horizon."""
    out = []
    for g in range(GROUPS):
        xs = [x for ts, c, x in events if c == g and ts > horizon]
        peak = worst = 0.0
        for i in range(len(xs)):
            here = math.fsum(xs[: i + 1])
            peak, worst = max(peak, here), max(worst, max(peak, here) - here)
        out.append((len(xs), math.fsum(xs), worst))
    return out


event = st.tuples(
    st.integers(0, 40).map(float),
    st.integers(0, GROUPS - 1),
    st.sampled_from([1.0, -2.0, 0.5, 1e12, -1e12]),
)


@given(
    st.lists(st.lists(event, min_size=1, max_size=9), min_size=1, max_size=10),
    st.integers(1, 6),
    st.integers(1, 4),
    st.lists(st.integers(0, 15), min_size=1, max_size=4),
)
def test_reads_equal_the_brute_force_fold(blocks, chunk, sub, steps):
    """After every block, reads at rising watermarks equal the brute-force fold."""
    w = TimeWindow(FOLD, span=10.0, chunk=chunk, sub=sub)
    seen = []
    for b in blocks:
        w.absorb(block(b))
        seen += b
        top = max(ts for ts, _, _ in seen)
        for wm in np.cumsum([top, *steps]).tolist():
            got = FOLD.read(w.read(watermark=wm))
            for g, (n, total, worst) in enumerate(brute(seen, wm - 10.0)):
                assert got["n.n"][g] == n
                assert math.isclose(got["sum.sum"][g], total, rel_tol=1e-12, abs_tol=1e-3)
                assert math.isclose(got["path.max_drawdown"][g], worst, rel_tol=1e-9, abs_tol=1e-3)
