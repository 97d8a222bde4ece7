"""Welford's online mean and variance, merged with Chan et al.'s pairwise formula.

The mean is the compensated sum of the values (:mod:`streaming.stats.sums`) over
their count, so it agrees with ``math.fsum(xs) / n`` whatever the cancellation;
the centred sum of squares follows Welford (one event) or two passes (a block).

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
from streaming.stats.sums import add_compensated, block_sum, padded_sums, two_sum


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
    """Count, compensated sum ``(total, comp)``, and Welford's running mean ``mu``
    with the centred sum of squares ``m2`` around it. The published mean is the
    compensated sum over the count; ``mu`` only centres ``m2`` (a constant stream
    keeps ``m2`` exactly 0)."""

    __slots__ = ("comp", "m2", "mu", "n", "total")

    def __init__(
        self, n: int = 0, total: float = 0.0, m2: float = 0.0, comp: float = 0.0,
        mu: float | None = None,
    ) -> None:  # fmt: skip
        self.n = n
        self.total = total
        self.comp = comp
        self.mu = (total + comp) / n if mu is None and n else (mu or 0.0)
        self.m2 = m2

    @property
    def mean(self) -> float:
        return (self.total + self.comp) / self.n if self.n else 0.0

    def update(self, x: float) -> None:
        self.total, self.comp = add_compensated(self.total, self.comp, x)
        self.n += 1
        delta = x - self.mu
        self.mu += delta / self.n
        self.m2 += delta * (x - self.mu)

    @classmethod
    def of_block(cls, xs: npt.NDArray[np.float64]) -> Self:
        """Count, compensated sum and centred sum of squares of ``xs`` by two passes."""
        n = len(xs)
        if n == 0:
            return cls()
        total, comp = block_sum(xs)
        mu = (total + comp) / n
        dev = xs - mu
        # not np.dot: BLAS threads would spin against the replay's worker processes
        return cls(n, total, float((dev * dev).sum()), comp, mu)

    @classmethod
    def of_padded(cls, xs: npt.NDArray[np.float64], mask: npt.NDArray[np.bool_]) -> list[Self]:
        """:meth:`of_block` of each row of ``xs`` restricted to ``mask`` (padding and
        unknown values masked out), by the same two passes over all rows at once."""
        counts = np.count_nonzero(mask, axis=1)
        kept = np.where(mask, xs, 0.0)
        totals, comps = padded_sums(kept)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, (totals + comps) / counts, 0.0)
        dev = np.where(mask, xs - means[:, None], 0.0)
        m2 = (dev * dev).sum(axis=1)
        return [
            cls(n, t, s, c, mu) if n else cls()
            for n, t, c, s, mu in zip(
                counts.tolist(),
                totals.tolist(),
                comps.tolist(),
                m2.tolist(),
                means.tolist(),
                strict=True,
            )
        ]

    def merge(self, other: Self) -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.total, self.comp = other.n, other.total, other.comp
            self.mu, self.m2 = other.mu, other.m2
            return
        n = self.n + other.n
        delta = other.mu - self.mu
        self.mu += delta * other.n / n
        self.m2 += other.m2 + delta * delta * self.n * other.n / n
        self.total, err = two_sum(self.total, other.total)
        self.comp += other.comp + err
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
        return [self.n, self.total, self.m2, self.comp, self.mu]

    @classmethod
    def from_state(cls, state: list[float]) -> Self:
        if len(state) == 3:  # the earlier layout: count, mean, m2
            n, mean, m2 = state
            return cls(int(n), float(mean) * int(n), float(m2), 0.0, float(mean))
        n, total, m2, comp, mu = state
        return cls(int(n), float(total), float(m2), float(comp), float(mu))
