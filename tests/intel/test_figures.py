"""The published figures: computed for many groups at once, every float finite or
null with a reason, and the same figures whatever the other groups are."""

from __future__ import annotations

import dataclasses
import math

from hypothesis import given
from hypothesis import strategies as st

from execution.intel.figures import FIGURES, figures
from execution.intel.folds import Sufficient, records_of

EXTREME = st.sampled_from([0.0, 1e15, -1e15, 1e300, -1e300, 5e-324, -5e-324, 1.0, -1.0, 0.5])
COUNT = st.integers(0, 3) | st.sampled_from([10**9])


@st.composite
def sufficient(draw: st.DrawFn) -> Sufficient:
    """Any record, including ones no fold produces (ratios that overflow)."""
    values = {}
    for f in dataclasses.fields(Sufficient):
        if f.type == "int":
            values[f.name] = draw(COUNT)
        elif "None" in str(f.type):
            values[f.name] = draw(st.none() | EXTREME)
        else:
            values[f.name] = draw(EXTREME)
    return Sufficient(**values)


@given(st.lists(sufficient(), min_size=1, max_size=6), st.sampled_from([0.0, 1.0, 1e300]))
def test_every_figure_is_finite_or_null_with_a_reason(groups, penalty):
    """A float figure is finite, or null with its reason in null_reasons; no reason
    is given for a figure that has a value."""
    for row in figures(records_of(groups), dd_penalty=penalty):
        assert list(row) == [*FIGURES, "null_reasons"]
        for name in FIGURES:
            value = row[name]
            if value is None:
                assert name in row["null_reasons"], name
            else:
                assert isinstance(value, int | float) and math.isfinite(value), (name, value)
                assert name not in row["null_reasons"], name


@given(st.lists(sufficient(), min_size=2, max_size=6), st.data())
def test_a_group_gets_the_same_figures_alone_or_among_others(groups, data):
    """Figures are per group: computing one group alone gives its row of the batch."""
    i = data.draw(st.integers(0, len(groups) - 1))
    together = figures(records_of(groups), dd_penalty=1.0)[i]
    alone = figures(records_of([groups[i]]), dd_penalty=1.0)[0]
    assert together == alone


def test_reasons_name_the_missing_input():
    """Each undefined figure says why, in the words of the contract."""
    (row,) = figures(records_of([Sufficient(orders=2, rejects=1)]), dd_penalty=1.0)
    assert row["reject_rate"] == 0.5
    assert row["null_reasons"]["hit_rate"] == "no trades"
    assert row["null_reasons"]["maker_fill_rate"] == "no fills"
    assert row["null_reasons"]["avg_latency_ms"] == "no orders with latency"
    assert row["null_reasons"]["profit_factor"] == "no trades"
    (overflow,) = figures(
        records_of([Sufficient(trades=2, wins=1, losses=1, gross_profit_usd=1e15,
                               gross_loss_usd=5e-324)]),
        dd_penalty=1.0,
    )  # fmt: skip
    assert overflow["profit_factor"] is None
    assert overflow["null_reasons"]["profit_factor"] == "out of range"
