"""The Intelligence page's charts, in Altair (Vega-Lite; shipped with Streamlit, no
further dependency): time on x in UTC, units in every axis title, a tooltip on
every point."""

from __future__ import annotations

import altair as alt
import pandas as pd

HEIGHT = 220
# every snapshot is a point (small), so that each one can be hovered for its values
POINT = alt.OverlayMarkDef(size=10)
TIME = alt.X("time:T", title="event time (UTC)")


def line(df: pd.DataFrame, y: str, title: str, unit: str, fmt: str = ",.3f") -> alt.Chart:
    """One figure over time."""
    return (
        alt.Chart(df, title=title, height=HEIGHT)
        .mark_line(point=POINT)
        .encode(
            x=TIME,
            y=alt.Y(f"{y}:Q", title=unit),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip(y, format=fmt)],
        )
    )


def underwater(df: pd.DataFrame, y: str, title: str, unit: str) -> alt.Chart:
    """A drawdown (≤ 0) as a filled area under zero."""
    return (
        alt.Chart(df, title=title, height=HEIGHT)
        .mark_area(color="#d62728", opacity=0.5, line=True)
        .encode(
            x=TIME,
            y=alt.Y(f"{y}:Q", title=unit),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), alt.Tooltip(y, format=",.2f")],
        )
    )


def rank(df: pd.DataFrame, title: str) -> alt.Chart:
    """Rank over time, 1 (best) at the top."""
    return (
        alt.Chart(df, title=title, height=HEIGHT)
        .mark_line(point=POINT, interpolate="step-after")
        .encode(
            x=TIME,
            y=alt.Y("rank:Q", title="rank (1 = best)", scale=alt.Scale(reverse=True)),
            tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "rank:Q"],
        )
    )


def stacked(long: pd.DataFrame, score: pd.DataFrame, title: str) -> alt.LayerChart:
    """The score's components stacked (weight × component; they sum to the score),
    with the score drawn over them."""
    bars = (
        alt.Chart(long, height=HEIGHT + 60)
        .mark_area(opacity=0.75)
        .encode(
            x=TIME,
            y=alt.Y("contribution:Q", title="score contribution (−1 … 1)", stack="zero"),
            color=alt.Color("component:N", title="component"),
            tooltip=[
                alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"),
                "component:N",
                alt.Tooltip("contribution:Q", format="+.3f"),
            ],
        )
    )
    total = alt.Chart(score).mark_line(color="black").encode(x=TIME, y="score:Q")
    return alt.layer(bars, total, title=title)


def flags(chart: alt.Chart | alt.LayerChart, marks: pd.DataFrame) -> alt.LayerChart:
    """``chart`` with a vertical rule at each flagged time (``time``, ``flag``)."""
    rules = (
        alt.Chart(marks)
        .mark_rule(color="orange", strokeDash=[4, 3])
        .encode(x="time:T", tooltip=["time:T", "flag:N"])
    )
    return alt.layer(chart, rules)
