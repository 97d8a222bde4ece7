"""Online accumulators that form ordered monoids.

Every accumulator has ``update(x)``, ``merge(other)`` (``other``'s events come after
``self``'s; associative; the empty accumulator is the identity), a read-only
``result``, and ``to_state()`` / ``from_state()`` that round-trip exactly through
JSON. ``a + b`` is a merged copy, ``a += b`` merges in place.
"""

from streaming.stats.base import Accumulator, State
from streaming.stats.count import Count, HitCounter
from streaming.stats.drawdown import Drawdown, DrawdownResult
from streaming.stats.streak import Streak
from streaming.stats.sums import CompensatedSum
from streaming.stats.welford import MeanVar, MeanVarResult

__all__ = [
    "Accumulator",
    "CompensatedSum",
    "Count",
    "Drawdown",
    "DrawdownResult",
    "HitCounter",
    "MeanVar",
    "MeanVarResult",
    "State",
    "Streak",
]
