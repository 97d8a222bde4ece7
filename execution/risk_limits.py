"""Pre-trade risk limits: every new position is allowed or vetoed with reasons.

>>> from execution.config import RiskLimitsConfig
>>> limits = RiskLimits(RiskLimitsConfig(per_symbol_notional_cap_usd=1000.0,
...     gross_exposure_cap_usd=5000.0, max_open_positions=2, daily_loss_limit_usd=100.0))
>>> limits.check("BTCUSDT", 1500.0, Exposure()).reasons
('symbol_notional_cap: BTCUSDT 1500.00 > 1000.00',)
>>> limits.check("BTCUSDT", 500.0, Exposure()).allowed
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from execution.config import RiskLimitsConfig


@dataclass(frozen=True, slots=True)
class RiskDecision:
    allowed: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Exposure:
    """What is open now: absolute notional per symbol, open positions, today's realised PnL."""

    notional_by_symbol: Mapping[str, float] = field(default_factory=dict)
    open_positions: int = 0
    realized_pnl_today: float = 0.0

    @property
    def gross(self) -> float:
        return sum(abs(v) for v in self.notional_by_symbol.values())


class RiskLimits:
    __slots__ = ("cfg",)

    def __init__(self, cfg: RiskLimitsConfig) -> None:
        self.cfg = cfg

    def symbol_cap(self, symbol: str) -> float:
        return self.cfg.per_symbol_overrides.get(symbol, self.cfg.per_symbol_notional_cap_usd)

    def check(self, symbol: str, notional_usd: float, exposure: Exposure) -> RiskDecision:
        """Would opening ``notional_usd`` more of ``symbol`` stay within every limit?"""
        if notional_usd <= 0:
            return RiskDecision(False, (f"invalid_notional: {notional_usd:.2f}",))
        reasons: list[str] = []
        cap = self.symbol_cap(symbol)
        after = abs(exposure.notional_by_symbol.get(symbol, 0.0)) + notional_usd
        if after > cap:
            reasons.append(f"symbol_notional_cap: {symbol} {after:.2f} > {cap:.2f}")
        gross_after = exposure.gross + notional_usd
        if gross_after > self.cfg.gross_exposure_cap_usd:
            reasons.append(
                f"gross_exposure_cap: {gross_after:.2f} > {self.cfg.gross_exposure_cap_usd:.2f}"
            )
        if exposure.open_positions >= self.cfg.max_open_positions:
            reasons.append(
                f"max_open_positions: {exposure.open_positions} >= {self.cfg.max_open_positions}"
            )
        if exposure.realized_pnl_today <= -self.cfg.daily_loss_limit_usd:
            reasons.append(
                f"daily_loss_limit: {exposure.realized_pnl_today:.2f} "
                f"<= {-self.cfg.daily_loss_limit_usd:.2f}"
            )
        return RiskDecision(not reasons, tuple(reasons))
