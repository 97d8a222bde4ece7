"""Lookbacks (architecture §4): ``all``; ``<N>t`` — the last N trades of each group
(and its last N orders for the router figures); ``<T>s|m|h|d`` — events with
``ts > watermark − T``, the watermark being the largest ``ts`` of the whole input
(event time, so a replay equals the live run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from execution.config import WINDOW_UNITS, window_problem


@dataclass(frozen=True, slots=True)
class Window:
    """A lookback: ``all``, the last ``trades`` events of each group, or ``seconds``
    of event time before the watermark.

    >>> Window.parse("50t"), Window.parse("7d").seconds, Window.parse("all").lookback
    (Window(spec='50t', trades=50, seconds=None), 604800.0, {'trades': None, 'seconds': None})
    """

    spec: str
    trades: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, spec: str) -> Window:
        problem = window_problem(spec)
        if problem:
            raise ValueError(problem)
        if spec == "all":
            return cls(spec)
        if spec.endswith("t"):
            return cls(spec, trades=int(spec[:-1]))
        return cls(spec, seconds=float(spec[:-1]) * WINDOW_UNITS[spec[-1]])

    @property
    def lookback(self) -> dict[str, Any]:
        return {"trades": self.trades, "seconds": self.seconds}


def parse_windows(specs: Iterable[str]) -> list[Window]:
    """Distinct windows in the order given."""
    return [Window.parse(s) for s in dict.fromkeys(specs)]
