"""The dashboard's headline figures, over the state documents only.

The NAV figures of the nav document, how old a published document is (and
whether it is stale), and the lines an expectancy document counted as rejected or
skipped, by reason. Like the readers (:mod:`dashboard.documents`) and the tables
(:mod:`dashboard.tables`) they never raise: a field that cannot be used is
``None`` and counted in the :class:`~dashboard.documents.Notices` passed in. This
module imports neither the engine nor Streamlit, so it is cheap to test and the
dashboard cannot disturb the executor.

>>> data_age(None, now=0.0).stale
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dashboard.documents import EXPECTANCY, NAV, Notices, Reader, _dict, describe

STALE_AFTER_S = 120.0


@dataclass(frozen=True, slots=True)
class NavFigures:
    nav_usd: float | None
    realized_pnl_usd: float | None
    gross_exposure_usd: float | None
    open_positions: int | None
    ts: float | None


def nav_figures(doc: dict[str, Any] | None, notes: Notices | None = None) -> NavFigures:
    """The NAV metrics of the nav document."""
    r = Reader(NAV, notes)
    return NavFigures(
        r.number(doc, "nav_usd"),
        r.number(doc, "realized_pnl_usd"),
        r.number(doc, "gross_exposure_usd"),
        r.integer(doc, "open_positions"),
        r.timestamp(doc, "ts"),
    )


@dataclass(frozen=True, slots=True)
class Age:
    generated_at: float | None
    as_of: float | None
    age_s: float | None  # now - generated_at
    stale: bool


def data_age(
    doc: dict[str, Any] | None,
    now: float | None = None,
    stale_after: float = STALE_AFTER_S,
    notes: Notices | None = None,
    where: str = "",
) -> Age:
    """How old a published document is; stale when older than ``stale_after`` or
    when it carries no usable time at all."""
    now = time.time() if now is None else now
    r = Reader(where, notes)
    gen = r.timestamp(doc, "generated_at")
    as_of = r.timestamp(doc, "as_of", nullable=True)
    age = None if gen is None else max(0.0, now - gen)
    return Age(gen, as_of, age, age is None or age > stale_after)


def reject_counts(
    expectancy: dict[str, Any] | None, notes: Notices | None = None
) -> dict[str, int]:
    """Rejected and skipped lines by reason."""
    r = Reader(EXPECTANCY, notes)
    inputs = _dict(expectancy).get("inputs")
    if expectancy is not None and "inputs" in expectancy and not isinstance(inputs, dict):
        r.note("inputs", f"not an object: {describe(inputs)}")
    out: dict[str, int] = {}
    for part in ("reject_reasons", "skip_reasons"):
        counts = _dict(inputs).get(part)
        if part in _dict(inputs) and not isinstance(counts, dict):
            r.note(f"inputs.{part}", f"not an object: {describe(counts)}")
        for k, v in _dict(counts).items():
            if isinstance(v, int) and not isinstance(v, bool):
                out[str(k)] = v
            else:
                r.note(f"inputs.{part}.*", f"not an integer: {describe(v)}")
    return dict(sorted(out.items()))
