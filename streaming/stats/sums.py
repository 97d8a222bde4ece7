"""Compensated (Neumaier) summation: the running sum keeps the low-order bits that
plain float addition drops, so long streams and merges stay accurate.

>>> s = CompensatedSum()
>>> for x in [1e16, 1.0, -1e16]:
...     s.update(x)
>>> s.result
1.0
>>> sum([1e16, 1.0, -1e16])
0.0
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt

from streaming.stats.base import Accumulator


def _two_sum(total: float, comp: float, x: float) -> tuple[float, float]:
    t = total + x
    if abs(total) >= abs(x):
        comp += (total - t) + x
    else:
        comp += (x - t) + total
    return t, comp


class CompensatedSum(Accumulator[float, float]):
    __slots__ = ("comp", "total")

    def __init__(self, total: float = 0.0, comp: float = 0.0) -> None:
        self.total = total
        self.comp = comp

    def update(self, x: float) -> None:
        self.total, self.comp = _two_sum(self.total, self.comp, x)

    @classmethod
    def of_block(cls, xs: npt.NDArray[np.float64]) -> Self:
        """The sum of ``xs`` with numpy's pairwise summation (error O(log n · ε)
        relative to Σ|x|); blocks then combine through the compensated merge."""
        return cls(float(xs.sum()))

    @classmethod
    def of_padded(cls, xs: npt.NDArray[np.float64]) -> list[Self]:
        """:meth:`of_block` of each row of ``xs`` (blocks padded with 0), in one pass."""
        return [cls(total) for total in xs.sum(axis=1).tolist()]

    def merge(self, other: Self) -> None:
        # Add the other's high part exactly; the low-order parts simply add up.
        self.total, comp = _two_sum(self.total, self.comp, other.total)
        self.comp = comp + other.comp

    @property
    def result(self) -> float:
        return self.total + self.comp

    def to_state(self) -> list[float]:
        return [self.total, self.comp]

    @classmethod
    def from_state(cls, state: list[float]) -> Self:
        total, comp = state
        return cls(float(total), float(comp))
