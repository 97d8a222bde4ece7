"""Order router: maker-first post-only with timeout and taker fallback, with ack handling.

One call to :meth:`OrderRouter.execute` works an order to completion and emits one §3
``order`` event per order outcome:

1. maker-first (unless urgent, ``taker_only`` or the symbol is ``taker_heavy``): a
   post-only limit at the touch; after ``maker_timeout_ms`` it is FILLED,
   PARTIALLY_FILLED (then expired) or EXPIRED, or it was REJECTED on submit;
2. whatever is left goes as a MARKET order flagged ``fallback`` when a maker attempt
   came first; a rejected market order is retried once.

Acks: a lost ack (``submit`` returned nothing) or an ack for another client id is
not trusted; the router asks the exchange for the order's state by client id
instead. Slippage is signed against the mid at decision time, positive = worse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from execution.config import RouterConfig, RouterPolicyName
from execution.exchange_dry_run import DryRunExchange, OrderRequest, OrderState
from execution.router_policy import RouterPolicy
from execution.utils.metrics import OrderEvent, OrderMetrics, OrderType, Side

MARKET_ATTEMPTS = 2


@dataclass(slots=True)
class Execution:
    """What one :meth:`OrderRouter.execute` achieved."""

    requested_qty: float
    filled_qty: float = 0.0
    notional_usd: float = 0.0
    fee_usd: float = 0.0
    events: list[OrderEvent] = field(default_factory=list)
    end_ts: float = 0.0

    @property
    def avg_price(self) -> float:
        return self.notional_usd / self.filled_qty if self.filled_qty > 0 else 0.0


@dataclass(slots=True)
class AckStats:
    acks: int = 0
    lost: int = 0
    mismatched: int = 0
    recovered: int = 0


class OrderRouter:
    def __init__(
        self,
        exchange: DryRunExchange,
        cfg: RouterConfig,
        *,
        emit: Callable[[OrderEvent], None],
        metrics: OrderMetrics | None = None,
        policy: RouterPolicy | None = None,
        id_prefix: str = "o",
    ) -> None:
        self.exchange = exchange
        self.cfg = cfg
        self.emit = emit
        self.metrics = metrics if metrics is not None else OrderMetrics(cfg.health_window_orders)
        self.policy = policy if policy is not None else RouterPolicy(cfg, self.metrics)
        self.id_prefix = id_prefix
        self.ack_stats = AckStats()
        self._seq = 0

    def execute(
        self,
        symbol: str,
        side: Side,
        qty: float,
        *,
        ts: float,
        strategy: str,
        policy: RouterPolicyName,
        urgent: bool = False,
        role: str = "entry",
    ) -> Execution:
        if qty <= 0:
            raise ValueError(f"{symbol}: order quantity must be positive, got {qty}")
        self.policy.refresh(symbol)
        regime = self.policy.regime_label(symbol, policy)
        ctx = _Ctx(symbol, side, strategy, policy, regime, role, self.exchange.mid(symbol))
        result = Execution(requested_qty=qty, end_ts=ts)
        remaining = qty
        maker_tried = False
        if self.policy.route_maker_first(symbol, policy, urgent=urgent):
            maker_tried = True
            q = self.exchange.quote(symbol)
            limit = q.bid if side == "BUY" else q.ask
            state = self._place(symbol, side, remaining, "LIMIT_POST_ONLY", limit)
            if state.status == "NEW":
                state = self.exchange.resolve(
                    state.request.client_order_id, self.cfg.maker_timeout_ms
                )
                wait_ms = self.cfg.maker_timeout_ms
            else:
                wait_ms = 0
            self._record(ctx, state, result, fallback=False, wait_ms=wait_ms)
            remaining = qty - state.filled_qty
        for _ in range(MARKET_ATTEMPTS):
            if remaining <= qty * 1e-9:
                break
            state = self._place(symbol, side, remaining, "MARKET", None)
            self._record(ctx, state, result, fallback=maker_tried, wait_ms=0)
            remaining -= state.filled_qty
        return result

    # --- internals ------------------------------------------------------------------

    def _place(
        self, symbol: str, side: Side, qty: float, order_type: OrderType, limit: float | None
    ) -> OrderState:
        self._seq += 1
        req = OrderRequest(
            f"{self.id_prefix}-{self._seq:07d}", symbol, side, qty, order_type, limit
        )
        ack = self.exchange.submit(req)
        if ack is None:
            self.ack_stats.lost += 1
        elif ack.client_order_id != req.client_order_id:
            self.ack_stats.mismatched += 1
        else:
            self.ack_stats.acks += 1
        # The exchange's order state is the truth; an ack only tells us to look.
        state = self.exchange.get_order(req.client_order_id)
        if state is None:
            # Never reached the exchange: record it as rejected locally.
            state = OrderState(req, "", "REJECTED", 0.0, reason="not_received")
        elif ack is None or ack.client_order_id != req.client_order_id:
            self.ack_stats.recovered += 1
        return state

    def _record(
        self, ctx: _Ctx, state: OrderState, result: Execution, *, fallback: bool, wait_ms: int
    ) -> None:
        req = state.request
        status = state.status if state.status != "NEW" else "EXPIRED"
        filled = state.filled_qty
        price = state.avg_price if filled > 0 else (req.limit_price or ctx.ref_price)
        sign = 1.0 if req.side == "BUY" else -1.0
        slip = sign * (state.avg_price - ctx.ref_price) / ctx.ref_price * 1e4 if filled > 0 else 0.0
        result.end_ts += (state.latency_ms + wait_ms) / 1000
        event = OrderEvent(
            ts=round(result.end_ts, 3),
            symbol=ctx.symbol,
            strategy=ctx.strategy,
            policy=ctx.policy,
            regime=ctx.regime,
            order_id=req.client_order_id,
            side=req.side,
            status=status,
            qty=filled,
            price=float(f"{price:.10g}"),
            notional_usd=round(filled * state.avg_price, 6),
            is_maker=state.is_maker,
            fallback=fallback,
            slippage_bps=round(slip, 4),
            latency_ms=state.latency_ms,
            fee_usd=round(state.fee_usd, 6),
            order_type=req.order_type,
            role=ctx.role,
            reason=state.reason,
        )
        result.filled_qty += filled
        result.notional_usd += filled * state.avg_price
        result.fee_usd += state.fee_usd
        result.events.append(event)
        self.metrics.record(event)
        self.emit(event)


@dataclass(frozen=True, slots=True)
class _Ctx:
    symbol: str
    side: Side
    strategy: str
    policy: RouterPolicyName
    regime: str
    role: str
    ref_price: float
