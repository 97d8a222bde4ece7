"""Screener with tier caps: which symbols may trade, and how much notional per tier.

Tiers come from ``pairs_universe.json``. Each tier admits at most ``max_symbols``
symbols (the most liquid first, by ``adv_usd``, ties by name) and at most
``max_notional_usd`` of open notional across its symbols.

>>> from execution.config import PairsUniverse, SymbolConfig, TierConfig
>>> u = PairsUniverse(tiers={"A": TierConfig(max_symbols=1, max_notional_usd=100.0)},
...     symbols={"X": SymbolConfig(tier="A", tick_size=0.1, lot_size=1, adv_usd=5.0),
...              "Y": SymbolConfig(tier="A", tick_size=0.1, lot_size=1, adv_usd=9.0)})
>>> Screener(u).eligible()
['Y']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from execution.config import PairsUniverse
from execution.risk_limits import RiskDecision


class Screener:
    __slots__ = ("_eligible", "universe")

    def __init__(self, universe: PairsUniverse) -> None:
        self.universe = universe
        chosen: list[str] = []
        for tier, tcfg in universe.tiers.items():
            members = sorted(
                (s for s, c in universe.symbols.items() if c.tier == tier),
                key=lambda s: (-universe.symbols[s].adv_usd, s),
            )
            chosen.extend(members[: tcfg.max_symbols])
        self._eligible = sorted(chosen)

    def eligible(self) -> list[str]:
        return list(self._eligible)

    def is_eligible(self, symbol: str) -> bool:
        return symbol in self._eligible

    def tier_of(self, symbol: str) -> str:
        return self.universe.symbols[symbol].tier

    def tier_notional(self, notional_by_symbol: Mapping[str, float]) -> dict[str, float]:
        out = dict.fromkeys(self.universe.tiers, 0.0)
        for sym, notional in notional_by_symbol.items():
            out[self.tier_of(sym)] += abs(notional)
        return out

    def check(
        self, symbol: str, notional_usd: float, notional_by_symbol: Mapping[str, float]
    ) -> RiskDecision:
        """May ``symbol`` open ``notional_usd`` more, given what each symbol holds now?"""
        if symbol not in self.universe.symbols:
            return RiskDecision(False, (f"not_in_universe: {symbol}",))
        if not self.is_eligible(symbol):
            return RiskDecision(False, (f"tier_symbol_cap: {symbol} outside its tier's top",))
        tier = self.tier_of(symbol)
        cap = self.universe.tiers[tier].max_notional_usd
        after = self.tier_notional(notional_by_symbol)[tier] + notional_usd
        if after > cap:
            return RiskDecision(False, (f"tier_notional_cap: {tier} {after:.2f} > {cap:.2f}",))
        return RiskDecision(True)

    def snapshot(self, notional_by_symbol: Mapping[str, float]) -> dict[str, Any]:
        """The ``universe.json`` document body."""
        used = self.tier_notional(notional_by_symbol)
        return {
            "eligible": self.eligible(),
            "tiers": {
                tier: {
                    "max_symbols": t.max_symbols,
                    "max_notional_usd": t.max_notional_usd,
                    "open_notional_usd": used[tier],
                    "symbols": [s for s in self._eligible if self.tier_of(s) == tier],
                }
                for tier, t in self.universe.tiers.items()
            },
        }
