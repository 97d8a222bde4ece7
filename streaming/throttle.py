"""A throttle on an injected clock, so tests need no sleeps.

>>> now = [0.0]
>>> t = Throttle(5.0, clock=lambda: now[0])
>>> t.due(), t.due()
(True, False)
>>> now[0] = 5.0
>>> t.due()
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Throttle:
    __slots__ = ("_clock", "_last", "interval")

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        if interval < 0:
            raise ValueError("interval must not be negative")
        self.interval = interval
        self._clock = clock
        self._last = -math.inf

    def ready(self) -> bool:
        return self._clock() - self._last >= self.interval

    def mark(self) -> None:
        self._last = self._clock()

    def due(self) -> bool:
        """True at most once per interval; marks the time when it says True."""
        if self.ready():
            self.mark()
            return True
        return False

    def remaining(self) -> float:
        return max(0.0, self.interval - (self._clock() - self._last))
