"""Expectancy surfaces v6: per symbol, strategy, router policy and regime, for every
configured window (architecture §4), published as ``expectancy_v6.json`` (§5).

Two paths give the same document:

* :func:`expectancy_surfaces` — the **batch oracle** and the pure-data API: a plain
  function over a list of event dicts, typed records or raw JSONL lines, computing
  each group's figures directly from its list of events;
* :class:`ExpectancyEngine` — the **streaming engine**: events one at a time into
  keyed monoid accumulators (:mod:`execution.intel.stats` over :mod:`streaming`), a
  document at any moment, and ``to_state``/``from_state`` for checkpoints. Feeding
  the same events in any chunking, with any number of snapshot/restore cycles,
  yields the batch document (floats within 1e-9 relative).

Windows: ``all``; ``<N>t`` — the last N trades of each group (and its last N
orders for the router figures); ``<T>s|m|h|d`` — events with
``ts > watermark − T``, the watermark being the largest ``ts`` of the whole input
(event time, so a replay equals the live run). Within a window, paths such as the
cumulative R follow arrival order. A group appears in a window when it has at least
one event in it.

>>> lines = [
...     b'{"event":"trade","ts":1,"symbol":"BTCUSDT","trade_id":"a","pnl_usd":20,"risk_usd":10}',
...     b'{"event":"trade","ts":2,"symbol":"BTCUSDT","trade_id":"b","pnl_usd":-10,"risk_usd":10}',
...     b'not json',
... ]
>>> doc = expectancy_surfaces(lines, windows=["all", "1t"])
>>> btc = doc["windows"]["all"]["symbols"]["BTCUSDT"]
>>> btc["trades"], btc["hit_rate"], btc["avg_r"], btc["max_drawdown_r"], btc["dd_expectancy"]
(2, 0.5, 0.5, 1.0, 0.0)
>>> doc["windows"]["1t"]["symbols"]["BTCUSDT"]["avg_r"], doc["inputs"]["reject_reasons"]
(-1.0, {'not_json': 1})
>>> engine = ExpectancyEngine(windows=["all", "1t"])
>>> for line in lines:
...     engine.feed(line)
>>> engine.document(generated_at=doc["generated_at"]) == doc
True
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import msgspec
import numpy as np
import numpy.typing as npt

from execution.config import WINDOW_UNITS, IntelConfig, window_problem
from execution.intel.events import Event, Order, Trade, event_id, make_decoder, range_rejects
from execution.intel.figures import figures
from execution.intel.stats import (
    OrderStats,
    Sufficient,
    TradeStats,
    combine,
    order_columns,
    order_item,
    trade_columns,
    trade_item,
)
from streaming.decode import (
    DEFAULT_DEDUP_HORIZON,
    RecentIds,
    Reject,
    Skip,
    classify,
)
from streaming.framing import OVERLONG, Frame
from streaming.inputs import iter_frames, rotated_set
from streaming.jsonsafe import check_finite
from streaming.keyed import KeyedMap
from streaming.stats import CompensatedSum
from streaming.windows import LastN, TimeWindow

SCHEMA: Final = "expectancy_v6"
VERSION: Final = 1
STATE_VERSION: Final = 1
DIMENSIONS: Final = ("symbols", "strategies", "policies", "regimes")
# Batches shorter than this go event by event; longer ones take the columnar path.
BATCH_MIN: Final = 256
# Distinct groups per grouping (symbols, strategies, policies, regimes) by default:
# more than any exchange lists; an event that would open one more is rejected.
DEFAULT_MAX_GROUPS: Final = 20_000


def _keys(e: Event) -> tuple[str, str, str, str]:
    return (e.symbol, e.strategy, e.policy, e.regime)


# --- windows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """A lookback: ``all``, the last ``trades`` events of each group, or ``seconds``
    of event time before the watermark.

    >>> Window.parse("50t"), Window.parse("7d").seconds, Window.parse("all").lookback
    (Window(spec='50t', trades=50, seconds=None), 604800.0, {'trades': None, 'seconds': None})
    """

    spec: str
    trades: int | None = None
    seconds: float | None = None

    @classmethod
    def parse(cls, spec: str) -> Window:
        problem = window_problem(spec)
        if problem:
            raise ValueError(problem)
        if spec == "all":
            return cls(spec)
        if spec.endswith("t"):
            return cls(spec, trades=int(spec[:-1]))
        return cls(spec, seconds=float(spec[:-1]) * WINDOW_UNITS[spec[-1]])

    @property
    def lookback(self) -> dict[str, Any]:
        return {"trades": self.trades, "seconds": self.seconds}


def parse_windows(specs: Iterable[str]) -> list[Window]:
    """Distinct windows in the order given."""
    return [Window.parse(s) for s in dict.fromkeys(specs)]


# --- input ----------------------------------------------------------------------------


@dataclass(slots=True)
class Inputs:
    """What the input held: applied events and counted rejects and skips."""

    orders: int = 0
    trades: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    gaps: int = 0
    watermark: float | None = None

    def count(self, outcome: Reject | Skip) -> None:
        """A line that was not applied, by reason."""
        (self.rejected if isinstance(outcome, Reject) else self.skipped)[outcome.reason] += 1

    def saw(self, e: Event) -> None:
        if isinstance(e, Trade):
            self.trades += 1
        else:
            self.orders += 1
        if self.watermark is None or e.ts > self.watermark:
            self.watermark = e.ts

    def saw_many(self, trades: int, orders: int, top_ts: float) -> None:
        """A batch: its trade and order counts and its largest ``ts``."""
        self.trades += trades
        self.orders += orders
        if self.watermark is None or top_ts > self.watermark:
            self.watermark = top_ts

    def merge(self, other: Inputs) -> None:
        """Add ``other``'s counts (its input came after this one's)."""
        self.orders += other.orders
        self.trades += other.trades
        self.rejected.update(other.rejected)
        self.skipped.update(other.skipped)
        self.gaps += other.gaps
        if other.watermark is not None:
            self.saw_many(0, 0, other.watermark)

    def warnings(self, max_groups: int) -> list[str]:
        """What a reader of the document must know: input that was not counted."""
        out: list[str] = []
        over = self.rejected.get("too_many_groups", 0)
        if over:
            out.append(
                f"{over} events rejected as too_many_groups: a grouping reached "
                f"max_groups = {max_groups} distinct groups"
            )
        return out

    def document(self) -> dict[str, Any]:
        return {
            "events": self.orders + self.trades,
            "orders": self.orders,
            "trades": self.trades,
            "rejected": sum(self.rejected.values()),
            "reject_reasons": dict(sorted(self.rejected.items())),
            "skipped": sum(self.skipped.values()),
            "skip_reasons": dict(sorted(self.skipped.items())),
            "gaps": self.gaps,
        }

    def to_state(self) -> dict[str, Any]:
        return {**self.document(), "watermark": self.watermark}

    @classmethod
    def from_state(cls, s: Mapping[str, Any]) -> Inputs:
        return cls(
            orders=int(s["orders"]),
            trades=int(s["trades"]),
            rejected=Counter({str(k): int(v) for k, v in s["reject_reasons"].items()}),
            skipped=Counter({str(k): int(v) for k, v in s["skip_reasons"].items()}),
            gaps=int(s["gaps"]),
            watermark=None if s["watermark"] is None else float(s["watermark"]),
        )


def to_event(
    raw: Any, decoder: Callable[[bytes], Event | Reject | Skip] | None = None
) -> Event | Reject | Skip:
    """An event dict, a typed record or one raw line → an event, reject or skip."""
    if isinstance(raw, Order | Trade):
        return raw
    if isinstance(raw, bytes | bytearray | memoryview):
        if decoder is None:
            raise TypeError("raw lines need a decoder")
        return decoder(bytes(raw))
    if raw is OVERLONG:
        return Reject("over_long", "line longer than the limit")
    if not isinstance(raw, Mapping):
        return Reject("not_object", f"expected an object, got {type(raw).__name__}")
    try:
        check_finite(raw)
    except ValueError as exc:
        return Reject("non_finite", str(exc))
    except RecursionError:
        return Reject("too_deep", "nesting too deep")
    try:
        event: Event = msgspec.convert(raw, Event)
    except msgspec.ValidationError as exc:
        return classify(exc, b"", "event")
    bad = range_rejects([event])
    return bad[0][1] if bad else event


# --- the batch oracle -----------------------------------------------------------------


def _longest_run(flags: Iterable[bool]) -> int:
    return max((len(list(g)) for k, g in itertools.groupby(flags) if k), default=0)


def _max_drawdown(rs: Sequence[float]) -> float:
    """The worst fall of the cumulative R path, each point its exact running total
    rounded once (as the streaming accumulators hold it)."""
    peak = worst = 0.0
    total = CompensatedSum()
    for r in rs:
        total.update(r)
        here = total.result
        peak = max(peak, here)
        worst = max(worst, peak - here)
    return worst


def _mean(xs: Sequence[float]) -> float | None:
    return math.fsum(xs) / len(xs) if xs else None


def batch_sufficient(trades: Sequence[Trade], orders: Sequence[Order], eps: float) -> Sufficient:
    """One group's record, computed directly from its event lists (the oracle)."""
    rs = [t.r for t in trades if t.r is not None]
    risked = [t for t in trades if t.risk_usd is not None]
    scratch = [t.r is not None and abs(t.r) < eps for t in trades]
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
) -> dict[str, Any]:
    """The ``expectancy_v6`` document of ``events`` (dicts, records or raw lines).

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
        keys = _keys(e)
        if any(k not in ks and len(ks) >= max_groups for k, ks in zip(keys, known, strict=True)):
            inputs.rejected["too_many_groups"] += 1
            continue
        for k, ks in zip(keys, known, strict=True):
            ks.add(k)
        good.append(e)
        inputs.saw(e)
    groups: dict[str, dict[str, dict[str, Sufficient]]] = {}
    for w in wins_:
        in_window = _in_window(good, w, inputs.watermark)
        groups[w.spec] = {}
        for d, dim in enumerate(DIMENSIONS):
            by_key: dict[str, tuple[list[Trade], list[Order]]] = defaultdict(lambda: ([], []))
            for e in in_window:
                pair = by_key[_keys(e)[d]]
                if isinstance(e, Trade):
                    pair[0].append(e)
                else:
                    pair[1].append(e)
            n = w.trades
            groups[w.spec][dim] = {
                key: batch_sufficient(ts[-n:] if n else ts, os[-n:] if n else os, scratch_epsilon_r)
                for key, (ts, os) in by_key.items()
            }
    return build_document(
        groups,
        wins_,
        inputs,
        dd_penalty=dd_penalty,
        scratch_epsilon_r=scratch_epsilon_r,
        generated_at=generated_at,
        warnings=inputs.warnings(max_groups),
    )


def build_document(
    groups: Mapping[str, Mapping[str, Mapping[str, Sufficient]]],
    windows: Sequence[Window],
    inputs: Inputs,
    *,
    dd_penalty: float,
    scratch_epsilon_r: float,
    generated_at: float | None,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "generated_at": time.time() if generated_at is None else generated_at,
        "as_of": inputs.watermark,
        "inputs": inputs.document(),
        "warnings": list(warnings),
        "config": {"dd_penalty": dd_penalty, "scratch_epsilon_r": scratch_epsilon_r},
        "windows": {
            w.spec: {
                "lookback": w.lookback,
                **{
                    dim: {
                        key: figures(s, dd_penalty=dd_penalty)
                        for key, s in sorted(groups[w.spec][dim].items())
                    }
                    for dim in DIMENSIONS
                },
            }
            for w in windows
        },
    }


# --- the streaming engine -------------------------------------------------------------


Factory = Callable[[], Any]
Restore = Callable[[Any], Any]


def _window_kinds(window: Window, eps: float) -> tuple[tuple[Factory, Restore], ...]:
    """(factory, restore) for the trades and the orders accumulator of one group
    under ``window``: the plain monoid, or a last-N / time window around it."""

    trade_stats = partial(TradeStats, eps)  # module-level parts: the engine pickles
    kinds: list[tuple[Factory, Restore]] = []
    for inner, restore in (
        (trade_stats, TradeStats.from_state),
        (OrderStats, OrderStats.from_state),
    ):
        if window.trades is not None:
            kinds.append(
                (partial(LastN, window.trades, inner), partial(LastN.from_state, factory=inner))
            )
        elif window.seconds is not None:
            kinds.append(
                (
                    partial(TimeWindow, window.seconds, inner),
                    partial(TimeWindow.from_state, factory=inner),
                )
            )
        else:
            kinds.append((inner, restore))
    return tuple(kinds)


Groups = list[tuple[str, npt.NDArray[np.intp]]]
_EMPTY: Final = Sufficient()
_CELL: Final = attrgetter("symbol", "strategy", "policy", "regime")  # = _keys
_TS: Final = attrgetter("ts")


def _codes(keys: Sequence[Any]) -> tuple[list[Any], npt.NDArray[np.intp]]:
    """The distinct keys in order of first sight, and each position's key number."""
    first = dict.fromkeys(keys)
    index = {k: i for i, k in enumerate(first)}
    return list(first), np.fromiter(map(index.__getitem__, keys), np.intp, len(keys))


def _group_by_dimension(events: Sequence[Event]) -> list[Groups]:
    """Per dimension, each key with the positions of its events, in arrival order.
    Events are numbered by their (symbol, strategy, policy, regime) cell once; each
    dimension's numbering follows from the few distinct cells."""
    number: defaultdict[tuple[str, ...], int] = defaultdict(itertools.count().__next__)
    cell_codes = np.fromiter(map(number.__getitem__, map(_CELL, events)), np.intp, len(events))
    cells = list(number)  # in order of their numbers
    out: list[Groups] = []
    for d in range(len(DIMENSIONS)):
        keys, lut = _codes([c[d] for c in cells])
        if len(keys) == 1:
            out.append([(keys[0], np.arange(len(events)))])
            continue
        codes = lut[cell_codes]
        order = np.argsort(codes, kind="stable")
        bounds = np.cumsum(np.bincount(codes, minlength=len(keys)))[:-1]
        out.append(list(zip(keys, np.split(order, bounds), strict=True)))
    return out


@dataclass(slots=True)
class _Block:
    """One side (trades or orders) of a batch of events, in arrival order, as columns:
    event times, item rows (:func:`~streaming.windows.as_rows` of the items) and the
    positions of each group's events per dimension."""

    is_trade: bool
    events: Sequence[Trade] | Sequence[Order]
    item: Callable[[Any], Any]
    ts: npt.NDArray[np.float64]
    rows: npt.NDArray[np.float64]
    groups: list[Groups]  # per dimension

    @classmethod
    def of(cls, events: Sequence[Event], is_trade: bool) -> _Block:
        if is_trade:
            item: Callable[[Any], Any] = trade_item
            columns: tuple[Any, ...] = trade_columns(events)  # type: ignore[arg-type]
        else:
            item = order_item
            columns = order_columns(events)  # type: ignore[arg-type]
        return cls(
            is_trade,
            events,  # type: ignore[arg-type]
            item,
            np.fromiter(map(_TS, events), np.float64, len(events)),
            np.column_stack(columns).astype(np.float64, copy=False),
            _group_by_dimension(events),
        )

    def items(self, idx: npt.NDArray[np.intp]) -> list[Any]:
        events, item = self.events, self.item
        return [item(events[i]) for i in idx.tolist()]


class _Surface:
    """One window's keyed accumulators: per dimension, trades and orders by key."""

    __slots__ = ("combined", "eps", "kinds", "maps", "timed", "window")

    def __init__(self, window: Window, eps: float) -> None:
        self.window = window
        self.eps = eps
        self.timed = window.seconds is not None
        self.kinds = _window_kinds(window, eps)
        (trades, _), (orders, _) = self.kinds
        self.maps = [(KeyedMap(trades), KeyedMap(orders)) for _ in DIMENSIONS]
        # (dimension, key) -> the last (trade record, order record, combined record)
        self.combined: dict[tuple[str, str], tuple[Sufficient, Sufficient, Sufficient]] = {}

    def update(self, keys: tuple[str, ...], is_trade: bool, item: Any, ts: float) -> None:
        x = (ts, item) if self.timed else item
        side = 0 if is_trade else 1
        for keyed, key in zip(self.maps, keys, strict=True):
            keyed[side].update(key, x)

    def extend(self, block: _Block) -> None:
        """Every event of ``block``, group by group: the same states as ``update``
        on each (up to float rounding: long runs fold with vectorised code)."""
        side = 0 if block.is_trade else 1
        n = self.window.trades
        for keyed, groups in zip(self.maps, block.groups, strict=True):
            for key, idx in groups:
                acc = keyed[side].at(key)
                if n is not None:
                    acc.extend(block.items(idx[-n:]))
                elif self.timed:
                    acc.extend_rows(block.ts[idx], block.rows[idx])
                else:
                    acc.extend_rows(block.rows[idx])

    def forget(self, watermark: float) -> None:
        if self.timed:
            for trades, orders in self.maps:
                for _, acc in (*trades.items(), *orders.items()):
                    acc.forget(watermark)

    def merge(self, other: _Surface) -> None:
        for (trades, orders), (their_trades, their_orders) in zip(
            self.maps, other.maps, strict=True
        ):
            trades.merge(their_trades)
            orders.merge(their_orders)

    def sufficient(self, watermark: float | None) -> dict[str, dict[str, Sufficient]]:
        """Each group's record at ``watermark``. Accumulators keep their reads until
        they change, and so does the combined record, so a read costs little for
        the groups that saw no event since the last one."""
        out: dict[str, dict[str, Sufficient]] = {}
        combined = self.combined
        self._read_many(watermark)
        for dim, (trades, orders) in zip(DIMENSIONS, self.maps, strict=True):
            groups: dict[str, Sufficient] = {}
            for key in sorted(set(trades.keys()) | set(orders.keys())):
                t = self._read(trades.get(key), watermark)
                o = self._read(orders.get(key), watermark)
                if t.trades or o.orders:
                    kept = combined.get((dim, key))
                    if kept is None or kept[0] is not t or kept[1] is not o:
                        kept = combined[dim, key] = (t, o, combine(t, o))
                    groups[key] = kept[2]
            out[dim] = groups
        return out

    def _read_many(self, watermark: float | None) -> None:
        """Make the windows' reads ready side by side, one side at a time: the groups
        that changed fold their windows' rows in a few vectorised passes."""
        if self.timed:
            if watermark is None:  # nothing to read: every group reads empty
                return
            read_many: Callable[[list[Any]], None] = partial(
                TimeWindow.read_many, watermark=watermark
            )
        elif self.window.trades is not None:
            read_many = LastN.read_many
        else:  # the plain monoids keep their own results
            return
        for side in (0, 1):
            read_many([acc for keyed in self.maps for _, acc in keyed[side].items()])

    def _read(self, acc: Any, watermark: float | None) -> Sufficient:
        if acc is None:
            return _EMPTY
        if self.timed:
            if watermark is None:
                return _EMPTY
            result: Sufficient = acc.result(watermark)
        else:
            result = acc.result
        return result

    def to_state(self) -> list[dict[str, Any]]:
        return [{"trades": t.to_state(), "orders": o.to_state()} for t, o in self.maps]

    def restore(self, state: Sequence[Mapping[str, Any]]) -> None:
        (trades_f, trades_r), (orders_f, orders_r) = self.kinds
        self.maps = [
            (
                KeyedMap.from_state(s["trades"], trades_f, trades_r),
                KeyedMap.from_state(s["orders"], orders_f, orders_r),
            )
            for s in state
        ]


class EngineStateError(ValueError):
    """A saved engine state that does not fit this engine (other windows, epsilon)."""


class ExpectancyEngine:
    """The streaming path: feed lines or events, read a document at any moment."""

    __slots__ = (
        "_groups",
        "_surfaces",
        "dd_penalty",
        "decoder",
        "eps",
        "inputs",
        "max_groups",
        "windows",
    )

    def __init__(
        self,
        windows: Iterable[str] = ("all", "50t", "7d"),
        *,
        dd_penalty: float = 1.0,
        scratch_epsilon_r: float = 0.0,
        dedup_horizon: int = DEFAULT_DEDUP_HORIZON,
        max_groups: int = DEFAULT_MAX_GROUPS,
    ) -> None:
        self.windows = parse_windows(windows)
        self.dd_penalty = dd_penalty
        self.eps = scratch_epsilon_r
        self.decoder = make_decoder(dedup_horizon)
        self.inputs = Inputs()
        self.max_groups = max_groups
        # the groups of each grouping (every window's maps hold the same keys)
        self._groups: list[set[str]] = [set() for _ in DIMENSIONS]
        self._surfaces = [_Surface(w, self.eps) for w in self.windows]

    @classmethod
    def from_config(
        cls, cfg: IntelConfig, windows: Iterable[str] | None = None
    ) -> ExpectancyEngine:
        """The configured engine; ``windows`` overrides the configured ones. The score
        window is always included."""
        specs = list(windows) if windows else list(cfg.windows)
        return cls(
            [*specs, cfg.score.window],
            dd_penalty=cfg.dd_penalty,
            scratch_epsilon_r=cfg.scratch_epsilon_r,
            dedup_horizon=cfg.dedup_horizon,
            max_groups=cfg.max_groups,
        )

    # --- input --------------------------------------------------------------------------

    def feed(self, frame: Frame) -> None:
        """One line (without its newline) or an over-long marker."""
        e = to_event(frame, self.decoder.decode)
        if isinstance(e, Reject | Skip):
            self.inputs.count(e)
        else:
            self.apply(e)

    def feed_many(self, frames: Iterable[Frame]) -> None:
        """Many lines: each is applied, rejected or skipped as by :meth:`feed`; the
        lines are decoded in one pass and applied together by :meth:`apply_many`."""
        batch = frames if isinstance(frames, list) else list(frames)
        overlong = batch.count(OVERLONG)
        if overlong:
            self.inputs.rejected["over_long"] += overlong
            batch = [f for f in batch if f is not OVERLONG]
        events, outcomes = self.decoder.decode_many(batch)  # type: ignore[arg-type]
        for outcome in outcomes:
            self.inputs.count(outcome)
        self.apply_many(events)

    def apply_many(self, events: Sequence[Event]) -> None:
        """Valid events in arrival order; equal to :meth:`apply` on each (floats up
        to rounding). Long batches go through numpy, side by side and group by group."""
        if len(events) < BATCH_MIN:
            for e in events:
                self.apply(e)
            return
        blocks = self._blocks(events)
        if not self._admit(blocks):  # a group limit is reached within the batch
            kept = [e for e in events if self._admit_one(_keys(e))]
            if len(kept) < BATCH_MIN:
                for e in kept:
                    self._apply(e)
                return
            blocks = self._blocks(kept)
        trades = sum(len(b.events) for b in blocks if b.is_trade)
        orders = sum(len(b.events) for b in blocks if not b.is_trade)
        self.inputs.saw_many(trades, orders, max(float(b.ts.max()) for b in blocks))
        for block in blocks:
            for surface in self._surfaces:
                surface.extend(block)

    @staticmethod
    def _blocks(events: Sequence[Event]) -> list[_Block]:
        trades: list[Event] = []
        orders: list[Event] = []
        to_trades, to_orders = trades.append, orders.append
        for e in events:
            (to_trades if type(e) is Trade else to_orders)(e)
        return [_Block.of(side, side is trades) for side in (trades, orders) if side]

    def _admit(self, blocks: Sequence[_Block]) -> bool:
        """Take the groups of a batch when none of its groupings outgrows
        ``max_groups`` (False, and nothing taken, when one would)."""
        fresh: list[set[str]] = []
        for d, known in enumerate(self._groups):
            keys = {key for b in blocks for key, _ in b.groups[d]}
            new = keys - known
            if len(known) + len(new) > self.max_groups:
                return False
            fresh.append(new)
        for known, new in zip(self._groups, fresh, strict=True):
            known.update(new)
        return True

    def _admit_one(self, keys: tuple[str, ...]) -> bool:
        """Take one event's groups, or count it as too_many_groups."""
        groups, limit = self._groups, self.max_groups
        for key, known in zip(keys, groups, strict=True):
            if key not in known and len(known) >= limit:
                self.inputs.rejected["too_many_groups"] += 1
                return False
        for key, known in zip(keys, groups, strict=True):
            known.add(key)
        return True

    def apply(self, e: Event) -> None:
        """One valid event (already de-duplicated); rejected as too_many_groups when
        one of its groups would be one more than ``max_groups`` in its grouping."""
        if self._admit_one(_keys(e)):
            self._apply(e)

    def _apply(self, e: Event) -> None:
        self.inputs.saw(e)
        is_trade = isinstance(e, Trade)
        item = trade_item(e) if isinstance(e, Trade) else order_item(e)
        keys = _keys(e)
        for surface in self._surfaces:
            surface.update(keys, is_trade, item, e.ts)

    def note_gaps(self, n: int) -> None:
        self.inputs.gaps += n

    def merge(self, other: ExpectancyEngine) -> None:
        """Absorb another engine's input, which came after this one's (so engines
        over consecutive parts of a log fold in parallel and combine in order).
        Duplicate ids *across* the two are not looked for: the caller makes sure
        the other's first ids are not among this one's recent ids
        (:meth:`recent_ids`), as :func:`~execution.intel.runner.replay` does."""
        if [w.spec for w in other.windows] != [w.spec for w in self.windows] or (
            other.eps != self.eps
        ):
            raise EngineStateError("engines with other windows or scratch epsilon do not merge")
        self.inputs.merge(other.inputs)
        self.decoder.recent.merge(other.decoder.recent)
        for known, their_keys in zip(self._groups, other._groups, strict=True):
            known.update(their_keys)
        for mine, theirs in zip(self._surfaces, other._surfaces, strict=True):
            mine.merge(theirs)

    def mergeable(self, other: ExpectancyEngine) -> bool:
        """Whether :meth:`merge` of ``other`` equals feeding its input after this
        one's as far as group limits go: it rejected no event for a group limit, and
        its groups fit with this one's under ``max_groups`` in every grouping."""
        if other.inputs.rejected.get("too_many_groups", 0):
            return False
        return all(
            len(mine) + len(theirs - mine) <= self.max_groups
            for mine, theirs in zip(self._groups, other._groups, strict=True)
        )

    def forget(self, watermark: float) -> None:
        """Drop time-window events that no document at ``watermark`` or later can
        show: for an engine over an early part of a log that is known to reach at
        least that event time, before its state travels to the merge."""
        for surface in self._surfaces:
            surface.forget(watermark)

    @property
    def recent_ids(self) -> RecentIds:
        """The ids within the de-duplication horizon."""
        return self.decoder.recent

    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__slots__ if name != "decoder"}
        return {**state, "recent": self.decoder.recent}

    def __setstate__(self, state: dict[str, Any]) -> None:
        recent: RecentIds = state.pop("recent")
        for name, value in state.items():
            setattr(self, name, value)
        self.decoder = make_decoder(recent.horizon)
        self.decoder.recent = recent

    # --- output -------------------------------------------------------------------------

    def document(self, generated_at: float | None = None) -> dict[str, Any]:
        wm = self.inputs.watermark
        groups = {s.window.spec: s.sufficient(wm) for s in self._surfaces}
        return build_document(
            groups,
            self.windows,
            self.inputs,
            dd_penalty=self.dd_penalty,
            scratch_epsilon_r=self.eps,
            generated_at=generated_at,
            warnings=self.inputs.warnings(self.max_groups),
        )

    # --- state --------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "windows": [w.spec for w in self.windows],
            "scratch_epsilon_r": self.eps,
            "inputs": self.inputs.to_state(),
            "recent_ids": self.decoder.recent.to_state(),
            "surfaces": [s.to_state() for s in self._surfaces],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`to_state` output of an engine with the same windows
        and scratch epsilon; anything else is an :class:`EngineStateError`."""
        if state.get("version") != STATE_VERSION:
            raise EngineStateError(
                f"engine state version {state.get('version')!r} is not supported"
            )
        specs = [w.spec for w in self.windows]
        if state["windows"] != specs:
            raise EngineStateError(
                f"saved state has windows {state['windows']}, the configuration {specs}"
            )
        if state["scratch_epsilon_r"] != self.eps:
            raise EngineStateError(
                f"saved state has scratch_epsilon_r {state['scratch_epsilon_r']}, "
                f"the configuration {self.eps}"
            )
        self.inputs = Inputs.from_state(state["inputs"])
        self.decoder.recent = RecentIds.from_state(state["recent_ids"])
        for surface, s in zip(self._surfaces, state["surfaces"], strict=True):
            surface.restore(s)
        first = self._surfaces[0]  # every window's maps hold the same groups
        self._groups = [set(t.keys()) | set(o.keys()) for t, o in first.maps]


# --- loaders --------------------------------------------------------------------------


def log_files(path: str | Path, *, rotated: bool = True) -> list[Path]:
    """The files of a canonical log, oldest first: its rotated set (``path.N[.gz]`` …
    ``path.1``, ``path``) when ``rotated``, else the one file. Missing → empty."""
    path = Path(path)
    if rotated:
        return rotated_set(path)
    return [path] if path.exists() else []


def iter_log_frames(
    paths: Iterable[str | Path], *, max_line_bytes: int = 1 << 20
) -> Iterator[tuple[list[Frame], int]]:
    """Frames of complete files, a read at a time, with the bytes read so far."""
    done = 0
    for path in paths:
        end = 0
        for frames, end in iter_frames(path, max_line_bytes=max_line_bytes):
            yield frames, done + end
        done += end


def load_lines(path: str | Path, *, rotated: bool = True) -> list[Frame]:
    """Every line of a canonical log (with its rotated set), for the batch functions:
    bytes per line, :data:`~streaming.framing.OVERLONG` for an over-long one."""
    return [f for frames, _ in iter_log_frames(log_files(path, rotated=rotated)) for f in frames]
