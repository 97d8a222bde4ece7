"""Two strategies over bar closes: trend following and mean reversion.

Both measure the move of the last ``lookback_bars`` closes in units of the symbol's
bar volatility (an EWMA of squared log returns, scaled by sqrt(lookback)):
``trend_follow`` goes with a move beyond ``entry_z``, ``mean_revert`` fades it. The
stop sits ``stop_sigmas`` lookback-volatilities away; the target at ``target_r`` R.

>>> from execution.config import StrategyParams
>>> p = StrategyParams(router_policy="maker_first", lookback_bars=3, entry_z=1.0,
...                    stop_sigmas=2.0, target_r=2.0, max_hold_bars=10)
>>> s = Strategy("trend_follow", "trend_follow", p)
>>> sig = None
>>> for px in [100, 100.1, 99.9, 100.0, 100.1, 101.5, 103.0]:
...     sig = s.on_bar("X", float(px)) or sig
>>> sig.direction, sig.strategy
(1, 'trend_follow')
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from execution.config import StrategyParams

EWMA_ALPHA = 0.05
WARMUP_BARS = 3


@dataclass(frozen=True, slots=True)
class Signal:
    symbol: str
    strategy: str
    direction: Literal[1, -1]
    stop_distance: float  # in price units
    z: float


@dataclass(slots=True)
class _SymbolState:
    closes: deque[float]
    var: float = 0.0
    bars: int = 0
    cooldown: int = 0


class Strategy:
    __slots__ = ("_state", "kind", "name", "params")

    def __init__(
        self, name: str, kind: Literal["trend_follow", "mean_revert"], params: StrategyParams
    ):
        self.name = name
        self.kind = kind
        self.params = params
        self._state: dict[str, _SymbolState] = {}

    def on_bar(self, symbol: str, close: float) -> Signal | None:
        p = self.params
        st = self._state.get(symbol)
        if st is None:
            st = self._state[symbol] = _SymbolState(closes=deque(maxlen=p.lookback_bars + 1))
        if st.closes:
            r = math.log(close / st.closes[-1])
            st.var = r * r if st.bars == 1 else (1 - EWMA_ALPHA) * st.var + EWMA_ALPHA * r * r
        st.closes.append(close)
        st.bars += 1
        if st.cooldown > 0:
            st.cooldown -= 1
            return None
        if len(st.closes) <= p.lookback_bars or st.bars < WARMUP_BARS or st.var <= 0:
            return None
        sigma_l = math.sqrt(st.var * p.lookback_bars)
        z = math.log(close / st.closes[0]) / sigma_l
        if abs(z) < p.entry_z:
            return None
        with_move: Literal[1, -1] = 1 if z > 0 else -1
        direction: Literal[1, -1] = with_move if self.kind == "trend_follow" else (-with_move)
        st.cooldown = p.cooldown_bars
        return Signal(symbol, self.name, direction, p.stop_sigmas * sigma_l * close, z)
