"""Router policy: per symbol, post passively first (``maker_first``) or lean on taker
orders (``taker_heavy``), decided from the symbol's router health.

A strategy configured ``taker_only`` always routes taker. Under ``maker_first`` a
symbol whose maker fill rate falls below a threshold (or whose fallback rate rises
above one), measured over enough orders, switches to ``taker_heavy``; it comes back
once the maker fill rate recovers above a higher threshold (hysteresis). While
``taker_heavy``, every ``probe_every_orders``-th order still tries maker first so the
health keeps being measured.

>>> from execution.config import RouterConfig
>>> cfg = RouterConfig(maker_timeout_ms=3000, health_window_orders=50, policy_min_orders=10,
...     taker_heavy_below_fill_rate=0.4, taker_heavy_above_fallback_rate=0.6,
...     maker_first_above_fill_rate=0.5, probe_every_orders=5)
>>> decide_regime(maker_attempts=20, maker_fill_rate=0.3, fallback_rate=0.5,
...               current="maker_first", cfg=cfg)
PolicyDecision(regime='taker_heavy', reason='maker_fill_rate 0.30 < 0.40')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from execution.config import RouterConfig, RouterPolicyName
from execution.utils.metrics import OrderMetrics

Regime = Literal["maker_first", "taker_heavy"]


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    regime: Regime
    reason: str


def decide_regime(
    *,
    maker_attempts: int,
    maker_fill_rate: float | None,
    fallback_rate: float | None,
    current: Regime,
    cfg: RouterConfig,
) -> PolicyDecision:
    """Pure decision from router health; ``current`` gives the hysteresis."""
    if maker_attempts < cfg.policy_min_orders or maker_fill_rate is None:
        return PolicyDecision(
            current, f"insufficient_data {maker_attempts} < {cfg.policy_min_orders}"
        )
    if current == "maker_first":
        if maker_fill_rate < cfg.taker_heavy_below_fill_rate:
            return PolicyDecision(
                "taker_heavy",
                f"maker_fill_rate {maker_fill_rate:.2f} < {cfg.taker_heavy_below_fill_rate:.2f}",
            )
        if fallback_rate is not None and fallback_rate > cfg.taker_heavy_above_fallback_rate:
            return PolicyDecision(
                "taker_heavy",
                f"fallback_rate {fallback_rate:.2f} > {cfg.taker_heavy_above_fallback_rate:.2f}",
            )
        return PolicyDecision("maker_first", "healthy")
    if maker_fill_rate >= cfg.maker_first_above_fill_rate:
        return PolicyDecision(
            "maker_first",
            f"maker_fill_rate {maker_fill_rate:.2f} >= {cfg.maker_first_above_fill_rate:.2f}",
        )
    return PolicyDecision("taker_heavy", "still_unhealthy")


class RouterPolicy:
    """Keeps each symbol's regime and decides, order by order, how to route."""

    __slots__ = ("_counts", "_regimes", "cfg", "metrics")

    def __init__(self, cfg: RouterConfig, metrics: OrderMetrics) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self._regimes: dict[str, Regime] = {}
        self._counts: dict[str, int] = {}

    def regime(self, symbol: str) -> Regime:
        return self._regimes.get(symbol, "maker_first")

    def refresh(self, symbol: str) -> PolicyDecision:
        h = self.metrics.health(symbol)
        decision = decide_regime(
            maker_attempts=h.maker_attempts,
            maker_fill_rate=h.maker_fill_rate,
            fallback_rate=h.fallback_rate,
            current=self.regime(symbol),
            cfg=self.cfg,
        )
        self._regimes[symbol] = decision.regime
        return decision

    def route_maker_first(self, symbol: str, policy: RouterPolicyName, *, urgent: bool) -> bool:
        """Should this order try a post-only order first?"""
        if urgent or policy == "taker_only":
            return False
        if self.regime(symbol) == "maker_first":
            return True
        n = self._counts.get(symbol, 0) + 1
        self._counts[symbol] = n
        return n % self.cfg.probe_every_orders == 0

    def regime_label(self, symbol: str, policy: RouterPolicyName) -> Regime:
        return "taker_heavy" if policy == "taker_only" else self.regime(symbol)

    def snapshot(self) -> dict[str, str]:
        return dict(sorted(self._regimes.items()))
