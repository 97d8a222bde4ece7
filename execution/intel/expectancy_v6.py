"""Expectancy surfaces v6: per symbol, strategy, router policy and regime, for every
configured window (architecture §4), published as ``expectancy_v6.json`` (§5).

The path of one line, each layer once:

1. :mod:`streaming.follow` (live) or :mod:`execution.intel.loaders` (replay) read
   complete lines; :mod:`streaming.framing` cuts them.
2. :mod:`execution.intel.events` decodes a line into a typed event or a counted
   reject (:mod:`streaming.decode`), within the numeric policy, de-duplicated.
3. :mod:`execution.intel.engine` numbers the event's groups and folds blocks of
   events, as columns, into the windows of :mod:`streaming.windows`.
4. The windows keep grouped tables of the two domain folds of
   :mod:`execution.intel.folds` (built from the kernels of :mod:`streaming.kernels`
   and :mod:`streaming.ordered_kernels` under the protocol of :mod:`streaming.fold`).
5. A read turns the tables into one record per group, :mod:`execution.intel.figures`
   into figures, and :mod:`execution.intel.document` into the document, which
   :mod:`execution.intel.publisher` publishes atomically.

:func:`expectancy_surfaces` is the pure-data entry point: the document of a list of
event dicts, typed records or raw JSONL lines.

>>> lines = [
...     b'{"event":"trade","ts":1,"symbol":"BTCUSDT","trade_id":"a","pnl_usd":20,"risk_usd":10}',
...     b'{"event":"trade","ts":2,"symbol":"BTCUSDT","trade_id":"b","pnl_usd":-10,"risk_usd":10}',
... ]
>>> doc = expectancy_surfaces(lines, windows=["all"], generated_at=0.0)
>>> doc["windows"]["all"]["symbols"]["BTCUSDT"]["avg_r"]
0.5
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from execution.intel.document import DIMENSIONS, SCHEMA, VERSION, Inputs, build_document
from execution.intel.engine import ExpectancyEngine
from execution.intel.engine_state import STATE_VERSION, EngineStateError
from execution.intel.events import to_event
from execution.intel.loaders import iter_log_frames, load_lines, log_files
from execution.intel.lookback import Window, parse_windows
from streaming.decode import Reject, Skip
from streaming.recent_ids import DEFAULT_DEDUP_HORIZON

__all__ = [
    "DIMENSIONS",
    "SCHEMA",
    "STATE_VERSION",
    "VERSION",
    "EngineStateError",
    "ExpectancyEngine",
    "Inputs",
    "Window",
    "build_document",
    "expectancy_surfaces",
    "iter_log_frames",
    "load_lines",
    "log_files",
    "parse_windows",
]


def expectancy_surfaces(
    events: Iterable[Any],
    *,
    windows: Iterable[str] = ("all", "50t", "7d"),
    dd_penalty: float = 1.0,
    scratch_epsilon_r: float = 0.0,
    generated_at: float | None = None,
    dedup_horizon: int = DEFAULT_DEDUP_HORIZON,
    max_groups: int = 20_000,
) -> dict[str, Any]:
    """The ``expectancy_v6`` document of ``events`` (dicts, records or raw lines):
    every input is applied or counted as rejected (with its reason) or skipped."""
    engine = ExpectancyEngine(
        windows,
        dd_penalty=dd_penalty,
        scratch_epsilon_r=scratch_epsilon_r,
        dedup_horizon=dedup_horizon,
        max_groups=max_groups,
    )
    decode = engine.decoder.decode
    for raw in events:
        e = to_event(raw, decode)
        if isinstance(e, Reject | Skip):
            engine.inputs.count(e)
        else:
            engine.apply(e)
    return engine.document(generated_at=generated_at)
