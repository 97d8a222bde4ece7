"""Welford's online mean and variance, merged with Chan et al.'s pairwise formula.

>>> mv = MeanVar()
>>> for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]:
...     mv.update(x)
>>> r = mv.result
>>> r.n, r.mean, r.variance_population, r.std_population
(8, 5.0, 4.0, 2.0)
>>> left, right = MeanVar(), MeanVar()
>>> for x in [2.0, 4.0, 4.0]: left.update(x)
>>> for x in [4.0, 5.0, 5.0, 7.0, 9.0]: right.update(x)
>>> (left + right).result.variance_population
4.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt

from streaming.stats.base import Accumulator


@dataclass(frozen=True, slots=True)
class MeanVarResult:
    n: int
    mean: float | None
    variance: float | None  # sample (n - 1); None below two events
    variance_population: float | None

    @property
    def std(self) -> float | None:
        return None if self.variance is None else math.sqrt(self.variance)

    @property
    def std_population(self) -> float | None:
        v = self.variance_population
        return None if v is None else math.sqrt(v)


class MeanVar(Accumulator[float, MeanVarResult]):
    __slots__ = ("m2", "mean", "n")

    def __init__(self, n: int = 0, mean: float = 0.0, m2: float = 0.0) -> None:
        self.n = n
        self.mean = mean
        self.m2 = m2

    def update(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @classmethod
    def of_block(cls, xs: npt.NDArray[np.float64]) -> Self:
        """Count, mean and centred sum of squares of ``xs`` by two numpy passes."""
        n = len(xs)
        if n == 0:
            return cls()
        mean = float(xs.sum()) / n  # = np.mean, without its Python-level wrapper
        dev = xs - mean
        # not np.dot: BLAS threads would spin against the replay's worker processes
        return cls(n, mean, float((dev * dev).sum()))

    @classmethod
    def of_padded(cls, xs: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> list[Self]:
        """:meth:`of_block` of each row of ``xs`` restricted to ``mask`` (padding and
        unknown values masked out), by the same two passes over all rows at once."""
        counts = np.count_nonzero(mask, axis=1)
        kept = np.where(mask, xs, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, kept.sum(axis=1) / counts, 0.0)
        dev = np.where(mask, xs - means[:, None], 0.0)
        m2 = (dev * dev).sum(axis=1)
        return [
            cls(n, mean, s) if n else cls()
            for n, mean, s in zip(counts.tolist(), means.tolist(), m2.tolist(), strict=True)
        ]

    def merge(self, other: Self) -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean, other.m2
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.n = n

    @property
    def result(self) -> MeanVarResult:
        m2 = max(self.m2, 0.0)  # never negative, whatever rounding did
        return MeanVarResult(
            n=self.n,
            mean=self.mean if self.n else None,
            variance=m2 / (self.n - 1) if self.n > 1 else None,
            variance_population=m2 / self.n if self.n else None,
        )

    def to_state(self) -> list[float]:
        return [self.n, self.mean, self.m2]

    @classmethod
    def from_state(cls, state: list[float]) -> Self:
        n, mean, m2 = state
        return cls(int(n), float(mean), float(m2))
