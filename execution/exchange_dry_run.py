"""A deterministic dry-run exchange on simulated time.

Prices follow a seeded per-symbol path: a slow hidden drift (its strength is the
symbol's ``trend``, a real edge for trend followers) plus shocks that partly
reverse on the next bar (``revert``, a real edge for mean reversion). Orders:

* ``LIMIT_POST_ONLY`` rests at the touch; it may be rejected (it would have
  crossed), and when resolved after a timeout it fills fully, partially then
  expires, or expires, with the symbol's maker fill probability;
* ``MARKET`` fills at once at the far touch plus impact, or is rejected;
* every submission takes a sampled latency, and its ack can be lost in transit
  (``submit`` returns ``None``), in which case ``get_order`` tells the truth.

Everything is drawn from ``random.Random`` instances seeded by (seed, symbol), so
the same seed gives the same prices and the same fills:

>>> from execution.config import load_config
>>> cfg = load_config("config")
>>> a, b = DryRunExchange(cfg.market, seed=1), DryRunExchange(cfg.market, seed=1)
>>> for _ in range(5):
...     _ = a.step(); _ = b.step()
>>> a.mid("BTCUSDT") == b.mid("BTCUSDT")
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Literal

from execution.config import MarketConfig, MarketSymbol
from execution.utils.metrics import OrderStatus, OrderType, Side

DRIFT_PERSISTENCE = 0.97
FINAL_STATUSES = frozenset({"FILLED", "PARTIALLY_FILLED", "CANCELED", "REJECTED", "EXPIRED"})


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    symbol: str
    side: Side
    qty: float
    order_type: OrderType
    limit_price: float | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    """The exchange's answer to a submission."""

    client_order_id: str
    exchange_order_id: str
    accepted: bool
    latency_ms: float
    reason: str = ""


@dataclass(slots=True)
class OrderState:
    """The exchange's view of one order."""

    request: OrderRequest
    exchange_order_id: str
    status: OrderStatus | Literal["NEW"]
    latency_ms: float
    filled_qty: float = 0.0
    avg_price: float = 0.0
    fee_usd: float = 0.0
    is_maker: bool = False
    reason: str = ""

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(slots=True)
class _SymbolPath:
    params: MarketSymbol
    rng: random.Random
    price: float
    drift: float = 0.0
    last_shock: float = 0.0
    history: list[float] = field(default_factory=list)

    def step(self) -> float:
        p = self.params
        sigma = p.vol_bps_per_bar / 1e4
        innovation = math.sqrt(1 - DRIFT_PERSISTENCE**2) * p.trend * sigma
        self.drift = DRIFT_PERSISTENCE * self.drift + innovation * self.rng.gauss(0.0, 1.0)
        shock = sigma * self.rng.gauss(0.0, 1.0)
        ret = self.drift + shock - p.revert * self.last_shock
        self.last_shock = shock
        self.price *= math.exp(ret)
        return self.price


class DryRunExchange:
    """Simulated venue: one bar per :meth:`step`, orders resolved on simulated time."""

    def __init__(self, market: MarketConfig, seed: int, bar_seconds: int = 300) -> None:
        self.market = market
        self.seed = seed
        self.bar_seconds = bar_seconds
        self.ts = market.start_ts
        self.bar = 0
        self._paths = {
            sym: _SymbolPath(params=p, rng=random.Random(f"path:{seed}:{sym}"), price=p.price)
            for sym, p in market.symbols.items()
        }
        self._exec_rng = {sym: random.Random(f"exec:{seed}:{sym}") for sym in market.symbols}
        self._orders: dict[str, OrderState] = {}
        self._next_id = 0

    @property
    def symbols(self) -> list[str]:
        return list(self._paths)

    def step(self) -> float:
        """Advance every symbol by one bar; returns the new bar's timestamp."""
        self.bar += 1
        self.ts = self.market.start_ts + self.bar * self.bar_seconds
        for path in self._paths.values():
            path.step()
        return self.ts

    def mid(self, symbol: str) -> float:
        return self._paths[symbol].price

    def quote(self, symbol: str) -> Quote:
        mid = self.mid(symbol)
        half = mid * self.market.symbols[symbol].spread_bps / 2e4
        return Quote(bid=mid - half, ask=mid + half)

    # --- orders ---------------------------------------------------------------------

    def submit(self, req: OrderRequest) -> Ack | None:
        """Place an order. Returns its ack, or ``None`` when the ack was lost in transit
        (the order exists all the same; ask :meth:`get_order`)."""
        if req.client_order_id in self._orders:
            state = self._orders[req.client_order_id]
            return Ack(
                req.client_order_id, state.exchange_order_id, False, 0.0, "duplicate_client_id"
            )
        if req.qty <= 0:
            raise ValueError(f"order {req.client_order_id}: qty must be positive")
        params = self.market.symbols[req.symbol]
        rng = self._exec_rng[req.symbol]
        self._next_id += 1
        latency = round(params.latency_ms_median * math.exp(0.5 * rng.gauss(0.0, 1.0)), 1)
        state = OrderState(
            request=req, exchange_order_id=f"X{self._next_id:08d}", status="NEW", latency_ms=latency
        )
        self._orders[req.client_order_id] = state
        q = self.quote(req.symbol)
        if req.order_type == "LIMIT_POST_ONLY":
            limit = req.limit_price
            crosses = limit is None or (limit >= q.ask if req.side == "BUY" else limit <= q.bid)
            if crosses or rng.random() < 3 * params.reject_prob:
                state.status, state.reason = "REJECTED", "post_only_would_cross"
        elif rng.random() < params.reject_prob:
            state.status, state.reason = "REJECTED", "insufficient_liquidity"
        else:
            impact = params.impact_bps * (0.5 + rng.random()) / 1e4
            touch = q.ask if req.side == "BUY" else q.bid
            price = touch * (1 + impact) if req.side == "BUY" else touch * (1 - impact)
            self._fill(state, req.qty, price, maker=False)
            state.status = "FILLED"
        lost = rng.random() < self.market.ack_loss_prob
        if lost:
            return None
        return Ack(
            req.client_order_id,
            state.exchange_order_id,
            state.status != "REJECTED",
            latency,
            state.reason,
        )

    def resolve(self, client_order_id: str, timeout_ms: int) -> OrderState:
        """Let a resting post-only order live for ``timeout_ms``; then it is final."""
        state = self._orders[client_order_id]
        if state.final:
            return state
        req = state.request
        params = self.market.symbols[req.symbol]
        rng = self._exec_rng[req.symbol]
        # Longer timeouts fill more often: the symbol's probability is quoted for 5 s.
        p_fill = 1 - (1 - params.maker_fill_prob) ** (timeout_ms / 5000)
        u = rng.random()
        assert req.limit_price is not None
        if u < p_fill * (1 - self.market.partial_fill_prob):
            self._fill(state, req.qty, req.limit_price, maker=True)
            state.status = "FILLED"
        elif u < p_fill:
            part = _round_down(req.qty * rng.uniform(0.2, 0.8), self._lot(req))
            if part > 0:
                self._fill(state, part, req.limit_price, maker=True)
                state.status = "PARTIALLY_FILLED"
            else:
                state.status = "EXPIRED"
        else:
            state.status = "EXPIRED"
        return state

    def get_order(self, client_order_id: str) -> OrderState | None:
        return self._orders.get(client_order_id)

    def forget_final_orders(self) -> None:
        """Drop final orders so a long simulation holds bounded memory."""
        self._orders = {k: v for k, v in self._orders.items() if not v.final}

    def _fill(self, state: OrderState, qty: float, price: float, *, maker: bool) -> None:
        fee_bps = self.market.maker_fee_bps if maker else self.market.taker_fee_bps
        state.filled_qty = qty
        state.avg_price = price
        state.fee_usd = qty * price * fee_bps / 1e4
        state.is_maker = maker

    def _lot(self, req: OrderRequest) -> float:
        # Lot sizes live in the universe config; a thousandth of the order is a fine grain here.
        return req.qty / 1000


def _round_down(x: float, step: float) -> float:
    return math.floor(x / step) * step if step > 0 else x
