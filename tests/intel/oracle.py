"""The batch oracle: each group's figures computed directly from its list of events,
with none of the engine's machinery (no folds, no windows, no columns) but the one
win / loss / scratch rule (:func:`~execution.intel.folds.classify`). The tests hold
the engine to it.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from execution.intel.document import DIMENSIONS, Inputs, build_document
from execution.intel.events import UNKNOWN, Event, Order, Trade, event_id, make_decoder, to_event
from execution.intel.folds import ROBUST, Records, Sufficient, classify, records_of
from execution.intel.lookback import Window, parse_windows
from streaming.decode import Reject, Skip
from streaming.recent_ids import DEFAULT_DEDUP_HORIZON

DEFAULT_MAX_GROUPS = 20_000


def _keys(e: Event, source: str) -> tuple[str, ...]:
    """The event's group in each grouping (``DIMENSIONS``): an event that names no
    executor is its source's."""
    executor = e.executor if e.executor is not None else source
    return (e.symbol, e.strategy, e.policy, e.regime, executor)


def _longest_run(flags: Iterable[bool]) -> int:
    return max((len(list(g)) for k, g in itertools.groupby(flags) if k), default=0)


def _max_drawdown(rs: Sequence[float]) -> float:
    """The worst fall of the cumulative R path, each point its exactly rounded
    running total."""
    peak = worst = 0.0
    for i in range(len(rs)):
        here = math.fsum(rs[: i + 1])
        peak = max(peak, here)
        worst = max(worst, peak - here)
    return worst


def _mean(xs: Sequence[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def _recent(xs: Sequence[float], half_life: float) -> tuple[float | None, float | None, float]:
    """Mean, weighted variance (reliability weights) and effective count of ``xs``,
    the j-th last weighing 2^(−j / half_life)."""
    m = len(xs)
    if not m:
        return None, None, 0.0
    ws = [2.0 ** (-(m - 1 - j) / half_life) for j in range(m)]
    w, w2 = math.fsum(ws), math.fsum(x * x for x in ws)
    mean = math.fsum(wi * x for wi, x in zip(ws, xs, strict=True)) / w
    dev = math.fsum(wi * (x - mean) ** 2 for wi, x in zip(ws, xs, strict=True))
    var = dev * w / (w * w - w2) if m > 1 and w * w > w2 else None
    return mean, var, w * w / w2


def batch_sufficient(trades: Sequence[Trade], orders: Sequence[Order], eps: float) -> Sufficient:
    """One group's record, computed directly from its event lists (the oracle)."""
    rs = [t.r for t in trades if t.r is not None]
    k = ROBUST.clip_r
    clipped = [min(k, max(-k, r)) for r in rs]
    recent_mean, recent_var, recent_n = _recent(clipped, ROBUST.half_life_trades)
    risked = [t for t in trades if t.risk_usd is not None]
    # the engine's one rule, on plain values (R unknown: NaN, never a scratch)
    scratch = [bool(classify(t.pnl_usd, math.nan if t.r is None else t.r, eps)[2]) for t in trades]
    fills = [o for o in orders if o.filled]
    slipped = [o for o in fills if o.slippage_bps is not None]
    latencies = [o.latency_ms for o in orders if o.latency_ms is not None]
    win_rs = [t.r for t in trades if t.pnl_usd > 0 and t.r is not None]
    loss_rs = [t.r for t in trades if t.pnl_usd < 0 and t.r is not None]
    return Sufficient(
        trades=len(trades),
        wins=sum(t.pnl_usd > 0 for t in trades),
        losses=sum(t.pnl_usd < 0 for t in trades),
        scratches=sum(scratch),
        decisive_wins=sum(t.pnl_usd > 0 and not s for t, s in zip(trades, scratch, strict=True)),
        pnl_usd=math.fsum(t.pnl_usd for t in trades),
        gross_profit_usd=math.fsum(t.pnl_usd for t in trades if t.pnl_usd > 0),
        gross_loss_usd=-math.fsum(t.pnl_usd for t in trades if t.pnl_usd < 0),
        risk_trades=len(risked),
        risk_pnl_usd=math.fsum(t.pnl_usd for t in risked),
        risk_usd=math.fsum(t.risk_usd for t in risked if t.risk_usd is not None),
        r_trades=len(rs),
        sum_r=math.fsum(rs),
        mean_r=_mean(rs),
        var_r=statistics.variance(rs) if len(rs) > 1 else None,
        win_r_trades=len(win_rs),
        mean_win_r=_mean(win_rs),
        loss_r_trades=len(loss_rs),
        mean_loss_r=_mean(loss_rs),
        max_drawdown_r=_max_drawdown(rs),
        longest_loss_streak=_longest_run(t.pnl_usd < 0 for t in trades),
        mean_r_robust=_mean(clipped),
        var_r_robust=statistics.variance(clipped) if len(clipped) > 1 else None,
        mean_r_recent=recent_mean,
        var_r_recent=recent_var,
        r_recent_n_eff=recent_n,
        orders=len(orders),
        fills=len(fills),
        maker_fills=sum(o.is_maker for o in fills),
        fallbacks=sum(o.fallback for o in fills),
        rejects=sum(o.status == "REJECTED" for o in orders),
        slippage_fills=len(slipped),
        mean_slippage_bps=_mean([o.slippage_bps for o in slipped if o.slippage_bps is not None]),
        slippage_cost_usd=math.fsum(
            o.slippage_bps * o.notional_usd / 1e4 for o in slipped if o.slippage_bps is not None
        ),
        notional_usd=math.fsum(o.notional_usd for o in orders),
        latency_orders=len(latencies),
        mean_latency_ms=_mean(latencies),
    )


def _in_window(events: list[Event], w: Window, watermark: float | None) -> list[Event]:
    if w.seconds is not None:
        if watermark is None:
            return []
        horizon = watermark - w.seconds
        return [e for e in events if e.ts > horizon]
    return events


def expectancy_surfaces(
    events: Iterable[Any],
    *,
    windows: Iterable[str] = ("all", "50t", "7d"),
    dd_penalty: float = 1.0,
    scratch_epsilon_r: float = 0.0,
    generated_at: float | None = None,
    dedup_horizon: int = DEFAULT_DEDUP_HORIZON,
    max_groups: int = DEFAULT_MAX_GROUPS,
    source: str = UNKNOWN,
) -> dict[str, Any]:
    """The ``expectancy_v6`` document of ``events`` (dicts, records or raw lines) of
    the source labelled ``source``.

    Every input is applied or counted as rejected (with its reason) or skipped. An
    event is a duplicate when its id is among the last ``dedup_horizon`` distinct
    ids accepted before it (the engine's rule); it is rejected as too_many_groups
    when one of its groups would be number ``max_groups + 1`` of its grouping.
    """
    wins_ = parse_windows(windows)
    decoder = make_decoder(None).decode  # ids checked below
    recent: deque[str] = deque()  # the last ``dedup_horizon`` accepted ids, a plain model
    held: set[str] = set()
    known: list[set[str]] = [set() for _ in DIMENSIONS]
    inputs = Inputs()
    good: list[Event] = []
    for raw in events:
        e = to_event(raw, decoder)
        if isinstance(e, Reject | Skip):
            inputs.count(e)
            continue
        key = event_id(e)
        if key in held:
            inputs.rejected["duplicate_id"] += 1
            continue
        recent.append(key)
        held.add(key)
        if len(recent) > dedup_horizon:
            held.discard(recent.popleft())
        keys = _keys(e, source)
        if any(k not in ks and len(ks) >= max_groups for k, ks in zip(keys, known, strict=True)):
            inputs.rejected["too_many_groups"] += 1
            continue
        for k, ks in zip(keys, known, strict=True):
            ks.add(k)
        good.append(e)
        inputs.saw(e)
    groups: dict[str, dict[str, tuple[list[str], Records]]] = {}
    for w in wins_:
        in_window = _in_window(good, w, inputs.watermark)
        groups[w.spec] = {}
        for d, dim in enumerate(DIMENSIONS):
            by_key: dict[str, tuple[list[Trade], list[Order]]] = defaultdict(lambda: ([], []))
            for e in in_window:
                pair = by_key[_keys(e, source)[d]]
                if isinstance(e, Trade):
                    pair[0].append(e)
                else:
                    pair[1].append(e)
            n = w.trades
            names = list(by_key)
            groups[w.spec][dim] = (
                names,
                records_of(
                    [
                        batch_sufficient(
                            ts[-n:] if n else ts, os[-n:] if n else os, scratch_epsilon_r
                        )
                        for ts, os in by_key.values()
                    ]
                ),
            )
    return build_document(
        groups,
        wins_,
        inputs,
        dd_penalty=dd_penalty,
        scratch_epsilon_r=scratch_epsilon_r,
        generated_at=generated_at,
        warnings=inputs.warnings(max_groups),
    )
