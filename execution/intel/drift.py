"""Change detection on each symbol's R: a two-sided Page–Hinkley test over the
trades a last-N window keeps, run at read time (docs/score.md, "Drift").

Why at read time: the test's reference is the running mean of the trades since the
last alarm, so its state after a block depends on where the block began — there
is no small mergeable summary of it. The last-N window of the trade fold already
keeps each group's last N input rows (``streaming.windows.LastN.held``), so the
test runs over them when a document is published: O(N) per symbol, and the same
result however the log was cut into blocks, parts or checkpoints (the rows are).

The test, over R winsorised at ± ``clip_r`` (so one gap cannot raise an alarm on its
own): with ``x̄_t`` the mean since the last alarm,

* up:   ``U_t = Σ (x_i − x̄_i − δ)``, alarm when ``U_t − min U > λ``;
* down: ``D_t = Σ (x_i − x̄_i + δ)``, alarm when ``max D − D_t > λ``;

after an alarm the statistics restart. The last alarm is reported: the ``ts`` of
the trade that raised it, the direction, and the estimated change point: the
least-squares split of the trades from the restart to the alarm into two means
(:func:`split`; ``trades_since`` counts from it), from which the score can take its
evidence — the history before the change is discounted entirely.

>>> import numpy as np
>>> x = np.r_[np.full(60, 0.5), np.full(40, -0.5)]
>>> d = page_hinkley(np.arange(100.0), x, DriftPolicy(threshold_r=5.0))
>>> d.direction, d.changed_at, d.detected_at_ts > 60
('down', 60, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class DriftPolicy:
    """``window``: the last-N window whose rows are tested; ``delta_r``: the shift
    in mean R tolerated without an alarm (δ); ``threshold_r``: λ, in R;
    ``min_trades``: trades since the last alarm before the next can be raised;
    ``clip_r``: the winsorisation of R (the trade fold's)."""

    window: str = "50t"
    delta_r: float = 0.05
    threshold_r: float = 20.0
    min_trades: int = 10
    clip_r: float = 3.0

    @classmethod
    def of(cls, score: Any, clip_r: float) -> DriftPolicy:
        """The policy of a ``ScoreConfig`` (its ``drift_*`` fields)."""
        return cls(score.drift_window or "", score.drift_delta_r, score.drift_threshold_r,
                   score.drift_min_trades, clip_r)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Drift:
    detected_at_ts: float
    direction: str  # "up" | "down"
    changed_at: int  # index (in the rows tested) of the first trade after the change
    trades_since: int  # trades from the change point to the last one
    mean_r_since: float  # winsorised mean R since the change
    sd_r_since: float | None  # its sample sd (None below two trades)

    def document(self) -> dict[str, object]:
        return {"detected_at_ts": self.detected_at_ts, "direction": self.direction,
                "trades_since": self.trades_since, "mean_r_since": self.mean_r_since}  # fmt: skip


def split(x: list[float], lo: int, hi: int, direction: str) -> int:
    """The least-squares change point of ``x[lo:hi]``: the first index of the later
    part, the split that best explains the segment as two means (one mean shift in
    ``direction``), i.e. the one maximising ``k·(n−k)/n · (m₁ − m₂)²``. The
    extreme of the Page–Hinkley sum itself lies early: its reference is the running
    mean, noisy over the first trades and pulled toward the new level after it.

    >>> split([0.0, 0.0, 0.0, 1.0, 1.0], 0, 5, "up"), split([1.0, 1.0, 0.0], 0, 3, "down")
    (3, 2)
    """
    n = hi - lo
    total = math.fsum(x[lo:hi])
    best, at, left = -1.0, hi - 1, 0.0
    for k in range(1, n):
        left += x[lo + k - 1]
        m1, m2 = left / k, (total - left) / (n - k)
        shift = m2 - m1 if direction == "up" else m1 - m2
        gain = k * (n - k) / n * shift * abs(shift)
        if gain > best:
            best, at = gain, lo + k
    return at


def page_hinkley(ts: Floats, r: Floats, policy: DriftPolicy) -> Drift | None:
    """The last change the test detects in ``r`` (arrival order), or None."""
    x = np.clip(np.asarray(r, dtype=np.float64), -policy.clip_r, policy.clip_r).tolist()
    times = np.asarray(ts, dtype=np.float64).tolist()
    found: tuple[float, str, int] | None = None
    start, n, mean = 0, 0, 0.0
    up = down = up_min = down_max = 0.0
    for i, xi in enumerate(x):
        n += 1
        mean += (xi - mean) / n
        up += xi - mean - policy.delta_r
        down += xi - mean + policy.delta_r
        up_min, down_max = min(up_min, up), max(down_max, down)
        if n < policy.min_trades:
            continue
        if up - up_min > policy.threshold_r:
            found = (times[i], "up", split(x, start, i + 1, "up"))
        elif down_max - down > policy.threshold_r:
            found = (times[i], "down", split(x, start, i + 1, "down"))
        else:
            continue
        start, n, mean = i + 1, 0, 0.0
        up = down = up_min = down_max = 0.0
    if found is None:
        return None
    at_ts, direction, changed = found
    since = x[changed:]
    mean_since = math.fsum(since) / len(since) if since else 0.0
    sd = None
    if len(since) > 1:
        sd = math.sqrt(math.fsum((v - mean_since) ** 2 for v in since) / (len(since) - 1))
    return Drift(at_ts, direction, changed, len(since), mean_since, sd)


def drifts(
    held: Mapping[str, tuple[Floats, Floats]], policy: DriftPolicy
) -> dict[str, Drift | None]:
    """The test over each symbol's kept (ts, R) rows: :func:`page_hinkley` of each,
    run only for the symbols :func:`could_alarm` finds (None for the others)."""
    out: dict[str, Drift | None] = dict.fromkeys(held)
    for sym in could_alarm(held, policy):
        ts, r = held[sym]
        out[sym] = page_hinkley(ts, r, policy)
    return out


def could_alarm(held: Mapping[str, tuple[Floats, Floats]], policy: DriftPolicy) -> list[str]:
    """The symbols whose test may raise an alarm, found for all symbols at once.

    Until its first alarm the test never restarts, so its statistics are plain
    cumulative sums over the rows: computed here as one array per statistic (a row
    per symbol, padded to the longest), with the running mean as a cumulative sum
    over the count instead of the test's incremental update. A symbol whose largest
    statistic stays below λ by more than any difference of rounding between the two
    raises no alarm; every other one is tested exactly, so the result is the test's.

    >>> flat, step = np.zeros(30), np.r_[np.zeros(15), np.full(15, 2.0)]
    >>> could_alarm({"A": (flat, flat), "B": (step, step)}, DriftPolicy(threshold_r=5.0))
    ['B']
    """
    first = max(policy.min_trades, 1)  # rows before an alarm can be raised
    names = [s for s, (_, r) in held.items() if len(r) >= first]
    if not names:
        return []
    rows = [np.asarray(held[s][1], dtype=np.float64) for s in names]
    lengths = np.fromiter(map(len, rows), np.int64, len(rows))
    valid = np.arange(int(lengths.max())) < lengths[:, None]
    x = np.zeros(valid.shape)
    x[valid] = np.clip(np.concatenate(rows), -policy.clip_r, policy.clip_r)
    n = np.arange(1, valid.shape[1] + 1, dtype=np.float64)
    up = np.cumsum(x - np.cumsum(x, axis=1) / n - policy.delta_r, axis=1)
    down = up + 2.0 * policy.delta_r * n  # the same sums with +δ
    rise = up - np.minimum.accumulate(np.minimum(up, 0.0), axis=1)
    fall = np.maximum.accumulate(np.maximum(down, 0.0), axis=1) - down
    stat = np.where(valid, np.maximum(rise, fall), -np.inf)
    stat[:, : first - 1] = -np.inf
    margin = 1e-9 * max(1.0, policy.threshold_r)
    hit = (stat > policy.threshold_r - margin).any(axis=1)
    return [names[i] for i in np.flatnonzero(hit).tolist()]
