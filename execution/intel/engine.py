"""The streaming engine: lines or events in, an ``expectancy_v6`` document at any
moment, its whole state as plain data for checkpoints.

An event's path: the decoder (:func:`~execution.intel.events.make_decoder`) turns a
line into a typed event or a counted reject and drops duplicate ids; the engine
numbers its groups (one code per symbol, strategy, policy, regime and executor, admitted
up to ``max_groups`` per grouping), turns each batch into columns once
(:mod:`execution.intel.folds`) and hands one :class:`~streaming.block.Block` per
side (trades, orders) to every window (:mod:`streaming.windows`). A read folds
the windows' tables into records and the document (:mod:`execution.intel.document`).
Saving, restoring and merging engines are in :mod:`execution.intel.engine_state`.

Events fed one at a time wait in a short pending list and enter as one block at
the next batch, read or checkpoint: there is one fold path, the block.

>>> lines = [
...     b'{"event":"trade","ts":1,"symbol":"BTCUSDT","trade_id":"a","pnl_usd":20,"risk_usd":10}',
...     b'{"event":"trade","ts":2,"symbol":"BTCUSDT","trade_id":"b","pnl_usd":-10,"risk_usd":10}',
...     b'not json',
... ]
>>> engine = ExpectancyEngine(windows=["all", "1t"])
>>> engine.feed_many(lines)
>>> doc = engine.document(generated_at=0.0)
>>> btc = doc["windows"]["all"]["symbols"]["BTCUSDT"]
>>> btc["trades"], btc["hit_rate"], btc["avg_r"], btc["max_drawdown_r"], btc["dd_expectancy"]
(2, 0.5, 0.5, 1.0, 0.0)
>>> doc["windows"]["1t"]["symbols"]["BTCUSDT"]["avg_r"], doc["inputs"]["reject_reasons"]
(-1.0, {'not_json': 1})
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from itertools import compress, repeat
from typing import Any, Final, cast

import numpy as np

from execution.config import IntelConfig
from execution.intel.document import DIMENSIONS, Inputs, build_document
from execution.intel.engine_state import EngineStateMixin
from execution.intel.events import (
    UNKNOWN,
    Event,
    Order,
    Trade,
    cell_of,
    make_decoder,
    number_cells,
    to_event,
)
from execution.intel.folds import (
    ORDERS,
    FoldPolicy,
    Records,
    order_columns,
    present,
    records,
    trade_columns,
    trade_fold,
)
from execution.intel.groups import Groups
from execution.intel.lookback import parse_windows
from streaming.block import Block
from streaming.decode import Reject, Skip
from streaming.fold import Bools, Columns, Floats, Ints, Segments, grow
from streaming.framing import OVERLONG, Frame
from streaming.windows import LastN, WindowKind, window

# Events fed one at a time are folded as one block once this many wait.
PENDING_MAX: Final = 4096


class ExpectancyEngine(EngineStateMixin):
    """Feed lines or events, read a document at any moment (module docstring)."""

    __slots__ = (
        "_inputs", "_pending", "_sides", "decoder", "groups", "policy", "source", "windows",
    )  # fmt: skip

    def __init__(
        self,
        windows: Iterable[str] = ("all", "50t", "7d"),
        *,
        dd_penalty: float = 1.0,
        scratch_epsilon_r: float = 0.0,
        dedup_horizon: int = 100_000,
        max_groups: int = 20_000,
        source: str = UNKNOWN,
    ) -> None:
        self.source = source  # the executor of events that name none
        self.policy = FoldPolicy(scratch_epsilon_r, dd_penalty, dedup_horizon, max_groups)
        self.windows = parse_windows(windows)
        self.decoder = make_decoder(dedup_horizon)
        self._inputs = Inputs()
        self.groups = Groups(max_groups)
        self._pending: list[Event] = []
        self._sides = self._fresh_sides()

    def _fresh_sides(self) -> list[tuple[WindowKind, WindowKind]]:
        """Per window, an empty (trades, orders) pair."""
        trades = trade_fold(self.eps)
        return [
            (
                window(trades, trades=w.trades, seconds=w.seconds),
                window(ORDERS, trades=w.trades, seconds=w.seconds),
            )
            for w in self.windows
        ]

    @classmethod
    def from_config(
        cls, cfg: IntelConfig, windows: Iterable[str] | None = None, source: str = UNKNOWN
    ) -> ExpectancyEngine:
        """The configured engine; ``windows`` overrides the configured ones. The score
        window and the score's drift window are always included. ``source`` labels
        the executor of the events that name none (:func:`source_label`)."""
        specs = list(windows) if windows else list(cfg.windows)
        drift = [cfg.score.drift_window] if cfg.score.drift_window else []
        return cls(
            [*specs, cfg.score.window, *drift],
            dd_penalty=cfg.dd_penalty,
            scratch_epsilon_r=cfg.scratch_epsilon_r,
            dedup_horizon=cfg.dedup_horizon,
            max_groups=cfg.max_groups,
            source=source,
        )

    @property
    def inputs(self) -> Inputs:
        """What the input held so far (pending events counted)."""
        self._flush()
        return self._inputs

    @property
    def eps(self) -> float:
        return self.policy.scratch_epsilon_r

    @property
    def max_groups(self) -> int:
        return self.policy.max_groups

    # --- input --------------------------------------------------------------------------

    def feed(self, frame: Frame) -> None:
        """One line (without its newline) or an over-long marker."""
        e = to_event(frame, self.decoder.decode)
        if isinstance(e, Reject | Skip):
            self._inputs.count(e)
        else:
            self.apply(e)

    def feed_many(self, frames: Iterable[Frame]) -> None:
        """Many lines: each is applied, rejected or skipped as by :meth:`feed`."""
        events = self.decode_frames(frames)
        if len(self._pending) + len(events) < PENDING_MAX:
            self._pending += events  # folded with the next block, read or checkpoint
        else:
            self.apply_many(events)

    def apply(self, e: Event) -> None:
        """One valid event (already de-duplicated), folded with the next block."""
        self._pending.append(e)
        if len(self._pending) >= PENDING_MAX:
            self._flush()

    def apply_many(self, events: Sequence[Event]) -> None:
        """Valid events in arrival order, as one block (after any pending ones). An
        event one of whose groups would be one more than ``max_groups`` in its
        grouping is rejected as too_many_groups."""
        if self._pending:
            events = [*self._pending, *events]
            self._pending = []
        if not events:
            return
        distinct, cells = number_cells(events, self.source)
        if not self.groups.fits(distinct):
            admitted = [e for e in events if self.groups.admit(cell_of(e, self.source))]
            self._inputs.rejected["too_many_groups"] += len(events) - len(admitted)
            events = admitted
            if not events:
                return
            distinct, cells = number_cells(events, self.source)
        # a row per grouping, a column per event (absorb_sides lays them out)
        codes = self.groups.luts(distinct)[cells].T
        is_trade = np.fromiter(map(isinstance, events, repeat(Trade)), np.bool_, len(events))
        flags = is_trade.tolist()
        trades = cast(list[Trade], list(compress(events, flags)))
        orders = cast(list[Order], list(compress(events, map(operator.not_, flags))))
        sides = [(is_trade, trade_columns(trades)), (~is_trade, order_columns(orders))]
        top = max(float(c["ts"].max()) for m, c in sides if len(c["ts"]))
        self._inputs.saw_many(len(trades), len(orders), top)
        self.absorb_sides(codes, sides)

    def absorb_sides(self, codes: Ints, sides: Sequence[tuple[Bools, Columns]]) -> None:
        """Hand every window one block per side (trades, orders): ``codes`` holds each
        grouping's group ids of the batch's events (a row per grouping), ``sides``
        each side's mask over the events and its input columns; each event enters
        once per grouping."""
        copies = len(DIMENSIONS)
        for side, (mask, columns) in enumerate(sides):
            if not mask.any():
                continue
            # event by event, each with its groups side by side: a group's rows keep
            # the events' order, and a stretch of event time stays in one stretch of
            # rows (a time window's horizon then cuts few of its chunks)
            side_codes = codes[:, mask].T.ravel()
            rows = {k: np.repeat(v, copies) for k, v in columns.items()}
            block = Block(rows["ts"], rows, side_codes, Segments(side_codes), self.groups.total)
            for pair in self._sides:
                pair[side].absorb(block)

    def _flush(self) -> None:
        if self._pending:
            self.apply_many(())

    def note_gaps(self, n: int) -> None:
        self._inputs.gaps += n

    # --- output -------------------------------------------------------------------------

    def records(self) -> dict[str, dict[str, tuple[list[str], Records]]]:
        """Per window and grouping, the names and records of the groups with events
        in view."""
        self._flush()
        wm = self._inputs.watermark
        trades, orders = trade_fold(self.eps), ORDERS
        out: dict[str, dict[str, tuple[list[str], Records]]] = {}
        total = self.groups.total
        for w, (tw, ow) in zip(self.windows, self._sides, strict=True):
            t = trades.read(grow(trades, tw.read(wm), total))
            o = orders.read(grow(orders, ow.read(wm), total))
            seen = present(t, o)
            per_dim: dict[str, tuple[list[str], Records]] = {}
            for d, dim in enumerate(DIMENSIONS):
                ids = self.groups.rows(d)
                kept = seen[ids]
                names = list(compress(self.groups.names[d], kept.tolist()))
                per_dim[dim] = (names, records(t, o, ids[kept]))
            out[w.spec] = per_dim
        return out

    def held_trades(self, spec: str) -> dict[str, tuple[Floats, Floats]] | None:
        """Per symbol, the (ts, R) of the trades the last-N window ``spec`` keeps, in
        arrival order (trades without R left out); None without such a window."""
        self._flush()
        for w, (tw, _) in zip(self.windows, self._sides, strict=True):
            if w.spec == spec and isinstance(tw, LastN):
                rows, codes = tw.held()
                if not rows:
                    return {}
                symbol = np.full(self.groups.total, -1, dtype=np.int64)
                symbol[self.groups.rows(0)] = np.arange(len(self.groups.names[0]))
                which = symbol[codes]  # the symbol of each row, -1 for other groupings
                keep = (which >= 0) & ~np.isnan(rows["r"])
                seg = Segments(which[keep])
                ts, r = rows["ts"][keep][seg.order], rows["r"][keep][seg.order]
                ends = np.cumsum(seg.lengths)
                return {
                    self.groups.names[0][g]: (ts[e - n : e], r[e - n : e])
                    for g, n, e in zip(seg.groups.tolist(), seg.lengths.tolist(),
                                       ends.tolist(), strict=True)
                }  # fmt: skip
        return None

    def document(self, generated_at: float | None = None) -> dict[str, Any]:
        return build_document(
            self.records(),
            self.windows,
            self._inputs,
            dd_penalty=self.policy.dd_penalty,
            scratch_epsilon_r=self.eps,
            generated_at=generated_at,
            warnings=self._inputs.warnings(self.max_groups),
        )

    # --- input in slices ----------------------------------------------------------------

    def decode_frames(self, frames: Iterable[Frame]) -> list[Event]:
        """The valid, de-duplicated events of ``frames`` in order, not yet applied;
        over-long lines, rejects and skips are counted. :meth:`feed_many` is this
        followed by :meth:`apply_many`: a caller that must act between events (the
        history's bucket closes, :mod:`execution.intel.history`) applies the events
        in slices."""
        batch = frames if isinstance(frames, list) else list(frames)
        overlong = batch.count(OVERLONG)
        if overlong:
            self._inputs.rejected["over_long"] += overlong
            batch = [f for f in batch if f is not OVERLONG]
        events, outcomes = self.decoder.decode_many(batch)  # type: ignore[arg-type]
        for outcome in outcomes:
            self._inputs.count(outcome)
        return events

    def window_records(
        self, specs: Sequence[str], dim: str = "symbols"
    ) -> dict[str, tuple[list[str], Records]]:
        """:meth:`records` of only the windows ``specs`` and the grouping ``dim``
        (what a history snapshot reads, without the cost of the rest)."""
        self._flush()
        wm = self._inputs.watermark
        d = DIMENSIONS.index(dim)
        trades, orders = trade_fold(self.eps), ORDERS
        total = self.groups.total
        out: dict[str, tuple[list[str], Records]] = {}
        for w, (tw, ow) in zip(self.windows, self._sides, strict=True):
            if w.spec not in specs:
                continue
            t = trades.read(grow(trades, tw.read(wm), total))
            o = orders.read(grow(orders, ow.read(wm), total))
            ids = self.groups.rows(d)
            kept = present(t, o)[ids]
            names = list(compress(self.groups.names[d], kept.tolist()))
            out[w.spec] = (names, records(t, o, ids[kept]))
        return out
