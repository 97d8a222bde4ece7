"""Running maximum drawdown of a cumulative path that starts at 0.

The state is (total, highest prefix, lowest prefix, max drawdown), all prefixes
including the empty one (0). Two segments merge exactly: the worst fall is in the
first segment, in the second, or from the first's peak to the second's trough. The
total is a compensated sum and every point of the path is rounded from its
compensated running total (:mod:`streaming.stats.sums`), so a path that cancels
(+1e12, −1e12, …) loses no later bits.

>>> d = Drawdown()
>>> for r in [1.0, -2.0, 0.5, -1.0, 3.0]:
...     d.update(r)
>>> d.result
DrawdownResult(total=1.5, peak=1.5, trough=-1.5, max_drawdown=2.5)
>>> a, b = Drawdown(), Drawdown()
>>> for r in [1.0, -2.0]: a.update(r)
>>> for r in [0.5, -1.0, 3.0]: b.update(r)
>>> (a + b).result == d.result
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt

from streaming.stats.base import Accumulator
from streaming.stats.sums import add_compensated, prefix_sums, two_sum


@dataclass(frozen=True, slots=True)
class DrawdownResult:
    total: float
    peak: float
    trough: float
    max_drawdown: float


class Drawdown(Accumulator[float, DrawdownResult]):
    __slots__ = ("comp", "max_drawdown", "peak", "total", "trough")

    def __init__(
        self,
        total: float = 0.0,
        peak: float = 0.0,
        trough: float = 0.0,
        max_drawdown: float = 0.0,
        comp: float = 0.0,
    ) -> None:
        self.total = total  # with comp: the compensated sum of the path's steps
        self.comp = comp
        self.peak = peak
        self.trough = trough
        self.max_drawdown = max_drawdown

    def update(self, x: float) -> None:
        self.total, self.comp = add_compensated(self.total, self.comp, x)
        here = self.total + self.comp
        if here > self.peak:
            self.peak = here
        elif here < self.trough:
            self.trough = here
        fall = self.peak - here
        self.max_drawdown = max(self.max_drawdown, fall)

    @classmethod
    def of_block(cls, xs: npt.NDArray[np.float64]) -> Self:
        """The state after ``update`` on each of ``xs``, computed with numpy from the
        compensated running totals (:func:`~streaming.stats.sums.prefix_sums`)."""
        if len(xs) == 0:
            return cls()
        cum, hi, lo = prefix_sums(xs)
        peaks = np.maximum(np.maximum.accumulate(cum), 0.0)
        total, comp = two_sum(float(hi[0]), float(lo[0]))
        return cls(
            total,
            float(peaks[-1]),
            min(float(cum.min()), 0.0),
            float((peaks - cum).max()),
            comp,
        )

    @classmethod
    def of_padded(cls, xs: npt.NDArray[np.float64]) -> list[Self]:
        """:meth:`of_block` of each row of ``xs``, all rows at once. Rows are padded
        with 0 (as may be values to skip): a step of 0 leaves the path, its peak, its
        trough and its worst fall as they were."""
        if xs.shape[1] == 0:
            return [cls() for _ in range(len(xs))]
        cum, hi, lo = prefix_sums(xs)
        peaks = np.maximum(np.maximum.accumulate(cum, axis=1), 0.0)
        troughs = np.minimum(cum.min(axis=1), 0.0)
        falls = (peaks - cum).max(axis=1)
        return [
            cls(*parts)
            for parts in zip(
                hi[:, 0].tolist(),
                peaks[:, -1].tolist(),
                troughs.tolist(),
                falls.tolist(),
                lo[:, 0].tolist(),
                strict=True,
            )
        ]

    def merge(self, other: Self) -> None:
        here = self.total + self.comp
        across = self.peak - (here + other.trough)
        self.max_drawdown = max(self.max_drawdown, other.max_drawdown, across)
        self.peak = max(self.peak, here + other.peak)
        self.trough = min(self.trough, here + other.trough)
        self.total, err = two_sum(self.total, other.total)
        self.comp += other.comp + err

    @property
    def result(self) -> DrawdownResult:
        return DrawdownResult(self.total + self.comp, self.peak, self.trough, self.max_drawdown)

    def to_state(self) -> list[float]:
        return [self.total, self.peak, self.trough, self.max_drawdown, self.comp]

    @classmethod
    def from_state(cls, state: list[float]) -> Self:
        total, peak, trough, dd, *comp = state  # the earlier layout had no comp
        return cls(float(total), float(peak), float(trough), float(dd), float(sum(comp)))
