"""Running maximum drawdown of a cumulative path that starts at 0.

The state is (total, highest prefix, lowest prefix, max drawdown), all prefixes
including the empty one (0). Two segments merge exactly: the worst fall is in the
first segment, in the second, or from the first's peak to the second's trough.

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


@dataclass(frozen=True, slots=True)
class DrawdownResult:
    total: float
    peak: float
    trough: float
    max_drawdown: float


class Drawdown(Accumulator[float, DrawdownResult]):
    __slots__ = ("max_drawdown", "peak", "total", "trough")

    def __init__(
        self, total: float = 0.0, peak: float = 0.0, trough: float = 0.0, max_drawdown: float = 0.0
    ) -> None:
        self.total = total
        self.peak = peak
        self.trough = trough
        self.max_drawdown = max_drawdown

    def update(self, x: float) -> None:
        self.total += x
        if self.total > self.peak:
            self.peak = self.total
        elif self.total < self.trough:
            self.trough = self.total
        fall = self.peak - self.total
        self.max_drawdown = max(self.max_drawdown, fall)

    @classmethod
    def of_block(cls, xs: npt.NDArray[np.float64]) -> Self:
        """The state after ``update`` on each of ``xs``, computed with numpy (the
        running total is the same sequential sum, so the result is identical)."""
        if len(xs) == 0:
            return cls()
        cum = np.cumsum(xs)
        peaks = np.maximum(np.maximum.accumulate(cum), 0.0)
        return cls(
            float(cum[-1]),
            float(peaks[-1]),
            min(float(cum.min()), 0.0),
            float((peaks - cum).max()),
        )

    @classmethod
    def of_padded(cls, xs: npt.NDArray[np.float64]) -> list[Self]:
        """:meth:`of_block` of each row of ``xs``, all rows at once. Rows are padded
        with 0 (as may be values to skip): a step of 0 leaves the path, its peak, its
        trough and its worst fall as they were."""
        if xs.shape[1] == 0:
            return [cls() for _ in range(len(xs))]
        cum = np.cumsum(xs, axis=1)
        peaks = np.maximum(np.maximum.accumulate(cum, axis=1), 0.0)
        troughs = np.minimum(cum.min(axis=1), 0.0)
        falls = (peaks - cum).max(axis=1)
        return [
            cls(*parts)
            for parts in zip(
                cum[:, -1].tolist(),
                peaks[:, -1].tolist(),
                troughs.tolist(),
                falls.tolist(),
                strict=True,
            )
        ]

    def merge(self, other: Self) -> None:
        across = self.peak - (self.total + other.trough)
        self.max_drawdown = max(self.max_drawdown, other.max_drawdown, across)
        self.peak = max(self.peak, self.total + other.peak)
        self.trough = min(self.trough, self.total + other.trough)
        self.total += other.total

    @property
    def result(self) -> DrawdownResult:
        return DrawdownResult(self.total, self.peak, self.trough, self.max_drawdown)

    def to_state(self) -> list[float]:
        return [self.total, self.peak, self.trough, self.max_drawdown]

    @classmethod
    def from_state(cls, state: list[float]) -> Self:
        total, peak, trough, dd = state
        return cls(float(total), float(peak), float(trough), float(dd))
