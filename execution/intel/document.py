"""The ``expectancy_v6`` document (architecture §5): what the input held
(:class:`Inputs`) and the figures of every group under every window.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from execution.intel.events import Event, Trade
from execution.intel.figures import figures
from execution.intel.folds import Records
from execution.intel.lookback import Window
from streaming.decode import Reject, Skip

SCHEMA: Final = "expectancy_v6"
VERSION: Final = 1
DIMENSIONS: Final = ("symbols", "strategies", "policies", "regimes", "executors")


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
        """The counts of :meth:`to_state`; ValueError for anything but counts (whole,
        non-negative numbers) and a finite watermark or null."""
        wm = s["watermark"]
        if wm is not None and not (type(wm) in (int, float) and math.isfinite(wm)):
            raise ValueError(f"watermark {wm!r} is not a finite number")
        return cls(
            orders=_count(s["orders"]),
            trades=_count(s["trades"]),
            rejected=Counter({str(k): _count(v) for k, v in s["reject_reasons"].items()}),
            skipped=Counter({str(k): _count(v) for k, v in s["skip_reasons"].items()}),
            gaps=_count(s["gaps"]),
            watermark=None if wm is None else float(wm),
        )


def _count(v: Any) -> int:
    if type(v) is not int or v < 0:
        raise ValueError(f"count {v!r} is not a whole number >= 0")
    return v


Groups = Mapping[str, Mapping[str, tuple[Sequence[str], Records]]]


def build_document(
    groups: Groups,
    windows: Sequence[Window],
    inputs: Inputs,
    *,
    dd_penalty: float,
    scratch_epsilon_r: float,
    generated_at: float | None,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The document from, per window and grouping, the groups' names and records."""

    def surface(names: Sequence[str], rec: Records) -> dict[str, Any]:
        return dict(sorted(zip(names, figures(rec, dd_penalty=dd_penalty), strict=True)))

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
                **{dim: surface(*groups[w.spec][dim]) for dim in DIMENSIONS},
            }
            for w in windows
        },
    }
