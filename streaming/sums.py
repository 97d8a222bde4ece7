"""Compensated summation: the one owner of every sum the folds keep.

A sum is held as a pair ``(hi, lo)`` of floats whose exact sum is the running total
to about twice the working precision: plain float addition drops the low-order
bits that cancellation later exposes (1e12 − 1e12 + 298 × 0.1), the pair keeps them.
Every path that builds or combines a sum goes through this module, so they agree:

* a block at once: :func:`block_sum` — numpy's running sum is the exact sequence of
  rounded partial sums, so each step's rounding error follows from two of them by
  Knuth's error-free two-sum, vectorised, and the errors are summed apart
  (Ogita, Rump and Oishi's Sum2); :func:`padded_sums` does the same for each row
  of a padded 2-D block, :func:`prefix_sums` gives every running total of a path;
* two sums (or two arrays of sums, row by row): :func:`two_sum` of the high parts,
  the low parts added (the folds' ``merge``).

Each agrees with the exactly rounded ``math.fsum`` within ε·|Σx| + n²ε²·Σ|x| (ε =
2⁻⁵³), which is 1e-9 relative to the sum, or to the data's magnitude where the sum
cancels to about nothing. The pair is exact only while no partial sum overflows:
the decoder's numeric policy bounds every summed value (``docs/numerics.md``).

import numpy as np
>>> sum(block_sum(np.array([1e16, 1.0, -1e16]))), sum([1e16, 1.0, -1e16])
(1.0, 0.0)
>>> xs = np.array([1e12, -1e12] + [0.1] * 298)
>>> float(xs.sum()), sum(block_sum(xs))
(29.799609374999996, 29.8)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


def two_sum(a: Any, b: Any) -> tuple[Any, Any]:
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (Knuth); floats
    or arrays of them, element by element."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _step_errors(partial: Floats, xs: Floats) -> Floats:
    """The rounding error of each step of a running sum along the last axis:
    ``partial[..., i] = fl(partial[..., i-1] + xs[..., i])``, the first step exact."""
    prev, x, s = partial[..., :-1], xs[..., 1:], partial[..., 1:]
    bb = s - prev
    return (prev - (s - bb)) + (x - bb)


def block_sum(xs: Floats) -> tuple[float, float]:
    """The compensated sum ``(hi, lo)`` of a 1-D block, in a few numpy passes."""
    if len(xs) < 2:
        return (float(xs[0]) if len(xs) else 0.0), 0.0
    partial = np.cumsum(xs)
    return two_sum(float(partial[-1]), float(_step_errors(partial, xs).sum()))


def padded_sums(rows: Floats) -> tuple[Floats, Floats]:
    """:func:`block_sum` of each row of a 2-D block (padding with 0 adds nothing):
    the high and the low parts, one per row."""
    if rows.shape[1] == 0:
        zeros = np.zeros(rows.shape[0])
        return zeros, zeros.copy()
    partial = np.cumsum(rows, axis=1)
    hi = partial[:, -1]
    if rows.shape[1] < 2:
        return hi, np.zeros(rows.shape[0])
    lo = _step_errors(partial, rows).sum(axis=1)
    s = hi + lo  # renormalise: the pair's high part is the rounded sum
    bb = s - hi
    return s, (hi - (s - bb)) + (lo - bb)


def prefix_sums(xs: Floats) -> tuple[Floats, Floats, Floats]:
    """Every running total of ``xs`` along the last axis, each rounded once from its
    compensated pair (a path whose later points keep the bits that earlier
    cancellation would drop), and the compensated sum ``(hi, lo)`` of each row (for
    a 1-D block, arrays of one value)."""
    partial = np.cumsum(xs, axis=-1)
    if xs.shape[-1] < 2:
        zeros = np.zeros((*partial.shape[:-1], 1))
        return partial, partial[..., -1:], zeros
    errors = np.cumsum(_step_errors(partial, xs), axis=-1)
    path = partial.copy()
    path[..., 1:] += errors
    return path, partial[..., -1:], errors[..., -1:]


_SPLIT = 134217729.0  # 2^27 + 1: Dekker's splitter for float64


def two_prod(a: Any, b: Any) -> tuple[Any, Any]:
    """``(p, e)`` with ``p = fl(a × b)`` and ``a × b = p + e`` exactly (Dekker), for
    numbers well inside the float range; element by element."""
    p = a * b
    ca, cb = _SPLIT * a, _SPLIT * b
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def mean_pair(hi: Any, lo: Any, n: Any) -> tuple[Any, Any]:
    """The mean of a compensated sum ``(hi, lo)`` over ``n`` as a pair ``(q, c)``
    whose sum is it to about twice the working precision (0 where ``n`` is 0).

    >>> (q,), (c,) = mean_pair(np.array([1e12 + 0.5]), np.array([1e-5]), np.array([3]))
    >>> float(q), bool(abs(c) < 1e-4)
    (333333333333.5, True)
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        safe = np.where(n > 0, n, 1)
        q = hi / safe
        p, e = two_prod(q, safe.astype(np.float64))
        c = ((hi - p) - e + lo) / safe
        return np.where(n > 0, q, 0.0), np.where(n > 0, c, 0.0)
