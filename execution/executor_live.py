"""The executor loop: strategies → screener → risk → router → positions → state publish.

``--dry-run`` runs it on simulated time against :class:`DryRunExchange`: it writes
the canonical router-metrics log (one §3 ``order`` event per order outcome, one
``trade`` event per closed round trip) and the state snapshots. The same seed and
config give byte-identical output::

    python -m execution.executor_live --dry-run --seed 7 --sim-hours 24 --out logs

Observation hooks (the intel layer) are called once per bar, guarded: a hook that
raises is counted and reported once per interval, and never stops the loop or
changes what it trades.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import msgspec

from execution.config import Config, ConfigError, RouterPolicyName, load_config
from execution.exchange_dry_run import DryRunExchange
from execution.order_router import OrderRouter
from execution.risk_limits import Exposure, RiskLimits
from execution.screener import Screener
from execution.state_publish import append_history, write_state
from execution.strategies import Signal, Strategy
from execution.utils.metrics import (
    JsonlAppendWriter,
    OrderEvent,
    OrderMetrics,
    Side,
    TradeEvent,
)

log = logging.getLogger("executor")
ROUTER_METRICS_REL = Path("execution/router_metrics.jsonl")
STATE_REL = Path("state")
HOOK_REPORT_INTERVAL_S = 60.0


class ExecutorHook(Protocol):
    """An observer of the loop. It must not change what the executor does."""

    def on_bar(self, ts: float) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Position:
    symbol: str
    strategy: str
    policy: RouterPolicyName
    regime: str
    direction: Literal[1, -1]
    qty: float
    entry_price: float
    entry_ts: float
    entry_notional: float
    stop: float
    target: float
    risk_usd: float
    fees_usd: float
    opened_bar: int
    realized_usd: float = 0.0  # from partial exits

    def unrealized(self, mid: float) -> float:
        return self.direction * (mid - self.entry_price) * self.qty


@dataclass(slots=True)
class RunSummary:
    bars: int = 0
    orders: int = 0
    trades: int = 0
    vetoes: int = 0
    realized_pnl_usd: float = 0.0
    hook_failures: int = 0


class GuardedHooks:
    """Calls hooks so that nothing they do reaches the loop; failures are counted and
    logged at most once per interval (wall clock, injected for tests)."""

    __slots__ = ("_clock", "_last_report", "failures", "hooks")

    def __init__(self, hooks: Sequence[ExecutorHook], clock: Any = time.monotonic) -> None:
        self.hooks = list(hooks)
        self.failures = 0
        self._clock = clock
        self._last_report = -math.inf

    def on_bar(self, ts: float) -> None:
        for hook in self.hooks:
            try:
                hook.on_bar(ts)
            except Exception as exc:
                self._failed(hook, exc)

    def close(self) -> None:
        for hook in self.hooks:
            try:
                hook.close()
            except Exception as exc:
                self._failed(hook, exc)

    def _failed(self, hook: ExecutorHook, exc: Exception) -> None:
        self.failures += 1
        now = self._clock()
        if now - self._last_report >= HOOK_REPORT_INTERVAL_S:
            self._last_report = now
            log.warning("hook %s failed (%d so far): %r", type(hook).__name__, self.failures, exc)


class DryRunExecutor:
    def __init__(
        self,
        cfg: Config,
        *,
        seed: int,
        out_dir: str | Path,
        hooks: Sequence[ExecutorHook] = (),
    ) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.state_dir = self.out_dir / STATE_REL
        self.metrics_path = self.out_dir / ROUTER_METRICS_REL
        self.exchange = DryRunExchange(cfg.market, seed=seed, bar_seconds=cfg.strategy.bar_seconds)
        self.screener = Screener(cfg.universe)
        self.risk = RiskLimits(cfg.risk)
        self.order_metrics = OrderMetrics(cfg.strategy.router.health_window_orders)
        self.strategies = [
            Strategy(entry.name, entry.kind, params) for entry, params in cfg.enabled_strategies()
        ]
        self.positions: dict[tuple[str, str], Position] = {}
        self.summary = RunSummary()
        self._clock = cfg.market.start_ts
        self._trade_seq = 0
        self._day = -1
        self._realized_today = 0.0
        self._realized_total = 0.0
        # A dry run is a fresh, reproducible run: it starts its log from empty.
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        self.metrics_path.unlink(missing_ok=True)
        (self.state_dir / "nav_history.jsonl").unlink(missing_ok=True)
        self.writer = JsonlAppendWriter(self.metrics_path)
        self.router = OrderRouter(
            self.exchange, cfg.strategy.router, emit=self._emit_order, metrics=self.order_metrics
        )
        # last: a tap that follows the log starts once the fresh log is in place
        self.hooks = GuardedHooks([*hooks, *self._intel_hooks()])

    def _intel_hooks(self) -> list[ExecutorHook]:
        """The intel tap when ``intel_enabled``; a failure to set it up is reported and
        the executor runs without it."""
        if not self.cfg.intel.intel_enabled:
            return []
        try:
            from execution.intel import hook  # noqa: PLC0415 - only when enabled

            kind = hook.IntelProcessHook if self.cfg.intel.hook == "process" else hook.IntelHook
            return [kind(self.metrics_path, self.state_dir, self.cfg.intel)]
        except Exception as exc:  # observation only: never stop the executor
            log.warning("intel hook disabled: %r", exc)
            return []

    # --- the loop ---------------------------------------------------------------------

    def run(self, bars: int) -> RunSummary:
        try:
            for _ in range(bars):
                self.step()
            self.publish()
        finally:
            self.writer.close()
            self.hooks.close()
        self.summary.hook_failures = self.hooks.failures
        return self.summary

    def step(self) -> None:
        ts = self.exchange.step()
        self._clock = max(self._clock, ts)
        day = int(ts // 86400)
        if day != self._day:
            self._day, self._realized_today = day, 0.0
        bar = self.exchange.bar
        for sym in self.screener.eligible():
            close = self.exchange.mid(sym)
            signals = [s for s in (strat.on_bar(sym, close) for strat in self.strategies) if s]
            for strat in self.strategies:
                pos = self.positions.get((sym, strat.name))
                if pos is not None:
                    self._manage(pos, close, bar, strat.params.max_hold_bars)
            for sig in signals:
                if (sym, sig.strategy) not in self.positions:
                    self._enter(sig, close, bar)
        self.exchange.forget_final_orders()
        self.summary.bars += 1
        if bar % self.cfg.strategy.publish_every_bars == 0:
            self.publish()
        self.hooks.on_bar(self._clock)

    # --- entries and exits ------------------------------------------------------------

    def _enter(self, sig: Signal, close: float, bar: int) -> None:
        params = self.cfg.strategy.strategies[sig.strategy]
        lot = self.cfg.universe.symbols[sig.symbol].lot_size
        budget = self.cfg.strategy.nav_usd * self.cfg.strategy.risk_per_trade_pct / 100
        qty = round(math.floor(budget / sig.stop_distance / lot) * lot, 10)
        if qty <= 0:
            return
        notional = qty * close
        held = self._notional_by_symbol()
        decision = self.screener.check(sig.symbol, notional, held)
        if decision.allowed:
            decision = self.risk.check(sig.symbol, notional, self._exposure(held))
        if not decision.allowed:
            self.summary.vetoes += 1
            return
        side: Side = "BUY" if sig.direction > 0 else "SELL"
        ex = self.router.execute(
            sig.symbol,
            side,
            qty,
            ts=self._clock,
            strategy=sig.strategy,
            policy=params.router_policy,
            role="entry",
        )
        self._clock = ex.end_ts
        if ex.filled_qty <= 0:
            return
        entry = ex.avg_price
        dist = sig.stop_distance
        self.positions[(sig.symbol, sig.strategy)] = Position(
            symbol=sig.symbol,
            strategy=sig.strategy,
            policy=params.router_policy,
            regime=ex.events[0].regime,
            direction=sig.direction,
            qty=ex.filled_qty,
            entry_price=entry,
            entry_ts=ex.events[0].ts,
            entry_notional=ex.notional_usd,
            stop=entry - sig.direction * dist,
            target=entry + sig.direction * params.target_r * dist,
            risk_usd=dist * ex.filled_qty,
            fees_usd=ex.fee_usd,
            opened_bar=bar,
        )

    def _manage(self, pos: Position, close: float, bar: int, max_hold: int) -> None:
        d = pos.direction
        if d * (close - pos.stop) <= 0:
            reason, urgent = "stop", True
        elif d * (close - pos.target) >= 0:
            reason, urgent = "target", False
        elif bar - pos.opened_bar >= max_hold:
            reason, urgent = "time", False
        else:
            return
        side: Side = "SELL" if d > 0 else "BUY"
        ex = self.router.execute(
            pos.symbol,
            side,
            pos.qty,
            ts=self._clock,
            strategy=pos.strategy,
            policy=pos.policy,
            urgent=urgent,
            role="exit",
        )
        self._clock = ex.end_ts
        if ex.filled_qty <= 0:
            return
        pos.realized_usd += d * (ex.avg_price - pos.entry_price) * ex.filled_qty
        pos.fees_usd += ex.fee_usd
        pos.qty = round(pos.qty - ex.filled_qty, 10)
        if pos.qty > 1e-12:
            return  # partly closed; the rest goes next bar
        del self.positions[(pos.symbol, pos.strategy)]
        pnl = round(pos.realized_usd - pos.fees_usd, 6)
        risk = round(pos.risk_usd, 6)
        self._trade_seq += 1
        self._realized_today += pnl
        self._realized_total += pnl
        self.summary.trades += 1
        self.summary.realized_pnl_usd = self._realized_total
        self.writer.write(
            TradeEvent(
                ts=round(ex.end_ts, 3),
                symbol=pos.symbol,
                strategy=pos.strategy,
                policy=pos.policy,
                regime=pos.regime,
                trade_id=f"t-{self._trade_seq:07d}",
                direction="LONG" if d > 0 else "SHORT",
                pnl_usd=pnl,
                risk_usd=risk,
                r_multiple=pnl / risk,
                notional_usd=round(pos.entry_notional, 6),
                entry_ts=pos.entry_ts,
                exit_ts=round(ex.end_ts, 3),
                exit_reason=reason,
            )
        )

    def _emit_order(self, event: OrderEvent) -> None:
        self.summary.orders += 1
        self.writer.write(event)

    # --- exposure and state -------------------------------------------------------------

    def _notional_by_symbol(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for pos in self.positions.values():
            out[pos.symbol] = out.get(pos.symbol, 0.0) + pos.qty * self.exchange.mid(pos.symbol)
        return out

    def _exposure(self, held: dict[str, float]) -> Exposure:
        return Exposure(held, len(self.positions), self._realized_today)

    def nav(self) -> float:
        unreal = sum(
            p.unrealized(self.exchange.mid(p.symbol)) - p.fees_usd + p.realized_usd
            for p in self.positions.values()
        )
        return self.cfg.strategy.nav_usd + self._realized_total + unreal

    def publish(self) -> None:
        ts = self._clock
        held = self._notional_by_symbol()
        nav = {
            "ts": ts,
            "nav_usd": round(self.nav(), 6),
            "realized_pnl_usd": round(self._realized_total, 6),
            "realized_pnl_today_usd": round(self._realized_today, 6),
            "gross_exposure_usd": round(sum(held.values()), 6),
            "open_positions": len(self.positions),
        }
        write_state(self.state_dir, "nav.json", nav)
        append_history(self.state_dir, "nav_history.jsonl", nav)
        write_state(
            self.state_dir,
            "positions.json",
            {
                "ts": ts,
                "positions": [
                    {
                        "symbol": p.symbol,
                        "strategy": p.strategy,
                        "direction": "LONG" if p.direction > 0 else "SHORT",
                        "qty": p.qty,
                        "entry_price": p.entry_price,
                        "stop": p.stop,
                        "target": p.target,
                        "risk_usd": p.risk_usd,
                        "mark_price": self.exchange.mid(p.symbol),
                        "unrealized_pnl_usd": round(p.unrealized(self.exchange.mid(p.symbol)), 6),
                    }
                    for p in sorted(self.positions.values(), key=lambda p: (p.symbol, p.strategy))
                ],
            },
        )
        health = self.order_metrics.snapshot()
        for sym, h in health.items():
            h["regime"] = self.router.policy.regime(sym)
        write_state(
            self.state_dir,
            "router_health.json",
            {"ts": ts, "window_orders": self.order_metrics.window, "symbols": health},
        )
        write_state(self.state_dir, "universe.json", {"ts": ts, **self.screener.snapshot(held)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m execution.executor_live", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="simulated exchange and time (required)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sim-hours", type=float, default=24.0)
    parser.add_argument(
        "--out", default="logs", help="output root (execution/ and state/ below it)"
    )
    parser.add_argument("--config", default="config", help="config directory")
    parser.add_argument(
        "--intel",
        choices=("on", "off"),
        help="override intel_enabled from the config: publish expectancy_v6.json and "
        "symbol_scores_v6.json beside the other state documents",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.dry_run:
        print("error: only --dry-run is available in this build", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.intel is not None:
        intel = msgspec.structs.replace(cfg.intel, intel_enabled=args.intel == "on")
        cfg = dataclasses.replace(cfg, intel=intel)
    bars = int(args.sim_hours * 3600 // cfg.strategy.bar_seconds)
    started = time.perf_counter()
    ex = DryRunExecutor(cfg, seed=args.seed, out_dir=args.out)
    s = ex.run(bars)
    wall = time.perf_counter() - started
    print(
        f"dry run: {s.bars} bars ({args.sim_hours:g} simulated hours) in {wall:.2f}s wall; "
        f"{s.orders} order events, {s.trades} trades, {s.vetoes} vetoes, "
        f"realised PnL {s.realized_pnl_usd:+.2f} USD"
    )
    print(f"router metrics: {ex.metrics_path}\nstate: {ex.state_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
